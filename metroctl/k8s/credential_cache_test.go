package k8s

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// testCredential issues a self-signed client certificate valid from t0 for an hour, and
// returns its DER and its key as PEM.
func testCredential(t testing.TB) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "metropolis:owner"},
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func TestCachedCredentialRoundTrip(t *testing.T) {
	der, keyPEM := testCredential(t)
	c, err := NewCachedCredential("AA:BB", der, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCachedCredential(data)
	if err != nil {
		t.Fatalf("parse what Marshal wrote: %v", err)
	}
	if !back.Cert().Equal(c.Cert()) || back.Key != c.Key || back.ClusterCA != "AA:BB" {
		t.Error("the parsed credential differs from the one written")
	}
	if _, err := back.ExecCredential(); err != nil {
		t.Error(err)
	}
}

func TestReusable(t *testing.T) {
	der, keyPEM := testCredential(t)
	c, err := NewCachedCredential("AA:BB", der, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ca   string
		now  time.Time
		// want is a part of the reason it is refused; "" for reusable.
		want string
	}{
		{"fresh", "AA:BB", t0.Add(time.Minute), ""},
		{"just before the refresh margin", "AA:BB", t0.Add(time.Hour - RefreshBefore - time.Second), ""},
		{"within the refresh margin", "AA:BB", t0.Add(time.Hour - RefreshBefore), "within 10m0s"},
		{"expired", "AA:BB", t0.Add(2 * time.Hour), "expires at"},
		{"another cluster", "CC:DD", t0.Add(time.Minute), "another cluster"},
		{"clock behind", "AA:BB", t0.Add(-time.Minute), "valid only from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Reusable(c, tc.ca, tc.now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
}

func TestParseCachedCredentialRefuses(t *testing.T) {
	der, keyPEM := testCredential(t)
	_, otherKey := testCredential(t)
	good, err := NewCachedCredential("AA:BB", der, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCachedCredential("AA:BB", der, otherKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("a certificate with another key: %v", err)
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "not JSON"},
		{"garbage", "\x00\x01secret-looking-bytes", "not JSON"},
		{"no CA", `{"certificate": "x", "key": "y"}`, "no cluster CA"},
		{"no certificate", `{"cluster_ca": "AA", "key": "y"}`, "no PEM certificate"},
		{"no key", `{"cluster_ca": "AA", "certificate": ` + quote(good.Certificate) + `}`, "no PEM private key"},
		{"too large", strings.Repeat(" ", maxCacheFile+1), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCachedCredential([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-looking") {
				t.Errorf("the error echoes the file: %v", err)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }

func FuzzParseCachedCredential(f *testing.F) {
	der, keyPEM := testCredential(f)
	good, err := NewCachedCredential("AA:BB", der, keyPEM)
	if err != nil {
		f.Fatal(err)
	}
	data, _ := good.Marshal()
	f.Add(data)
	f.Add([]byte(`{"cluster_ca": "AA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCachedCredential(data)
		if err != nil {
			return
		}
		// What parses is a usable key pair.
		if c.Cert() == nil {
			t.Fatal("parsed without a certificate")
		}
		if _, err := c.ExecCredential(); err != nil {
			t.Fatal(err)
		}
		_ = Reusable(c, "AA:BB", t0)
	})
}
