package clusterbench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// simNode is a simulated node: a real node record (registered, approved and committed) and a
// real node certificate, held by the benchmark process. It does nothing a node does but
// heartbeat.
type simNode struct {
	id   string
	cert tls.Certificate
}

// enroller takes simulated nodes into a cluster the way a new node and its operator do:
// Curator.RegisterNode with the cluster's ticket over a connection with a self-signed
// certificate of a fresh node key, Management.ApproveNode as the owner, then
// Curator.CommitNode for the node certificate.
type enroller struct {
	leader Leader
	ca     *x509.Certificate
	ticket []byte
	mgmt   apb.ManagementClient
}

// callTimeout bounds each call of an enrolment: etcd answers in milliseconds, so half a minute
// means the cluster is stuck, not slow.
const callTimeout = 30 * time.Second

func (e *enroller) enrol(ctx context.Context) (*simNode, error) {
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		return nil, err
	}
	joinPub, _, err := identity.GenerateKey()
	if err != nil {
		return nil, err
	}
	id := identity.NodeID(pub)
	selfSigned, err := rpc.SelfSignedCertificate(priv)
	if err != nil {
		return nil, err
	}
	conn, err := rpc.DialNode(e.leader.Endpoint, e.leader.NodeID, e.ca, &selfSigned)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cur := cpb.NewCuratorClient(conn)

	if err := retryUnavailable(ctx, func(ctx context.Context) error {
		_, err := cur.RegisterNode(ctx, &cpb.RegisterNodeRequest{RegisterTicket: e.ticket, JoinPublicKey: joinPub})
		return err
	}); err != nil {
		return nil, fmt.Errorf("register simulated node %s: %w", id, err)
	}
	if err := retryUnavailable(ctx, func(ctx context.Context) error {
		_, err := e.mgmt.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_PublicKey{PublicKey: pub}})
		return err
	}); err != nil {
		return nil, fmt.Errorf("approve simulated node %s: %w", id, err)
	}
	unlock := make([]byte, 32)
	if _, err := rand.Read(unlock); err != nil {
		return nil, err
	}
	var res *cpb.CommitNodeResponse
	if err := retryUnavailable(ctx, func(ctx context.Context) error {
		res, err = cur.CommitNode(ctx, &cpb.CommitNodeRequest{ClusterUnlockKey: unlock})
		return err
	}); err != nil {
		return nil, fmt.Errorf("commit simulated node %s: %w", id, err)
	}
	cert, err := pki.ParseCertificateDER(res.NodeCertificate)
	if err != nil {
		return nil, fmt.Errorf("simulated node %s: node_certificate: %w", id, err)
	}
	tlsCert, err := pki.TLSCertificate(cert, priv)
	if err != nil {
		return nil, fmt.Errorf("simulated node %s: %w", id, err)
	}
	return &simNode{id: id, cert: tlsCert}, nil
}

// retryUnavailable calls call, each time with callTimeout, until it succeeds, fails with
// anything but codes.Unavailable, or has failed five times: a busy etcd may refuse a write
// now and then, which is no reason to abort a benchmark.
func retryUnavailable(ctx context.Context, call func(ctx context.Context) error) error {
	var err error
	for range 5 {
		attempt, cancel := context.WithTimeout(ctx, callTimeout)
		err = call(attempt)
		cancel()
		if status.Code(err) != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return err
}

// heartbeat connects to the leader as the simulated node, over a connection of its own,
// opens the Heartbeat stream and sends one heartbeat every interval, the first after phase,
// recording each round trip (send to answer) in rec. started is called once: after the
// first answer, or when the node failed before it. It returns when ctx ends (nil) or the
// stream fails.
func (n *simNode) heartbeat(ctx context.Context, leader Leader, ca *x509.Certificate, interval, phase time.Duration, rec *Recorder, started func()) error {
	startedOnce := func() {
		if started != nil {
			started()
			started = nil
		}
	}
	defer startedOnce()
	conn, err := rpc.DialNode(leader.Endpoint, leader.NodeID, ca, &n.cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := cpb.NewCuratorClient(conn).Heartbeat(ctx)
	if err != nil {
		return n.streamFailed(ctx, "open heartbeat stream", err)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(phase):
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		sent := time.Now()
		if err := stream.Send(&cpb.HeartbeatUpdateRequest{}); err != nil {
			return n.streamFailed(ctx, "send heartbeat", err)
		}
		if _, err := stream.Recv(); err != nil {
			return n.streamFailed(ctx, "heartbeat answer", err)
		}
		rec.Add(time.Since(sent))
		startedOnce()
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// streamFailed says why the stream ended, unless it ended because the benchmark did.
func (n *simNode) streamFailed(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("simulated node %s: %s: %w", n.id, step, err)
}
