package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// leaderLookupTimeout bounds the wait for an endpoint to name the leader: a node without a
// known leader sends nothing, and the next endpoint may know better.
const leaderLookupTimeout = 10 * time.Second

// UnreachableError says that none of a cluster's endpoints could be used, and why for each.
type UnreachableError struct {
	Endpoints []string
	Causes    []error
}

func (e *UnreachableError) Error() string {
	if len(e.Endpoints) == 1 {
		return fmt.Sprintf("cannot reach the cluster at %s: %s", e.Endpoints[0], Reason(e.Causes[0]))
	}
	parts := make([]string, len(e.Endpoints))
	for i := range e.Endpoints {
		parts[i] = fmt.Sprintf("%s: %s", e.Endpoints[i], Reason(e.Causes[i]))
	}
	return "cannot reach the cluster at any of its endpoints: " + strings.Join(parts, "; ")
}

func (e *UnreachableError) Unwrap() []error { return e.Causes }

// Reason turns an error of a gRPC call, in particular gRPC's transport errors, into one
// readable clause without gRPC's framing.
func Reason(err error) string {
	s, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	msg := s.Message()
	if inner, found := strings.CutPrefix(msg, `connection error: desc = "`); found {
		msg = strings.TrimSuffix(inner, `"`)
	}
	msg = strings.TrimPrefix(msg, "transport: Error while dialing: ")
	msg = strings.Replace(msg, "transport: authentication handshake failed: ", "TLS handshake failed: ", 1)
	if s.Code() == codes.DeadlineExceeded {
		if msg == context.DeadlineExceeded.Error() {
			return "timed out"
		}
		return "timed out: " + msg
	}
	return msg
}

func dial(address string, tlsConfig *tls.Config) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	return conn, nil
}

// CAOffer is a CA certificate a cluster endpoint offered on first contact.
type CAOffer struct {
	CA *x509.Certificate
	// Endpoint is where it came from.
	Endpoint string
}

// FetchCA asks the endpoints in turn for the cluster CA without verifying the server: trust on
// first use. The only check is that the answering server's own certificate is a node
// certificate issued by the CA it offers, which catches a confused server (not an attacker,
// who controls both). The caller must have the operator confirm the CA's fingerprint.
func FetchCA(ctx context.Context, endpoints []string) (*CAOffer, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no endpoints to fetch the CA from")
	}
	unreachable := &UnreachableError{}
	for _, ep := range endpoints {
		ca, err := rpc.FetchCACertificate(ctx, ep)
		if err == nil {
			return &CAOffer{CA: ca, Endpoint: ep}, nil
		}
		unreachable.Endpoints = append(unreachable.Endpoints, ep)
		unreachable.Causes = append(unreachable.Causes, err)
	}
	return nil, unreachable
}

// Cluster dials the curator leader of the context's cluster with the owner certificate, for
// Management calls.
func Cluster(ctx context.Context, c *config.Context) (*grpc.ClientConn, error) {
	cert, err := c.OwnerTLSCertificate()
	if err != nil {
		return nil, err
	}
	return leader(ctx, c, cert)
}

// ClusterForEscrow dials the curator leader of the context's cluster with a self-signed
// certificate of the owner key, for AAA.Escrow, which makes TLS prove possession of the key.
func ClusterForEscrow(ctx context.Context, c *config.Context) (*grpc.ClientConn, error) {
	cert, err := rpc.SelfSignedCertificate(c.OwnerKey)
	if err != nil {
		return nil, err
	}
	return leader(ctx, c, &cert)
}

// leader asks the endpoints in turn (anonymously, so that any client certificate works) for
// the curator leader and dials it presenting clientCert. When an endpoint is the leader
// itself, its own address is used rather than the one the leader reports, so that endpoints
// reached through port forwarding keep working.
func leader(ctx context.Context, c *config.Context, clientCert *tls.Certificate) (*grpc.ClientConn, error) {
	if c.CA == nil {
		return nil, fmt.Errorf("context %q pins no cluster CA yet (run metroctl cluster takeownership)", c.Name)
	}
	if len(c.Endpoints) == 0 {
		return nil, fmt.Errorf("context %q has no endpoints (pass --endpoint or run metroctl config set-endpoints)", c.Name)
	}
	unreachable := &UnreachableError{}
	for _, ep := range c.Endpoints {
		address, nodeID, err := findLeader(ctx, ep, c.CA)
		if err != nil {
			unreachable.Endpoints = append(unreachable.Endpoints, ep)
			unreachable.Causes = append(unreachable.Causes, err)
			continue
		}
		tlsConfig := pki.ClientConfigForAnyNode(c.CA, clientCert)
		if nodeID != "" {
			tlsConfig = pki.ClientConfig(c.CA, clientCert, nodeID)
		}
		return dial(address, tlsConfig)
	}
	return nil, unreachable
}

// findLeader returns the address and node ID of the leader as endpoint sees it. A server
// without leader discovery (Unimplemented) is taken to be the leader, with no known node ID.
func findLeader(ctx context.Context, endpoint string, ca *x509.Certificate) (address, nodeID string, err error) {
	conn, err := dial(endpoint, pki.ClientConfigForAnyNode(ca, nil))
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	lookupCtx, cancel := context.WithTimeout(ctx, leaderLookupTimeout)
	defer cancel()
	stream, err := apb.NewDiscoveryClient(conn).GetCurrentLeader(lookupCtx, &apb.GetCurrentLeaderRequest{})
	if err == nil {
		var res *apb.GetCurrentLeaderResponse
		if res, err = stream.Recv(); err == nil {
			if res.LeaderNodeId == res.ThisNodeId {
				return endpoint, res.LeaderNodeId, nil
			}
			return res.LeaderAddress, res.LeaderNodeId, nil
		}
	}
	switch status.Code(err) {
	case codes.Unimplemented:
		return endpoint, "", nil
	case codes.DeadlineExceeded:
		if ctx.Err() == nil {
			return "", "", fmt.Errorf("knows no curator leader after %v (an election may be under way)", leaderLookupTimeout)
		}
	}
	return "", "", err
}

// Node dials the node management service of node nodeID at address (host:port), checking that
// the server is that node, and presents the owner certificate.
func Node(ctx context.Context, c *config.Context, nodeID, address string) (*grpc.ClientConn, error) {
	if c.CA == nil {
		return nil, fmt.Errorf("context %q pins no cluster CA yet (run metroctl cluster takeownership)", c.Name)
	}
	cert, err := c.OwnerTLSCertificate()
	if err != nil {
		return nil, err
	}
	return dial(address, pki.ClientConfig(c.CA, cert, nodeID))
}
