package rpc

import (
	"crypto/ed25519"
	"crypto/tls"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/api/authz"
	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestAuthorizerDecidesEveryCallerAndMethodClass runs every kind of caller against one method
// of each authorization class (open, owner, node) on a real TLS server and checks the outcome:
// the call goes through, or fails with the code that says why.
func TestAuthorizerDecidesEveryCallerAndMethodClass(t *testing.T) {
	ca := newCA(t)
	otherCA := newCA(t)
	serverCert, _ := nodeCert(t, ca, testValidity)
	deletedCert, deletedID := nodeCert(t, ca, testValidity)
	activeCert, _ := nodeCert(t, ca, testValidity)
	_, selfPriv := newKey(t)
	selfSigned, err := SelfSignedCertificate(selfPriv)
	if err != nil {
		t.Fatal(err)
	}

	srv := &recordingServers{ca: ca.Certificate()}
	addr := serve(t, ca.Certificate(), serverCert, refuseNode(deletedID), func(s *grpc.Server) {
		apb.RegisterDiscoveryServer(s, srv)
		apb.RegisterManagementServer(s, srv)
		cpb.RegisterCuratorServer(s, srv)
	})

	callers := []struct {
		name string
		cert *tls.Certificate
	}{
		{"no certificate", nil},
		{"self-signed certificate", &selfSigned},
		{"node certificate", activeCert},
		{"owner certificate", ownerCert(t, ca, testValidity)},
		{"owner certificate from another CA", ownerCert(t, otherCA, testValidity)},
		{"expired owner certificate", expiredOwnerCert(t, ca)},
		{"deleted node's certificate", deletedCert},
	}
	type outcome struct {
		code    codes.Code
		message string // a fragment the error must contain
	}
	allowed := outcome{code: codes.OK}
	noCert := outcome{codes.Unauthenticated, "needs a cluster certificate"}
	// want[caller][method class]
	want := map[string][3]outcome{
		"no certificate":          {allowed, noCert, noCert},
		"self-signed certificate": {allowed, {codes.Unauthenticated, "not signed by cluster CA"}, {codes.Unauthenticated, "not signed by cluster CA"}},
		"node certificate":        {allowed, {codes.PermissionDenied, "PERMISSION_GET_REGISTER_TICKET"}, allowed},
		"owner certificate":       {allowed, allowed, {codes.PermissionDenied, "PERMISSION_NODE_CALL_CURATOR"}},
		"owner certificate from another CA": {allowed,
			{codes.Unauthenticated, "not signed by cluster CA"}, {codes.Unauthenticated, "not signed by cluster CA"}},
		"expired owner certificate": {allowed, {codes.Unauthenticated, "expired"}, {codes.Unauthenticated, "expired"}},
		"deleted node's certificate": {allowed, {codes.PermissionDenied, "PERMISSION_GET_REGISTER_TICKET"},
			{codes.PermissionDenied, deletedID + " is DECOMMISSIONED"}},
	}
	classes := []string{"open method", "owner method", "node method"}

	for _, c := range callers {
		conn := dial(t, addr, ca.Certificate(), c.cert)
		calls := [3]func() error{
			func() error {
				_, err := apb.NewDiscoveryClient(conn).GetCACertificate(callCtx(t), &apb.GetCACertificateRequest{})
				return err
			},
			func() error {
				_, err := apb.NewManagementClient(conn).GetRegisterTicket(callCtx(t), &apb.GetRegisterTicketRequest{})
				return err
			},
			func() error {
				_, err := cpb.NewCuratorClient(conn).UpdateNodeStatus(callCtx(t), &cpb.UpdateNodeStatusRequest{})
				return err
			},
		}
		for i, call := range calls {
			t.Run(c.name+"/"+classes[i], func(t *testing.T) {
				w := want[c.name][i]
				err := call()
				if got := status.Code(err); got != w.code {
					t.Fatalf("code = %v (%v), want %v", got, err, w.code)
				}
				if w.message != "" && !strings.Contains(status.Convert(err).Message(), w.message) {
					t.Errorf("message %q does not mention %q", status.Convert(err).Message(), w.message)
				}
			})
		}
	}
}

// TestPeerCarriesIdentityAndProvenKey checks what a handler learns about its caller: the kind
// and name from a cluster certificate, and the key of any certificate, self-signed included.
func TestPeerCarriesIdentityAndProvenKey(t *testing.T) {
	ca := newCA(t)
	serverCert, _ := nodeCert(t, ca, testValidity)
	node, nodeID := nodeCert(t, ca, testValidity)
	owner := ownerCert(t, ca, testValidity)
	selfPub, selfPriv := newKey(t)
	selfSigned, err := SelfSignedCertificate(selfPriv)
	if err != nil {
		t.Fatal(err)
	}
	srv := &recordingServers{ca: ca.Certificate()}
	addr := serve(t, ca.Certificate(), serverCert, nil, func(s *grpc.Server) { apb.RegisterDiscoveryServer(s, srv) })

	for _, c := range []struct {
		name     string
		cert     *tls.Certificate
		kind     authz.Kind
		peerName string
		key      []byte
		rejected bool
	}{
		{"no certificate: anonymous without key", nil, authz.KindAnonymous, "", nil, false},
		{"self-signed: anonymous with its key", &selfSigned, authz.KindAnonymous, "", selfPub, true},
		{"owner certificate: owner with its key", owner, authz.KindOwner, "owner", owner.Leaf.PublicKey.(ed25519.PublicKey), false},
		{"node certificate: the node with its key", node, authz.KindNode, nodeID, node.Leaf.PublicKey.(ed25519.PublicKey), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr, ca.Certificate(), c.cert)
			if _, err := apb.NewDiscoveryClient(conn).GetCACertificate(callCtx(t), &apb.GetCACertificateRequest{}); err != nil {
				t.Fatalf("open call failed: %v", err)
			}
			p := srv.lastPeer()
			if p.Kind != c.kind || p.Name != c.peerName {
				t.Errorf("peer = %v %q, want %v %q", p.Kind, p.Name, c.kind, c.peerName)
			}
			if string(p.PublicKey) != string(c.key) {
				t.Errorf("peer key = %x, want %x", p.PublicKey, c.key)
			}
			if (p.Rejected != nil) != c.rejected {
				t.Errorf("peer rejected = %v, want rejected: %v", p.Rejected, c.rejected)
			}
		})
	}
}
