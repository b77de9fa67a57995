package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// DialNode connects to the node serving at endpoint ("host:port"), which must present a node
// certificate from ca; if nodeID is not empty, it must be that node's. clientCert is the
// caller's certificate, or nil to call anonymously. Like grpc.NewClient it does not connect
// until the first call.
func DialNode(endpoint, nodeID string, ca *x509.Certificate, clientCert *tls.Certificate, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := checkEndpoint(endpoint); err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, errors.New("dial node: no cluster CA certificate to verify the server with")
	}
	base := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(ca, fixed(clientCert)))), clientKeepalive()}
	if nodeID != "" {
		if err := identity.ValidateNodeID(nodeID); err != nil {
			return nil, fmt.Errorf("dial node: %w", err)
		}
		// The authority becomes the TLS server name, which clientTLSConfig holds the server to.
		base = append(base, grpc.WithAuthority(nodeID))
	}
	return grpc.NewClient("passthrough:///"+endpoint, append(base, opts...)...)
}

// staticScheme is the resolver scheme of DialCluster's connections; the resolver is private to
// each connection (grpc.WithResolvers), so the name only has to be unique within one.
const staticScheme = "metropolis-nodes"

// DialCluster connects to whichever of endpoints answers first (in order, moving on when one
// fails), each of which must present a node certificate from ca. It suits calls any node
// answers, such as Discovery; for the leader-only services use DialCurator.
func DialCluster(endpoints []string, ca *x509.Certificate, clientCert *tls.Certificate, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := checkEndpoints(endpoints); err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, errors.New("dial cluster: no cluster CA certificate to verify servers with")
	}
	r := manual.NewBuilderWithScheme(staticScheme)
	addrs := make([]resolver.Address, len(endpoints))
	for i, ep := range endpoints {
		addrs[i] = resolver.Address{Addr: ep}
	}
	r.InitialState(resolver.State{Addresses: addrs})
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(ca, fixed(clientCert)))), clientKeepalive(),
		grpc.WithResolvers(r),
	}
	return grpc.NewClient(staticScheme+":///cluster", append(base, opts...)...)
}

// DialCurator connects to the curator leader of the cluster whose nodes serve at endpoints
// (any curator's address will do), following the leader as it changes; see the package
// documentation. Calls wait for a leader to be known (grpc.WaitForReady) and unary calls are
// retried while they fail with codes.Unavailable, both until the call's context ends: callers
// must give their calls deadlines.
func DialCurator(endpoints []string, ca *x509.Certificate, clientCert *tls.Certificate, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := checkEndpoints(endpoints); err != nil {
		return nil, err
	}
	return DialCuratorAt(NewCuratorAddresses(endpoints), ca, fixed(clientCert), opts...)
}

// DialCuratorAt is DialCurator with a set of curator addresses that the caller keeps up to date
// while the connection lives (the set also learns every leader address the connection sees),
// and a client certificate that may be renewed meanwhile: a node's connection outlives its
// certificate.
func DialCuratorAt(addrs *CuratorAddresses, ca *x509.Certificate, clientCert *pki.Renewable, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := checkEndpoints(addrs.List()); err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, errors.New("dial curator: no cluster CA certificate to verify servers with")
	}
	leader := &leaderResolverBuilder{addrs: addrs}
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(ca, clientCert))), clientKeepalive(),
		grpc.WithResolvers(leader),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)),
		grpc.WithChainUnaryInterceptor(retryUnavailable(leader.notLeader)),
		grpc.WithChainStreamInterceptor(reportUnavailableStreams(leader.notLeader)),
	}
	return grpc.NewClient(leaderScheme+":///curator", append(base, opts...)...)
}

// fixed holds a certificate that is never renewed (nil: none).
func fixed(cert *tls.Certificate) *pki.Renewable {
	if cert == nil {
		return nil
	}
	return pki.NewRenewable(*cert)
}

func checkEndpoints(endpoints []string) error {
	if len(endpoints) == 0 {
		return errors.New("no endpoints given: need at least one host:port")
	}
	for _, ep := range endpoints {
		if err := checkEndpoint(ep); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpoint accepts "host:port" with a numeric port, so that a mistyped address fails
// here with its name rather than later as a connection error.
func checkEndpoint(ep string) error {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("endpoint %q: want host:port: %w", ep, err)
	}
	if host == "" {
		return fmt.Errorf("endpoint %q: host is empty", ep)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("endpoint %q: port %q is not a number between 1 and 65535", ep, port)
	}
	return nil
}
