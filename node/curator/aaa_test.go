package curator

import (
	"crypto/ed25519"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

// TestEscrow checks the owner's way in: the owner key gets an owner certificate that works on
// the management API; another key, or none, does not.
func TestEscrow(t *testing.T) {
	c := newTestCluster(t, 0)

	resp, err := c.escrow(selfSigned(t, c.ownerKey))
	if err != nil {
		t.Fatalf("escrow with the owner key: %v", err)
	}
	cert, err := pki.ParseCertificateDER(resp.GetEmittedCertificate())
	if err != nil {
		t.Fatalf("emitted certificate: %v", err)
	}
	if name, err := pki.VerifyUser(cert, c.ca, time.Now()); err != nil || name != "owner" {
		t.Fatalf("emitted certificate verifies as user %q, %v; want owner", name, err)
	}
	if !c.ownerKey.Public().(ed25519.PublicKey).Equal(cert.PublicKey) {
		t.Error("the owner certificate is not for the owner key")
	}
	if got := resp.GetFulfilled(); len(got) != 1 || got[0] != apb.EscrowProof_ESCROW_PROOF_OWNER_KEY_TLS {
		t.Errorf("fulfilled = %v, want the owner key proof", got)
	}
	info, err := c.mgmt().GetClusterInfo(callCtx(t), &apb.GetClusterInfoRequest{})
	if err != nil {
		t.Fatalf("management call with the owner certificate: %v", err)
	}
	if string(info.GetCaCertificate()) != string(c.ca.Raw) || len(info.GetClusterAddresses()) != 1 || info.GetClusterId() == "" {
		t.Errorf("cluster info = %v, want the CA, one curator address and an ID", info)
	}

	_, otherKey := genKey(t)
	_, err = c.escrow(selfSigned(t, otherKey))
	expectCode(t, "escrow with another key", err, codes.PermissionDenied, "not the cluster owner's key")

	resp, err = c.escrow(nil)
	if err != nil {
		t.Fatalf("escrow without a certificate: %v", err)
	}
	if got := resp.GetNeeded(); len(got) != 1 || got[0] != apb.EscrowProof_ESCROW_PROOF_OWNER_KEY_TLS || resp.GetEmittedCertificate() != nil {
		t.Errorf("escrow without a certificate = %v, want the owner key proof needed and no certificate", resp)
	}

	stream, err := apb.NewAAAClient(c.dial(selfSigned(t, c.ownerKey))).Escrow(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&apb.EscrowFromClient{Parameters: &apb.EscrowFromClient_Parameters{RequestedIdentity: "root"}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	expectCode(t, "escrow for an unknown identity", err, codes.InvalidArgument, "requested_identity")
}
