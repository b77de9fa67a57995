package curator

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/supervisor"
	"metropolis.dev/metropolis/osbase/tpm/attesttest"
)

// The test cluster: real etcd members (package consensus) and real curators serving gRPC over
// TLS on loopback, each node on its own loopback address (127.0.0.1, .2, ...) so that all
// share one etcd peer port as real nodes do.

// callTimeout bounds one call or one wait of a test. Generous: the machine may be busy with
// other tests, and a failover or an etcd member start takes seconds.
const callTimeout = time.Minute

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testNode is a node's secrets as the node would hold them.
type testNode struct {
	id        string
	ip        string
	key       ed25519.PrivateKey
	joinKey   ed25519.PrivateKey
	unlockKey []byte
	// cert is the node certificate, once the node has committed.
	cert *tls.Certificate
}

func newTestNode(t *testing.T, ip string) *testNode {
	t.Helper()
	pub, key := genKey(t)
	_, join := genKey(t)
	unlock := make([]byte, 32)
	if _, err := rand.Read(unlock); err != nil {
		t.Fatal(err)
	}
	return &testNode{id: identity.NodeID(pub), ip: ip, key: key, joinKey: join, unlockKey: unlock}
}

func (n *testNode) pub() ed25519.PublicKey     { return n.key.Public().(ed25519.PublicKey) }
func (n *testNode) joinPub() ed25519.PublicKey { return n.joinKey.Public().(ed25519.PublicKey) }

func genKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func selfSigned(t *testing.T, key ed25519.PrivateKey) *tls.Certificate {
	t.Helper()
	c, err := rpc.SelfSignedCertificate(key)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func tlsCert(t *testing.T, der []byte, key ed25519.PrivateKey) *tls.Certificate {
	t.Helper()
	cert, err := pki.ParseCertificateDER(der)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// testCurator is one running curator.
type testCurator struct {
	node *testNode
	svc  *Service
	addr string
	stop context.CancelFunc
}

// testCluster is a bootstrapped cluster with a curator on its first node.
type testCluster struct {
	t  *testing.T
	ca *x509.Certificate
	// issuer is the CA with its key, as the first node created it; tests use it only where
	// the loopback test network needs a certificate the curator would not issue.
	issuer   *pki.CA
	ownerKey ed25519.PrivateKey
	first    *testNode
	peerPort int
	// opts are given to every curator started.
	opts     clusterOptions
	curators []*testCurator
	// etcd is the first node's etcd client.
	etcd *clientv3.Client
	// ownerCert is the owner certificate once escrowed, and ownerConn a connection with it
	// through the curators there were when it was made (ownerConnCurators).
	ownerCert         *tls.Certificate
	ownerConn         *grpc.ClientConn
	ownerConnCurators int
}

// clusterOptions are the curator settings a test may change; zero means the default.
type clusterOptions struct {
	heartbeatTimeout   time.Duration
	orphanLearnerGrace time.Duration
	rolloutInterval    time.Duration
	// bundles keeps rollout bundles on every curator's node (nil: none can).
	bundles BundleKeeper
	// attestation is the cluster's attestation policy, and firstMachine the first node's TPM
	// (nil: none).
	attestation  *apb.AttestationPolicy
	firstMachine *attesttest.Machine
}

// newTestCluster bootstraps a cluster the way the first node does: CA, own etcd certificate,
// one-member etcd, Bootstrap, curator.
func newTestCluster(t *testing.T, heartbeatTimeout time.Duration) *testCluster {
	t.Helper()
	return newTestClusterWith(t, clusterOptions{heartbeatTimeout: heartbeatTimeout})
}

// newTestClusterWith is newTestCluster with the given curator settings.
func newTestClusterWith(t *testing.T, opts clusterOptions) *testCluster {
	t.Helper()
	ca, err := NewClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	_, ownerKey := genKey(t)
	c := &testCluster{t: t, ca: ca.Certificate(), issuer: ca, ownerKey: ownerKey, first: newTestNode(t, "127.0.0.1"),
		peerPort: freePort(t, "127.0.0.1"), opts: opts}

	etcdPub, etcdKey := genKey(t)
	etcdCert, err := IssueConsensusCertificate(ca, c.first.id, etcdPub, net.ParseIP(c.first.ip))
	if err != nil {
		t.Fatal(err)
	}
	member := startEtcdMember(t, etcdConfig(t, c.first, ca.Certificate(), etcdCert, etcdKey, c.peerPort, nil))
	cl := member.client(t)
	c.etcd = cl
	req := c.bootstrapRequest(ca)
	req.AttestationPolicy = opts.attestation
	if m := opts.firstMachine; m != nil {
		nonce := []byte("the first node's own nonce......")
		ev, err := m.Attestor.Quote(m.AK, nonce)
		if err != nil {
			t.Fatal(err)
		}
		req.Attestation = &BootstrapAttestation{TPM: tpmIdentity(m), Nonce: nonce, Evidence: EvidenceToProto(ev)}
	}
	res, err := Bootstrap(callCtx(t), cl, req)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	c.first.cert = tlsCert(t, res.NodeCertificate.Raw, c.first.key)
	c.startCurator(c.first, cl)
	c.waitForLeader()
	return c
}

func (c *testCluster) bootstrapRequest(ca *pki.CA) BootstrapRequest {
	return BootstrapRequest{
		CA: ca, OwnerPublicKey: c.ownerKey.Public().(ed25519.PublicKey),
		NodePublicKey: c.first.pub(), JoinPublicKey: c.first.joinPub(),
		ClusterUnlockKey: c.first.unlockKey, Address: c.first.ip,
	}
}

// startCurator runs a curator for node n (which must have its certificate) on etcd client cl.
func (c *testCluster) startCurator(n *testNode, cl *clientv3.Client) *testCurator {
	c.t.Helper()
	addr := net.JoinHostPort(n.ip, strconv.Itoa(freePort(c.t, n.ip)))
	svc, err := New(Config{
		Etcd: cl, NodeCertificate: pki.NewRenewable(*n.cert), ListenAddress: addr, AdvertiseAddress: addr,
		ConsensusPeerPort: c.peerPort, HeartbeatTimeout: c.opts.heartbeatTimeout,
		OrphanLearnerGrace: c.opts.orphanLearnerGrace,
		RolloutInterval:    c.opts.rolloutInterval, Bundles: c.opts.bundles,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	stop, _ := supervisor.TestHarness(c.t, svc.Run)
	tc := &testCurator{node: n, svc: svc, addr: addr, stop: stop}
	c.curators = append(c.curators, tc)
	return tc
}

// leader returns the curator that leads, or nil.
func (c *testCluster) leader() *testCurator {
	for _, tc := range c.curators {
		if tc.svc.leading.Load() != nil {
			return tc
		}
	}
	return nil
}

func (c *testCluster) waitForLeader() *testCurator {
	c.t.Helper()
	deadline := time.Now().Add(callTimeout)
	for time.Now().Before(deadline) {
		if l := c.leader(); l != nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no curator became leader")
	return nil
}

// dial connects to the leader through every curator's address, as cert (nil: anonymous).
func (c *testCluster) dial(cert *tls.Certificate) *grpc.ClientConn {
	c.t.Helper()
	var addrs []string
	for _, tc := range c.curators {
		addrs = append(addrs, tc.addr)
	}
	conn, err := rpc.DialCurator(addrs, c.ca, cert)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// escrow runs AAA.Escrow for the owner identity as cert.
func (c *testCluster) escrow(cert *tls.Certificate) (*apb.EscrowFromServer, error) {
	c.t.Helper()
	stream, err := apb.NewAAAClient(c.dial(cert)).Escrow(callCtx(c.t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&apb.EscrowFromClient{Parameters: &apb.EscrowFromClient_Parameters{RequestedIdentity: "owner"}}); err != nil {
		return nil, err
	}
	return stream.Recv()
}

// owner returns a connection through every curator with an owner certificate, escrowed once.
func (c *testCluster) owner() *grpc.ClientConn {
	c.t.Helper()
	if c.ownerCert == nil {
		resp, err := c.escrow(selfSigned(c.t, c.ownerKey))
		if err != nil {
			c.t.Fatalf("escrow with the owner key: %v", err)
		}
		c.ownerCert = tlsCert(c.t, resp.GetEmittedCertificate(), c.ownerKey)
	}
	if c.ownerConn == nil || c.ownerConnCurators != len(c.curators) {
		c.ownerConn, c.ownerConnCurators = c.dial(c.ownerCert), len(c.curators)
	}
	return c.ownerConn
}

func (c *testCluster) mgmt() apb.ManagementClient { return apb.NewManagementClient(c.owner()) }

func (c *testCluster) ticket() []byte {
	c.t.Helper()
	resp, err := c.mgmt().GetRegisterTicket(callCtx(c.t), &apb.GetRegisterTicketRequest{})
	if err != nil {
		c.t.Fatalf("get register ticket: %v", err)
	}
	return resp.GetTicket()
}

// register calls RegisterNode as node n with ticket.
func (c *testCluster) register(n *testNode, ticket []byte) error {
	_, err := cpb.NewCuratorClient(c.dial(selfSigned(c.t, n.key))).RegisterNode(callCtx(c.t),
		&cpb.RegisterNodeRequest{RegisterTicket: ticket, JoinPublicKey: n.joinPub()})
	return err
}

func (c *testCluster) approve(n *testNode) error {
	_, err := c.mgmt().ApproveNode(callCtx(c.t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: n.id}})
	return err
}

// commit calls CommitNode as node n and keeps the certificate it gets.
func (c *testCluster) commit(n *testNode) (*cpb.CommitNodeResponse, error) {
	resp, err := cpb.NewCuratorClient(c.dial(selfSigned(c.t, n.key))).CommitNode(callCtx(c.t),
		&cpb.CommitNodeRequest{ClusterUnlockKey: n.unlockKey})
	if err == nil {
		n.cert = tlsCert(c.t, resp.GetNodeCertificate(), n.key)
	}
	return resp, err
}

// join calls JoinNode for node n, proving key, and returns the cluster's half of its key.
func (c *testCluster) join(n *testNode, key ed25519.PrivateKey) ([]byte, error) {
	resp, err := c.joinResponse(n, key)
	return resp.GetClusterUnlockKey(), err
}

func (c *testCluster) joinResponse(n *testNode, key ed25519.PrivateKey) (*cpb.JoinNodeResponse, error) {
	return cpb.NewCuratorClient(c.dial(selfSigned(c.t, key))).JoinNode(callCtx(c.t), &cpb.JoinNodeRequest{NodeId: n.id})
}

// addNode takes a new node at ip through register, approve and commit, and has it report its
// address.
func (c *testCluster) addNode(ip string) *testNode {
	c.t.Helper()
	n := newTestNode(c.t, ip)
	if err := c.register(n, c.ticket()); err != nil {
		c.t.Fatalf("register %s: %v", n.id, err)
	}
	if err := c.approve(n); err != nil {
		c.t.Fatalf("approve %s: %v", n.id, err)
	}
	if _, err := c.commit(n); err != nil {
		c.t.Fatalf("commit %s: %v", n.id, err)
	}
	if err := c.reportStatus(n, nil); err != nil {
		c.t.Fatalf("status of %s: %v", n.id, err)
	}
	return n
}

// reportStatus sends node n's status with its address (and a curator, if given).
func (c *testCluster) reportStatus(n *testNode, curator *apb.NodeStatus_RunningCurator) error {
	_, err := cpb.NewCuratorClient(c.dial(n.cert)).UpdateNodeStatus(callCtx(c.t), &cpb.UpdateNodeStatusRequest{
		Status: &apb.NodeStatus{ExternalAddress: n.ip, RunningCurator: curator},
	})
	return err
}

func (c *testCluster) node(id string) *apb.Node {
	c.t.Helper()
	n, err := c.mgmt().GetNode(callCtx(c.t), &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		c.t.Fatalf("get node %s: %v", id, err)
	}
	return n
}

// tpmIdentity is what a node with machine m's TPM sends at registration.
func tpmIdentity(m *attesttest.Machine) *cpb.TPMIdentity {
	return &cpb.TPMIdentity{
		EkPublic: m.EK.Public, EkCertificate: m.EK.Certificate,
		Ak: &cpb.AKParameters{
			Public: m.AKParams.Public, CreateData: m.AKParams.CreateData,
			CreateAttestation: m.AKParams.CreateAttestation, CreateSignature: m.AKParams.CreateSignature,
		},
	}
}
