package curator

import (
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
)

// aaaServer serves AAA on the leader.
type aaaServer struct {
	apb.UnimplementedAAAServer
}

// Escrow issues an owner certificate to a caller whose TLS certificate is for the owner key.
// The exchange has one round today; see aaa.proto.
func (a *aaaServer) Escrow(srv apb.AAA_EscrowServer) error {
	l, err := leaderFromContext(srv.Context())
	if err != nil {
		return err
	}
	p, err := rpc.PeerFromContext(srv.Context())
	if err != nil {
		return err
	}
	first, err := srv.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "escrow: the client sent no parameters")
	}
	if err != nil {
		return err
	}
	params := first.GetParameters()
	if params == nil {
		return status.Error(codes.InvalidArgument, "escrow: parameters missing from the first message")
	}
	if params.GetRequestedIdentity() != ownerUserName {
		return status.Errorf(codes.InvalidArgument, "escrow: parameters.requested_identity %.32q is not a known identity (want %q)",
			params.GetRequestedIdentity(), ownerUserName)
	}
	proof := apb.EscrowProof_ESCROW_PROOF_OWNER_KEY_TLS
	if p.PublicKey == nil {
		// Nothing to check on this connection: tell the client what it has to bring.
		return srv.Send(&apb.EscrowFromServer{Needed: []apb.EscrowProof{proof}})
	}
	if subtle.ConstantTimeCompare(p.PublicKey, l.cluster.GetOwnerPublicKey()) != 1 {
		return status.Error(codes.PermissionDenied, "escrow: the key of the presented TLS certificate is not the cluster owner's key")
	}
	cert, err := l.ca.IssueUserCertificate(ownerUserName, ed25519.PublicKey(p.PublicKey), OwnerCertificateValidity)
	if err != nil {
		return status.Errorf(codes.Internal, "escrow: %v", err)
	}
	return srv.Send(&apb.EscrowFromServer{Fulfilled: []apb.EscrowProof{proof}, EmittedCertificate: cert.Raw})
}
