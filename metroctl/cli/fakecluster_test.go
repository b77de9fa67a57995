package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// fakeCluster is an in-process stand-in for a one-node Metropolis cluster: it serves
// Discovery, AAA, Management and NodeManagement on one loopback listener with real TLS (a
// node certificate from a real CA), checks the caller's certificate as the real cluster does,
// keeps a node registry in memory, and records every mutating call for the tests to assert.
type fakeCluster struct {
	ca       *pki.CA
	nodeID   string // the serving node's ID, as in its certificate
	ownerPub ed25519.PublicKey
	address  string
	port     int

	mu       sync.Mutex
	nodes    map[string]*apb.Node
	calls    []string
	requests []proto.Message
	// processCalls counts GetProcesses calls (node_introspect_cmd_test.go).
	processCalls int
	// rollout is the latest rollout (nil: none); rolloutBytes the bytes of the last bundle
	// uploaded; rolloutWatch, if set, is what a GetRollout watch sends after the current plan.
	rollout      *apb.Rollout
	rolloutBytes int
	rolloutWatch []*apb.Rollout
	// nodeConfigs and clusterConfig are the stored configurations (fakeconfig_test.go); a
	// node missing from nodeConfigs has the empty one at version 0.
	nodeConfigs   map[string]*apb.StoredNodeConfiguration
	clusterConfig *apb.StoredClusterConfiguration
	// trialCutOff makes a node never report the trials it is given, as one a trial cut off
	// from the cluster; noTrials makes the fake a curator of a release without trials, which
	// ignores try_duration (fakeconfig_test.go).
	trialCutOff bool
	noTrials    bool
}

func newFakeCluster(t *testing.T, ownerPub ed25519.PublicKey) *fakeCluster {
	t.Helper()
	ca, err := pki.NewCA("fake cluster", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nodePub, nodeKey, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, err := ca.IssueNodeCertificate(nodePub, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := pki.TLSCertificate(nodeCert, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCluster{
		ca:       ca,
		nodeID:   identity.NodeID(nodePub),
		ownerPub: ownerPub,
		address:  lis.Addr().String(),
		port:     lis.Addr().(*net.TCPAddr).Port,
		nodes:    make(map[string]*apb.Node),

		nodeConfigs:   make(map[string]*apb.StoredNodeConfiguration),
		clusterConfig: &apb.StoredClusterConfiguration{Configuration: &apb.ClusterConfiguration{}},
	}
	f.addNode(&apb.Node{
		PublicKey: nodePub, State: apb.NodeState_NODE_STATE_UP,
		Roles:  &apb.NodeRoles{ConsensusMember: true, KubernetesController: true},
		Status: &apb.NodeStatus{ExternalAddress: "127.0.0.1", RunningCurator: &apb.NodeStatus_RunningCurator{Port: int32(f.port)}},
		Health: apb.NodeHealth_NODE_HEALTH_HEALTHY, TimeSinceHeartbeat: durationpb.New(2 * time.Second),
	})

	// Client certificates are requested but checked by the handlers, as Escrow must accept a
	// self-signed one.
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{tlsCert},
		ClientAuth:   tls.RequestClientCert,
	})))
	apb.RegisterDiscoveryServer(srv, fakeDiscovery{f: f})
	apb.RegisterAAAServer(srv, fakeAAA{f: f})
	apb.RegisterManagementServer(srv, fakeManagement{f: f})
	apb.RegisterNodeManagementServer(srv, fakeNodeManagement{f: f})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f
}

// addNode adds n to the registry, filling its ID from its key; a nil key gets a new one.
func (f *fakeCluster) addNode(n *apb.Node) string {
	if n.PublicKey == nil {
		pub, _, _ := identity.GenerateKey()
		n.PublicKey = pub
	}
	n.Id = identity.NodeID(n.PublicKey)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[n.Id] = n
	return n.Id
}

func (f *fakeCluster) node(id string) *apb.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.nodes[id]).(*apb.Node)
}

// record notes a call and its request.
func (f *fakeCluster) record(call string, req proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	f.requests = append(f.requests, proto.Clone(req))
}

// recorded returns the calls so far, e.g. "ApproveNode metropolis-...".
func (f *fakeCluster) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// lastRequest returns the request of the last recorded call.
func (f *fakeCluster) lastRequest() proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return nil
	}
	return f.requests[len(f.requests)-1]
}

// checkOwner admits only callers presenting an owner certificate from the cluster CA.
func (f *fakeCluster) checkOwner(ctx context.Context) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return status.Error(codes.Unauthenticated, "not TLS")
	}
	id, err := pki.PeerIdentity(info.State, f.ca.Certificate(), pki.PurposeClient, time.Now())
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "client certificate: %v", err)
	}
	if id.Kind != pki.KindUser || id.Name != "owner" {
		return status.Errorf(codes.PermissionDenied, "%s is not the owner", id)
	}
	return nil
}

