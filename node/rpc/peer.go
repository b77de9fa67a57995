package rpc

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/api/authz"
)

// Peer is the caller of a gRPC method as the Authorizer classified it.
type Peer struct {
	// Kind is what the caller proved to be. Only KindOwner and KindNode hold permissions.
	Kind authz.Kind
	// Name is the node ID for KindNode, the user name (e.g. "owner") for KindOwner, and empty
	// for KindAnonymous.
	Name string
	// PublicKey is the ed25519 key of the certificate the caller presented, whatever that
	// certificate was (self-signed included); the TLS handshake proved the caller holds its
	// private key. Nil if no certificate was presented or its key is not ed25519.
	PublicKey ed25519.PublicKey
	// Certificate is the leaf certificate the caller presented, or nil.
	Certificate *x509.Certificate
	// Rejected says why a presented certificate does not make the caller an owner or a node
	// (another CA, expired, self-signed...). Nil if no certificate was presented or it was
	// accepted.
	Rejected error
}

// String names the caller for logs and error messages.
func (p *Peer) String() string {
	if p.Kind == authz.KindAnonymous {
		if p.Certificate == nil {
			return "anonymous caller without a certificate"
		}
		return "anonymous caller with an unverified certificate"
	}
	return fmt.Sprintf("%v %s", p.Kind, p.Name)
}

// peerKey is the context key of the Peer; a private type keeps other packages from colliding.
type peerKey struct{}

func contextWithPeer(ctx context.Context, p *Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFromContext returns the caller of the current gRPC call. It fails (codes.Internal) only
// if the server was built without the Authorizer's interceptors, which is a bug in the server.
func PeerFromContext(ctx context.Context) (*Peer, error) {
	p, ok := ctx.Value(peerKey{}).(*Peer)
	if !ok || p == nil {
		return nil, status.Error(codes.Internal, "no caller identity in the call context: the server does not run the rpc.Authorizer interceptors")
	}
	return p, nil
}
