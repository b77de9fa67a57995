package core

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// approvalPoll is how often a registered node asks whether it has been approved. Approval is a
// person's decision; a second's delay on top of it is not noticed, and the curator's load from
// waiting nodes stays small.
const approvalPoll = time.Second

// register takes a new node into an existing cluster: it registers with the ticket from its
// parameters, waits to be approved, commits its half of the storage key and gets its node
// certificate. It returns the membership to keep. The cluster half comes from the sealed
// record, so that a node that crashed after committing commits the same half again.
// registerTPM is what register needs of a node's TPM: what it sends at registration, how it
// recovers the challenge's secret and how it quotes its boot.
type registerTPM struct {
	identity *cpb.TPMIdentity
	activate func(*cpb.EncryptedCredential) ([]byte, error)
	quote    quoter
}

func register(ctx context.Context, params *apb.ClusterRegister, nodeKey, joinKey ed25519.PrivateKey, clusterHalf []byte, addr net.IP, t *registerTPM) (*membership, error) {
	logger := supervisor.Logger(ctx)
	ca, err := pki.ParseCertificateDER(params.CaCertificate)
	if err != nil {
		return nil, fmt.Errorf("node parameters: cluster_register.ca_certificate: %w", err)
	}
	selfSigned, err := rpc.SelfSignedCertificate(nodeKey)
	if err != nil {
		return nil, err
	}
	conn, err := rpc.DialCurator(params.ClusterAddresses, ca, &selfSigned)
	if err != nil {
		return nil, fmt.Errorf("dial cluster %v: %w", params.ClusterAddresses, err)
	}
	defer conn.Close()
	cur := cpb.NewCuratorClient(conn)

	nodeID := identity.NodeID(nodeKey.Public().(ed25519.PublicKey))
	logger.Infof("registering as %s with the cluster at %v (CA %s)", nodeID, params.ClusterAddresses, pki.Fingerprint(ca))
	req := &cpb.RegisterNodeRequest{
		RegisterTicket: params.RegisterTicket,
		JoinPublicKey:  joinKey.Public().(ed25519.PublicKey),
	}
	if t != nil {
		req.Tpm = t.identity
	}
	var registered *cpb.RegisterNodeResponse
	if err := retryCall(ctx, "register node "+nodeID, func(ctx context.Context) error {
		registered, err = cur.RegisterNode(ctx, req)
		return err
	}); err != nil {
		return nil, err
	}
	commit := &cpb.CommitNodeRequest{ClusterUnlockKey: clusterHalf}
	if t != nil && registered.GetCredential() != nil {
		// Prove now that this TPM holds the AK, and quote the boot for the commit. A failure is
		// the curator's to judge: it refuses the commit if the cluster requires attestation.
		if commit.ActivationSecret, err = t.activate(registered.GetCredential()); err != nil {
			logger.Errorf("cannot recover the cluster's TPM challenge: %v", err)
		} else if commit.Evidence, err = t.quote(curator.CommitNonce(commit.ActivationSecret)); err != nil {
			logger.Errorf("cannot quote this node's boot: %v", err)
		}
		logger.Infof("registered with TPM endorsement key %x", attestation.EKFingerprint(t.identity.GetEkPublic()))
	}
	logger.Infof("registered; waiting for an operator to approve %s (metroctl node approve %s)", nodeID, nodeID)

	var address string
	if addr != nil {
		address = addr.String()
	}
	commit.ExternalAddress = address
	var res *cpb.CommitNodeResponse
	if err := retryCall(ctx, "commit node "+nodeID, func(ctx context.Context) error {
		res, err = cur.CommitNode(ctx, commit)
		return err
	}); err != nil {
		return nil, err
	}
	logger.Infof("approved and committed: node %s is UP", nodeID)
	return &membership{
		CACertificate:   res.CaCertificate,
		NodeCertificate: res.NodeCertificate,
		Curators:        params.ClusterAddresses,
	}, nil
}

// retryCall calls call until it succeeds or fails for good, each try bounded, saying in the log
// why it waits. Unavailable (no curator reachable, or an election) and FailedPrecondition (not
// approved yet) pass by themselves; anything else (a wrong ticket, a node already committed
// with another key) is final.
func retryCall(ctx context.Context, what string, call func(ctx context.Context) error) error {
	logger := supervisor.Logger(ctx)
	lastSaid := time.Time{}
	for {
		attempt, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := call(attempt)
		cancel()
		if err == nil {
			return nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.FailedPrecondition, codes.DeadlineExceeded:
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(lastSaid) > 30*time.Second {
			logger.Infof("%s: %v (still trying)", what, err)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(approvalPoll):
		}
	}
}

// join proves this node's join key to the cluster on a later start and gets back the cluster's
// half of the storage key. A node that is not UP, or was deleted, gets an error and stays out.
func join(ctx context.Context, ca *x509.Certificate, curators []string, nodeID string, joinKey ed25519.PrivateKey, quote quoter) (*cpb.JoinNodeResponse, error) {
	selfSigned, err := rpc.SelfSignedCertificate(joinKey)
	if err != nil {
		return nil, err
	}
	conn, err := rpc.DialCurator(curators, ca, &selfSigned)
	if err != nil {
		return nil, fmt.Errorf("dial cluster %v: %w", curators, err)
	}
	defer conn.Close()
	cur := cpb.NewCuratorClient(conn)
	req := &cpb.JoinNodeRequest{NodeId: nodeID}
	if quote != nil {
		nonce, err := cur.GetJoinNonce(ctx, &cpb.GetJoinNonceRequest{NodeId: nodeID})
		switch status.Code(err) {
		case codes.OK:
			start := time.Now()
			if req.Evidence, err = quote(nonce.GetNonce()); err != nil {
				// The curator judges a join without a quote.
				supervisor.Logger(ctx).Errorf("cannot quote this node's boot, joining without: %v", err)
			} else {
				supervisor.Logger(ctx).Infof("quoted this node's boot for the join in %s", time.Since(start).Round(time.Millisecond))
			}
		case codes.Unimplemented, codes.FailedPrecondition:
			// A curator of a release without attestation, or a cluster that knows no TPM of
			// this node: join without a quote (the curator decides whether that is enough).
		default:
			return nil, fmt.Errorf("join cluster as %s: get a nonce to quote: %w", nodeID, err)
		}
	}
	res, err := cur.JoinNode(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("join cluster as %s: %w", nodeID, err)
	}
	return res, nil
}

// joinUntilAccepted joins, retrying with growing pauses while the cluster cannot be reached
// or refuses the node, and returns the curator's answer: the cluster's half of the storage
// key and a fresh node certificate. A refused node says why in its log.
func joinUntilAccepted(ctx context.Context, ca *x509.Certificate, curators []string, nodeID string, joinKey ed25519.PrivateKey, quote quoter) (*cpb.JoinNodeResponse, error) {
	logger := supervisor.Logger(ctx)
	pause := time.Second
	for {
		attempt, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := join(attempt, ca, curators, nodeID, joinKey, quote)
		cancel()
		if err == nil {
			logger.Infof("joined the cluster as %s", nodeID)
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		logger.Errorf("%v (trying again in %s)", err, pause)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}
