package cli

import (
	"crypto/ed25519"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/identity"
)

// testEnv is a fake cluster and a metroctl configuration directory with a current context
// "test" pointing at it.
type testEnv struct {
	t        *testing.T
	dir      string
	store    *config.Store
	cluster  *fakeCluster
	ownerKey ed25519.PrivateKey
}

// newTestEnv creates the environment. The context holds the cluster's owner key, and, with
// owned, the pinned CA and an owner certificate as after takeownership.
func newTestEnv(t *testing.T, owned bool) *testEnv {
	t.Helper()
	pub, key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, dir: t.TempDir(), ownerKey: key, cluster: newFakeCluster(t, pub)}
	e.store = config.NewStore(e.dir)
	if err := e.store.CreateContext("test", key, []string{e.cluster.address}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.UseContext("test"); err != nil {
		t.Fatal(err)
	}
	if owned {
		if err := e.store.SetCA("test", e.cluster.ca.Certificate()); err != nil {
			t.Fatal(err)
		}
		cert, err := e.cluster.ca.IssueUserCertificate("owner", pub, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetOwnerCertificate("test", cert); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// run runs metroctl in this environment.
func (e *testEnv) run(stdin string, args ...string) runResult {
	e.t.Helper()
	return runMetroctl(e.t, e.dir, e.cluster.port, stdin, args...)
}

// context loads the test context as stored now.
func (e *testEnv) context() *config.Context {
	e.t.Helper()
	c, err := e.store.LoadContext("test")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
