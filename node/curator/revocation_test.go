package curator

import (
	"context"
	"crypto/x509"
	"math/big"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

func TestNextRevocations(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	live, dead := now.Add(time.Hour).Unix(), now.Add(-time.Hour).Unix()
	entry := func(serial byte, notAfter int64, node string) *cpb.RevocationListRecord_Entry {
		return &cpb.RevocationListRecord_Entry{Serial: []byte{serial}, NotAfterUnix: notAfter, NodeId: node, RevokedAtUnix: now.Unix()}
	}
	issued := func(serial byte, notAfter int64) *cpb.IssuedCertificate {
		return &cpb.IssuedCertificate{Serial: []byte{serial}, NotAfterUnix: notAfter}
	}
	for _, tc := range []struct {
		name        string
		cur         *cpb.RevocationListRecord
		issued      []*cpb.IssuedCertificate
		want        *cpb.RevocationListRecord
		wantChanged bool
	}{
		{"a first list, empty", nil, nil, &cpb.RevocationListRecord{Number: 1}, true},
		{"a node's certificates are added", &cpb.RevocationListRecord{Number: 3, Revoked: []*cpb.RevocationListRecord_Entry{entry(1, live, "a")}},
			[]*cpb.IssuedCertificate{issued(2, live), issued(3, live)},
			&cpb.RevocationListRecord{Number: 4, Revoked: []*cpb.RevocationListRecord_Entry{entry(1, live, "a"), entry(2, live, "b"), entry(3, live, "b")}}, true},
		{"expired certificates are left out and dropped", &cpb.RevocationListRecord{Number: 3, Revoked: []*cpb.RevocationListRecord_Entry{entry(1, dead, "a")}},
			[]*cpb.IssuedCertificate{issued(2, dead)},
			&cpb.RevocationListRecord{Number: 4}, true},
		{"a certificate already listed is listed once", &cpb.RevocationListRecord{Number: 3, Revoked: []*cpb.RevocationListRecord_Entry{entry(1, live, "b")}},
			[]*cpb.IssuedCertificate{issued(1, live)},
			&cpb.RevocationListRecord{Number: 3, Revoked: []*cpb.RevocationListRecord_Entry{entry(1, live, "b")}}, false},
		{"nothing to revoke changes nothing", &cpb.RevocationListRecord{Number: 3}, nil, &cpb.RevocationListRecord{Number: 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := nextRevocations(tc.cur, tc.issued, "b", now)
			if changed != tc.wantChanged || !proto.Equal(got, tc.want) {
				t.Errorf("got %v (changed %v), want %v (changed %v)", got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}

// TestConsensusCertificatesAreRevoked follows one node's etcd certificates: each is recorded
// when issued and comes with the cluster's revocation list; removing the node's consensus role
// puts them on the list, and so does deleting the node for the ones issued after a new grant.
// The list is what a member's node follows (WatchRevocationList) and is signed by the CA.
func TestConsensusCertificatesAreRevoked(t *testing.T) {
	c := newTestCluster(t, 0)
	n := c.addNode("127.0.0.2")
	node := cpb.NewCuratorClient(c.dial(n.cert))
	yes, no := true, false

	watched := make(chan *x509.RevocationList, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = WatchRevocationList(ctx, c.etcd, func(der []byte) error {
			crl, err := pki.VerifyRevocationList(der, c.ca)
			if err != nil {
				t.Errorf("the watched list does not verify: %v", err)
				return err
			}
			watched <- crl
			return nil
		})
	}()
	// waitForList waits until the followed list names exactly serials, in any order.
	waitForList := func(serials ...*big.Int) {
		t.Helper()
		slices.SortFunc(serials, func(a, b *big.Int) int { return a.Cmp(b) })
		deadline := time.After(30 * time.Second)
		for {
			select {
			case crl := <-watched:
				var got []*big.Int
				for _, e := range crl.RevokedCertificateEntries {
					got = append(got, e.SerialNumber)
				}
				slices.SortFunc(got, func(a, b *big.Int) int { return a.Cmp(b) })
				if slices.EqualFunc(got, serials, func(a, b *big.Int) bool { return a.Cmp(b) == 0 }) {
					return
				}
			case <-deadline:
				t.Fatalf("the revocation list never named exactly %v", serials)
			}
		}
	}
	issue := func() *x509.Certificate {
		t.Helper()
		pub, _ := genKey(t)
		res, err := node.IssueCertificate(callCtx(t), &cpb.IssueCertificateRequest{Kind: cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER, PublicKey: pub})
		if err != nil {
			t.Fatalf("etcd certificate: %v", err)
		}
		if _, err := pki.VerifyRevocationList(res.GetRevocationList(), c.ca); err != nil {
			t.Fatalf("the revocation list given with the certificate: %v", err)
		}
		cert, err := pki.ParseCertificateDER(res.GetCertificate())
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	setConsensus := func(v *bool) {
		t.Helper()
		if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: n.id, ConsensusMember: v}); err != nil {
			t.Fatalf("set consensus_member %v: %v", *v, err)
		}
	}

	waitForList() // the bootstrap's empty list
	setConsensus(&yes)
	first, renewed := issue(), issue()
	setConsensus(&no)
	waitForList(first.SerialNumber, renewed.SerialNumber)
	if _, err := node.IssueCertificate(callCtx(t), &cpb.IssueCertificateRequest{Kind: cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER, PublicKey: n.pub()}); err == nil {
		t.Fatal("an etcd certificate was issued to a node without the consensus role")
	}

	setConsensus(&yes)
	again := issue()
	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: n.id, SkipSafetyChecks: true}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitForList(first.SerialNumber, renewed.SerialNumber, again.SerialNumber)
	if left, err := issuedCertificates(callCtx(t), c.etcd, n.id); err != nil || len(left) != 0 {
		t.Errorf("after deletion %d certificates are still recorded as issued (%v)", len(left), err)
	}
}
