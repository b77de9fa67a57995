package rpc

import (
	"context"
	"crypto/x509"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/api/authz"
	"metropolis.dev/metropolis/node/pki"
)

// NodeChecker tells whether the node nodeID, which presented a valid node certificate, is
// still a member in good standing. It returns nil to let the call through. An error that is a
// gRPC status (e.g. codes.Unavailable when the registry cannot be read) is returned to the
// caller as is; any other error becomes codes.PermissionDenied naming the node.
//
// It exists because certificates are not revoked: a deleted node's certificate stays valid
// until it expires, and only the registry knows the node is gone.
type NodeChecker func(ctx context.Context, nodeID string) error

// Authorizer authenticates and authorizes every call of a gRPC server; see the package
// documentation for the steps. Create it with NewAuthorizer.
type Authorizer struct {
	ca        *x509.Certificate
	checkNode NodeChecker
}

// NewAuthorizer returns an Authorizer that verifies callers against the cluster CA ca and asks
// checkNode about node callers. checkNode may be nil for a server that has no registry to ask
// (then any node with a valid certificate passes).
func NewAuthorizer(ca *x509.Certificate, checkNode NodeChecker) *Authorizer {
	return &Authorizer{ca: ca, checkNode: checkNode}
}

// ServerOptions returns what a Metropolis gRPC server needs: TLS with serverCert
// (ServerTLSConfig), errors bounded to MaxErrorMessage, and the Authorizer's interceptors,
// which run before any interceptor the caller adds after these options.
func ServerOptions(ca *x509.Certificate, serverCert *pki.Renewable, checkNode NodeChecker) []grpc.ServerOption {
	a := NewAuthorizer(ca, checkNode)
	opts := append(serverKeepalive(), boundedErrors()...)
	return append(opts,
		grpc.Creds(credentials.NewTLS(ServerTLSConfig(serverCert))),
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamInterceptor()),
	)
}

// UnaryInterceptor authorizes unary calls.
func (a *Authorizer) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authorizes streaming calls.
func (a *Authorizer) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, StreamWithContext(ctx, ss))
	}
}

// authorize decides one call and returns the call's context with the caller in it.
func (a *Authorizer) authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "call has no transport peer")
	}
	tlsInfo, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "connection is not TLS: Metropolis servers accept only TLS callers")
	}
	p := identify(tlsInfo.State, a.ca, time.Now())
	if err := authz.Decide(fullMethod, p.Kind); err != nil {
		if status.Code(err) == codes.Unauthenticated && p.Rejected != nil {
			return nil, status.Errorf(codes.Unauthenticated, "%s needs a cluster certificate; the presented certificate was not accepted: %v", fullMethod, p.Rejected)
		}
		return nil, err
	}
	if p.Kind == authz.KindNode && a.checkNode != nil && !isOpen(fullMethod) {
		if err := a.checkNode(ctx, p.Name); err != nil {
			if _, isStatus := status.FromError(err); isStatus {
				return nil, err
			}
			return nil, status.Errorf(codes.PermissionDenied, "node %s may not call %s: %v", p.Name, fullMethod, err)
		}
	}
	return contextWithPeer(ctx, p), nil
}

// isOpen reports whether fullMethod allows unauthenticated callers. Such methods check their
// caller's key themselves, so the node registry is not consulted for them (Decide has already
// rejected unknown methods).
func isOpen(fullMethod string) bool {
	a, err := authz.ForMethod(fullMethod)
	return err == nil && a.GetAllowUnauthenticated()
}

// StreamWithContext returns ss with its context replaced by ctx, for stream interceptors that
// add to the context (as the Authorizer adds the caller).
func StreamWithContext(ctx context.Context, ss grpc.ServerStream) grpc.ServerStream {
	return &contextStream{ServerStream: ss, ctx: ctx}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