type fakeDiscovery struct {
	apb.UnimplementedDiscoveryServer
	f *fakeCluster
}

func (d fakeDiscovery) GetCACertificate(context.Context, *apb.GetCACertificateRequest) (*apb.GetCACertificateResponse, error) {
	return &apb.GetCACertificateResponse{CaCertificate: d.f.ca.Certificate().Raw}, nil
}

func (d fakeDiscovery) GetCurrentLeader(_ *apb.GetCurrentLeaderRequest, srv grpc.ServerStreamingServer[apb.GetCurrentLeaderResponse]) error {
	if err := srv.Send(&apb.GetCurrentLeaderResponse{LeaderNodeId: d.f.nodeID, LeaderAddress: d.f.address, ThisNodeId: d.f.nodeID}); err != nil {
		return err
	}
	<-srv.Context().Done()
	return nil
}

type fakeAAA struct {
	apb.UnimplementedAAAServer
	f *fakeCluster
}

// Escrow issues an owner certificate to a caller whose TLS certificate holds the owner key.
func (a fakeAAA) Escrow(srv grpc.BidiStreamingServer[apb.EscrowFromClient, apb.EscrowFromServer]) error {
	req, err := srv.Recv()
	if err != nil {
		return err
	}
	a.f.record("Escrow", req)
	if req.GetParameters().GetRequestedIdentity() != "owner" {
		return status.Error(codes.InvalidArgument, "requested_identity: want owner")
	}
	p, _ := peer.FromContext(srv.Context())
	info, _ := p.AuthInfo.(credentials.TLSInfo)
	if len(info.State.PeerCertificates) == 0 {
		return srv.Send(&apb.EscrowFromServer{Needed: []apb.EscrowProof{apb.EscrowProof_ESCROW_PROOF_OWNER_KEY_TLS}})
	}
	pub, _ := info.State.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !pub.Equal(a.f.ownerPub) {
		return status.Error(codes.PermissionDenied, "the presented key is not the owner key")
	}
	cert, err := a.f.ca.IssueUserCertificate("owner", pub, time.Hour)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return srv.Send(&apb.EscrowFromServer{
		Fulfilled:          []apb.EscrowProof{apb.EscrowProof_ESCROW_PROOF_OWNER_KEY_TLS},
		EmittedCertificate: cert.Raw,
	})
}

type fakeNodeManagement struct {
	apb.UnimplementedNodeManagementServer
	f *fakeCluster
}

// fakeLogTime is the time of every log entry the fake serves.
var fakeLogTime = time.Date(2025, 11, 23, 21, 10, 19, 123456000, time.UTC)

func (n fakeNodeManagement) GetLogs(req *apb.GetLogsRequest, srv grpc.ServerStreamingServer[apb.GetLogsResponse]) error {
	if err := n.f.checkOwner(srv.Context()); err != nil {
		return err
	}
	n.f.record("GetLogs "+req.Dn, req)
	err := srv.Send(&apb.GetLogsResponse{BacklogEntries: []*apb.LogEntry{
		{Dn: "root.consensus.etcd", Kind: &apb.LogEntry_Leveled{Leveled: &apb.LogEntry_LeveledEntry{
			Lines: []string{"etcd started"}, Timestamp: timestamppb.New(fakeLogTime),
			Severity: apb.LogSeverity_LOG_SEVERITY_INFO, File: "etcd.go", Line: 42,
		}}},
	}})
	if err != nil || req.StreamMode != apb.GetLogsRequest_STREAM_MODE_UNBUFFERED {
		return err
	}
	// A following client gets one new entry; then the node "stops" and ends the stream.
	return srv.Send(&apb.GetLogsResponse{StreamEntries: []*apb.LogEntry{
		{Dn: "root.consensus.etcd", Kind: &apb.LogEntry_Raw{Raw: &apb.LogEntry_RawEntry{
			Data: "raw line", Timestamp: timestamppb.New(fakeLogTime.Add(time.Second)),
		}}},
	}})
}

// runResult is what one metroctl run printed and returned.
type runResult struct {
	stdout, stderr string
	code           int
}

// runMetroctl runs metroctl against configDir with args, feeding stdin, with node management
// pointed at port and log times shown in UTC.
func runMetroctl(t *testing.T, configDir string, port int, stdin string, args ...string) runResult {
	t.Helper()
	return runMetroctlEnv(t, configDir, port, stdin, nil, args...)
}

// runMetroctlEnv is runMetroctl with the environment variables in env.
func runMetroctlEnv(t *testing.T, configDir string, port int, stdin string, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &App{
		Stdin:              bytes.NewBufferString(stdin),
		Stdout:             &out,
		Stderr:             &errOut,
		Getenv:             func(k string) string { return env[k] },
		NodeManagementPort: port,
		Location:           time.UTC,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := app.Run(ctx, append([]string{"--config-dir", configDir}, args...))
	return runResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

func (r runResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}
