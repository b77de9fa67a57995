package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultDir(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"explicit variable wins", map[string]string{"METROCTL_CONFIG_DIR": "/m", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/m", false},
		{"XDG config home next", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/metroctl", false},
		{"home directory last", map[string]string{"HOME": "/h"}, "/h/.config/metroctl", false},
		{"nothing set is an error", map[string]string{}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DefaultDir(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("DefaultDir = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestContextLifecycle(t *testing.T) {
	s := NewStore(t.TempDir())
	key := testKey(t)

	if err := s.CreateContext("prod", key, []string{"10.0.0.1:7835", "10.0.0.2"}); err != nil {
		t.Fatalf("create prod: %v", err)
	}
	if err := s.CreateContext("lab", testKey(t), nil); err != nil {
		t.Fatalf("create lab: %v", err)
	}
	if err := s.CreateContext("prod", testKey(t), nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("creating prod twice: got %v, want an 'already exists' error", err)
	}
	names, err := s.ContextNames()
	if err != nil || !reflect.DeepEqual(names, []string{"lab", "prod"}) {
		t.Errorf("ContextNames = %v, %v; want [lab prod]", names, err)
	}

	c, err := s.LoadContext("prod")
	if err != nil {
		t.Fatalf("load prod: %v", err)
	}
	if !c.OwnerKey.Equal(key) {
		t.Error("loaded owner key differs from the one given")
	}
	if want := []string{"10.0.0.1:7835", "10.0.0.2:7835"}; !reflect.DeepEqual(c.Endpoints, want) {
		t.Errorf("endpoints = %v, want %v (default port added)", c.Endpoints, want)
	}
	if c.CA != nil || c.OwnerCertificate != nil {
		t.Error("a new context has a CA or owner certificate")
	}
	st, err := os.Stat(filepath.Join(s.Dir(), "contexts", "prod", "owner-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("owner key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}

	if _, err := s.Resolve(""); err == nil || !strings.Contains(err.Error(), "no current context") {
		t.Errorf("Resolve without current context: got %v, want 'no current context'", err)
	}
	if err := s.UseContext("nope"); err == nil || !strings.Contains(err.Error(), "known: lab, prod") {
		t.Errorf("UseContext(nope): got %v, want an error listing the known contexts", err)
	}
	if err := s.UseContext("prod"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Resolve(""); err != nil || c.Name != "prod" {
		t.Errorf("Resolve(current) = %v, %v; want prod", c, err)
	}
	if c, err := s.Resolve("lab"); err != nil || c.Name != "lab" {
		t.Errorf("Resolve(lab) = %v, %v; want lab even though prod is current", c, err)
	}

	if err := s.SetEndpoints("lab", []string{"[fd00::1]:1234"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.LoadContext("lab"); c == nil || !reflect.DeepEqual(c.Endpoints, []string{"[fd00::1]:1234"}) {
		t.Errorf("endpoints after SetEndpoints: %v", c)
	}

	if err := s.DeleteContext("prod"); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentContext(); err != nil || cur != "" {
		t.Errorf("current context after deleting it = %q, %v; want none", cur, err)
	}
	if names, _ := s.ContextNames(); !reflect.DeepEqual(names, []string{"lab"}) {
		t.Errorf("contexts after delete = %v, want [lab]", names)
	}
	if err := s.DeleteContext("prod"); err == nil {
		t.Error("deleting prod twice succeeded")
	}
	assertNoTemporaryFiles(t, s.Dir())
}

func TestCreateContextRejectsBadInput(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, tc := range []struct {
		name, ctx string
		endpoints []string
		wantErr   string
	}{
		{"name with a slash", "a/b", nil, "context name"},
		{"name starting with a dot", ".hidden", nil, "context name"},
		{"endpoint with a bad port", "ok", []string{"host:99999"}, "port"},
		{"duplicate endpoints", "ok", []string{"h:1", "h:1"}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateContext(tc.ctx, testKey(t), tc.endpoints)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
	if names, _ := s.ContextNames(); len(names) != 0 {
		t.Errorf("failed creates left contexts behind: %v", names)
	}
	assertNoTemporaryFiles(t, s.Dir())
}

func TestPinCAAndOwnerCertificate(t *testing.T) {
	s := NewStore(t.TempDir())
	key := testKey(t)
	if err := s.CreateContext("c", key, nil); err != nil {
		t.Fatal(err)
	}
	ca, other := testCA(t), testCA(t)

	if err := s.SetOwnerCertificate("c", ownerCert(t, ca, key)); err == nil || !strings.Contains(err.Error(), "pins no CA") {
		t.Errorf("owner certificate before CA: got %v, want 'pins no CA'", err)
	}
	if err := s.SetCA("c", ca.Certificate()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCA("c", ca.Certificate()); err != nil {
		t.Errorf("pinning the same CA again: %v, want no error", err)
	}
	if err := s.SetCA("c", other.Certificate()); err == nil || !strings.Contains(err.Error(), "already pins") {
		t.Errorf("pinning another CA: got %v, want 'already pins'", err)
	}
	if err := s.SetOwnerCertificate("c", ownerCert(t, other, key)); err == nil || !strings.Contains(err.Error(), "not signed by the pinned CA") {
		t.Errorf("certificate from another CA: got %v, want refusal", err)
	}
	if err := s.SetOwnerCertificate("c", ownerCert(t, ca, testKey(t))); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("certificate for another key: got %v, want refusal", err)
	}
	cert := ownerCert(t, ca, key)
	if err := s.SetOwnerCertificate("c", cert); err != nil {
		t.Fatal(err)
	}
	c, err := s.LoadContext("c")
	if err != nil {
		t.Fatal(err)
	}
	if !c.CA.Equal(ca.Certificate()) || !c.OwnerCertificate.Equal(cert) {
		t.Error("loaded CA or owner certificate differs from what was stored")
	}
	if _, err := c.OwnerTLSCertificate(); err != nil {
		t.Errorf("OwnerTLSCertificate: %v", err)
	}
	assertNoTemporaryFiles(t, s.Dir())
}

// assertNoTemporaryFiles fails if an atomic write or create left a temporary file behind.
func assertNoTemporaryFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
}
