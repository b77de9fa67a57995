package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/rpc"
)

// UnreachableError says that none of a cluster's endpoints could be used, and why: for each
// endpoint, or one reason for all of them.
type UnreachableError struct {
	Endpoints []string
	Causes    []error
}

func (e *UnreachableError) Error() string {
	if len(e.Causes) == 1 {
		return fmt.Sprintf("cannot reach the cluster at %s: %s", strings.Join(e.Endpoints, ", "), Reason(e.Causes[0]))
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

// Cluster connects to the curator leader of the context's cluster with the owner certificate,
// for Management calls. The connection follows the leader as it changes (rpc.DialCurator), so
// it suits long-lived clients; it connects lazily, and its calls wait for a leader until
// their deadline. Short-lived commands use WaitForLeader to fail at once on an unreachable
// cluster.
func Cluster(ctx context.Context, c *config.Context) (*grpc.ClientConn, error) {
	cert, err := c.OwnerTLSCertificate()
	if err != nil {
		return nil, err
	}
	return leader(c, cert)
}

// ClusterForEscrow connects to the curator leader of the context's cluster with a self-signed
// certificate of the owner key, for AAA.Escrow, which makes TLS prove possession of the key.
func ClusterForEscrow(ctx context.Context, c *config.Context) (*grpc.ClientConn, error) {
	cert, err := rpc.SelfSignedCertificate(c.OwnerKey)
	if err != nil {
		return nil, err
	}
	return leader(c, &cert)
}

// WaitForLeader waits until conn, from Cluster, reaches the leader, and otherwise says why it
// cannot, as an UnreachableError naming the context's endpoints.
func WaitForLeader(ctx context.Context, c *config.Context, conn *grpc.ClientConn) error {
	if err := rpc.WaitForLeader(ctx, conn); err != nil {
		return &UnreachableError{Endpoints: c.Endpoints, Causes: []error{err}}
	}
	return nil
}

func leader(c *config.Context, clientCert *tls.Certificate) (*grpc.ClientConn, error) {
	if c.CA == nil {
		return nil, fmt.Errorf("context %q pins no cluster CA yet (run metroctl cluster takeownership)", c.Name)
	}
	if len(c.Endpoints) == 0 {
		return nil, fmt.Errorf("context %q has no endpoints (pass --endpoint or run metroctl config set-endpoints)", c.Name)
	}
	return rpc.DialCurator(c.Endpoints, c.CA, clientCert)
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
	return rpc.DialNode(address, nodeID, c.CA, cert)
}
