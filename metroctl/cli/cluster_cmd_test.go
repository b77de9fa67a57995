package cli

import (
	"net"
	"slices"
	"strings"
	"testing"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

func TestTakeOwnership(t *testing.T) {
	for _, tc := range []struct {
		name string
		// flags and stdin given to takeownership; "RIGHT" in a flag is replaced by the
		// cluster CA's fingerprint.
		flags []string
		stdin string
		// ok: the CA is pinned and the owner certificate stored.
		ok         bool
		wantOutput string
	}{
		{"the right --accept-ca fingerprint", []string{"--accept-ca", "RIGHT"}, "", true, "matches the fingerprint"},
		{"the right fingerprint in lowercase without colons", []string{"--accept-ca", "right-compact"}, "", true, "Took ownership"},
		{"a wrong --accept-ca fingerprint", []string{"--accept-ca", strings.Repeat("AB:", 31) + "AB"}, "", false, "but --accept-ca expects AB:AB"},
		{"a malformed --accept-ca fingerprint", []string{"--accept-ca", "abc"}, "", false, "want the 32-byte SHA-256"},
		{"--yes", []string{"--yes"}, "", true, "Trusting it (--yes)"},
		{"the operator answers yes", nil, "yes\n", true, "Trust this CA"},
		{"the operator answers no", nil, "n\n", false, "CA not trusted"},
		{"no input to answer from", nil, "", false, "input closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, false)
			fp := pki.Fingerprint(e.cluster.ca.Certificate())
			args := []string{"cluster", "takeownership"}
			for _, f := range tc.flags {
				f = strings.Replace(f, "RIGHT", fp, 1)
				f = strings.Replace(f, "right-compact", strings.ToLower(strings.ReplaceAll(fp, ":", "")), 1)
				args = append(args, f)
			}
			r := e.run(tc.stdin, args...)
			if !strings.Contains(r.stdout+r.stderr, tc.wantOutput) {
				t.Errorf("output lacks %q:\n%v", tc.wantOutput, r)
			}
			c := e.context()
			if !tc.ok {
				if r.code == 0 || c.CA != nil || c.OwnerCertificate != nil {
					t.Errorf("takeownership should have failed and stored nothing:\n%v", r)
				}
				if slices.Contains(e.cluster.recorded(), "Escrow") {
					t.Error("Escrow was called although the CA was not trusted")
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("takeownership failed:\n%v", r)
			}
			if c.CA == nil || !c.CA.Equal(e.cluster.ca.Certificate()) {
				t.Error("the cluster CA was not pinned")
			}
			if c.OwnerCertificate == nil {
				t.Fatal("no owner certificate stored")
			}
			if name, err := pki.VerifyUser(c.OwnerCertificate, e.cluster.ca.Certificate(), c.OwnerCertificate.NotBefore.Add(1)); err != nil || name != "owner" {
				t.Errorf("stored owner certificate: %q, %v", name, err)
			}
			if !strings.Contains(r.stdout, fp) && !strings.Contains(strings.Join(tc.flags, " "), "accept-ca") {
				t.Errorf("the CA fingerprint %s was not shown:\n%v", fp, r)
			}
			// The certificate works: a Management call succeeds with it.
			if r := e.run("", "node", "list"); r.code != 0 {
				t.Errorf("node list after takeownership failed:\n%v", r)
			}
		})
	}
}

func TestTakeOwnershipWithAnotherKeyIsDenied(t *testing.T) {
	e := newTestEnv(t, false)
	_, otherKey, _ := identity.GenerateKey()
	if err := e.store.CreateContext("intruder", otherKey, []string{e.cluster.address}); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "--context", "intruder", "cluster", "takeownership", "--yes")
	if r.code == 0 || !strings.Contains(r.stderr, "take ownership: permission denied: the presented key is not the owner key") {
		t.Errorf("want a permission denied error:\n%v", r)
	}
	if c, _ := e.store.LoadContext("intruder"); c.OwnerCertificate != nil {
		t.Error("an owner certificate was stored")
	}
}

func TestTakeOwnershipTwiceKeepsTheCertificate(t *testing.T) {
	e := newTestEnv(t, true)
	before := e.context().OwnerCertificate
	r := e.run("", "cluster", "takeownership")
	if r.code != 0 || !strings.Contains(r.stdout, "already holds an owner certificate") {
		t.Errorf("want success saying the certificate is already there:\n%v", r)
	}
	if !e.context().OwnerCertificate.Equal(before) {
		t.Error("the owner certificate changed")
	}
	r = e.run("", "cluster", "takeownership", "--accept-ca", strings.Repeat("00", 32))
	if r.code == 0 || !strings.Contains(r.stderr, "already pins CA") {
		t.Errorf("a pinned CA that differs from --accept-ca must be an error:\n%v", r)
	}
}

func TestTakeOwnershipEndpointFlagIsStored(t *testing.T) {
	e := newTestEnv(t, false)
	if err := e.store.SetEndpoints("test", []string{"127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "cluster", "takeownership", "--yes", "--endpoint", e.cluster.address)
	if r.code != 0 {
		t.Fatalf("takeownership failed:\n%v", r)
	}
	if got := e.context().Endpoints; !slices.Equal(got, []string{e.cluster.address}) {
		t.Errorf("endpoints = %v, want [%s]", got, e.cluster.address)
	}
}

func TestUnreachableClusterNamesTheAddress(t *testing.T) {
	e := newTestEnv(t, true)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	if err := e.store.SetEndpoints("test", []string{dead}); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "node", "list")
	want := "list nodes: cannot reach the cluster at " + dead + ": "
	if r.code == 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("want %q ... connection refused:\n%v", want, r)
	}
}

func TestClusterInfo(t *testing.T) {
	e := newTestEnv(t, true)
	r := e.run("", "cluster", "info")
	if r.code != 0 {
		t.Fatalf("cluster info failed:\n%v", r)
	}
	for _, want := range []string{"Cluster ID:        fake-cluster", "CA fingerprint:    " + pki.Fingerprint(e.cluster.ca.Certificate()), "Curator addresses: " + e.cluster.address} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.run("", "cluster", "info", "-o", "yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "clusterId: fake-cluster") {
		t.Errorf("YAML output lacks the cluster ID:\n%v", r)
	}
}
