package cli

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/pki"
)

// TestMetricsCredential: the command writes a key only its owner reads, a metrics certificate
// for that key and the cluster CA, in the files Prometheus' tls_config names.
func TestMetricsCredential(t *testing.T) {
	e := newTestEnv(t, true)
	dir := filepath.Join(t.TempDir(), "prom")
	r := e.run("", "metrics", "credential", dir, "--name", "prom-1", "--validity", "2h")
	if r.code != 0 {
		t.Fatalf("metrics credential failed:\n%v", r)
	}
	for _, want := range []string{`"prom-1"`, "cert_file: " + filepath.Join(dir, metricsCertFile)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	st, err := os.Stat(filepath.Join(dir, metricsKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", st, err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, metricsCertFile), filepath.Join(dir, metricsKeyFile))
	if err != nil {
		t.Fatalf("the certificate and key are not a pair: %v", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, metricsCAFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCertificatePEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := pki.VerifyMetrics(pair.Leaf, ca, time.Now()); err != nil || name != "prom-1" {
		t.Errorf("VerifyMetrics = %q, %v; want prom-1", name, err)
	}
	if life := time.Until(pair.Leaf.NotAfter); life > 2*time.Hour || life < time.Hour {
		t.Errorf("certificate lives %v more, want about 2h", life)
	}

	r = e.run("", "metrics", "credential", dir, "--validity", "1.5s")
	if r.code == 0 || !strings.Contains(r.stderr, "--validity 1.5s: give a positive whole number of seconds") {
		t.Errorf("a fractional validity: want a refusal naming the flag:\n%v", r)
	}
}
