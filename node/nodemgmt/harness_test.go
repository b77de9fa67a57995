package nodemgmt

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// serviceDN is where the server under test logs what operators did.
const serviceDN = logtree.DN("nodemgmt")

// patience bounds every wait in these tests: generous, because a loaded machine is slow, and
// never an assertion in itself.
const patience = 10 * time.Second

// testNode is a Server on a loopback gRPC listener, backed by a real log tree and supervisor.
type testNode struct {
	client  apb.NodeManagementClient
	logs    *logtree.LogTree
	sup     *supervisor.Supervisor
	power   *recordingPower
	started time.Time
	// returned counts, per full method name, the streaming handlers that have returned.
	returned map[string]int
	mu       sync.Mutex
}

// handlersReturned says how many handlers of the streaming method (e.g. "GetLogs") returned.
func (tn *testNode) handlersReturned(method string) int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.returned[apb.NodeManagement_ServiceDesc.ServiceName+"/"+method]
}

type testOptions struct {
	root    supervisor.Runnable
	self    Self
	started time.Time
	// unaryDone is called when a unary handler has returned its answer, before gRPC sends it.
	unaryDone func()
	// clientWindow, if set, fixes the client's flow control window (which also stops it from
	// growing), so that a client that does not read soon stops the server.
	clientWindow int32
	// configure, if set, changes the Config before New (e.g. to add an ImageLoader).
	configure func(*Config)
}

// idle is a root runnable that only says it is healthy.
func idle(ctx context.Context) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

func startNode(t *testing.T, o testOptions) *testNode {
	t.Helper()
	if o.root == nil {
		o.root = idle
	}
	if o.started.IsZero() {
		o.started = time.Now()
	}
	if o.unaryDone == nil {
		o.unaryDone = func() {}
	}
	lt := logtree.New()
	ctx, cancel := context.WithCancel(context.Background())
	// A long backoff keeps a failed runnable DEAD for the rest of the test.
	sup := supervisor.New(ctx, o.root, supervisor.WithExistingLogtree(lt), supervisor.WithBackoff(supervisor.Backoff{Initial: time.Hour, Max: time.Hour}))
	t.Cleanup(func() {
		cancel()
		<-sup.Done()
	})

	tn := &testNode{logs: lt, sup: sup, power: newRecordingPower(), started: o.started, returned: map[string]int{}}
	cfg := Config{
		Logs:      lt,
		Runnables: sup,
		Self:      SelfFunc(func() Self { return o.self }),
		Started:   o.started,
		Power:     tn.power,
		Logger:    lt.MustLeveledFor(serviceDN),
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := grpc.NewServer(
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			defer func() {
				tn.mu.Lock()
				tn.returned[strings.TrimPrefix(info.FullMethod, "/")]++
				tn.mu.Unlock()
			}()
			return h(srv, ss)
		}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			defer o.unaryDone()
			return h(ctx, req)
		}),
	)
	srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)

	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if o.clientWindow > 0 {
		dialOpts = append(dialOpts, grpc.WithInitialWindowSize(o.clientWindow), grpc.WithInitialConnWindowSize(o.clientWindow))
	}
	conn, err := grpc.NewClient(lis.Addr().String(), dialOpts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	tn.client = apb.NewNodeManagementClient(conn)
	return tn
}

// recordingPower is a Power that records what was asked of it. Each call blocks until release
// is closed, so a test can show that the caller got its answer without waiting for Power.
type recordingPower struct {
	calls   chan string
	release chan struct{}
	// fail, if set, is returned by every call.
	fail error
}

func newRecordingPower() *recordingPower {
	return &recordingPower{calls: make(chan string, 4), release: make(chan struct{})}
}

func (p *recordingPower) Reboot(ctx context.Context) error   { return p.do(ctx, "reboot") }
func (p *recordingPower) Shutdown(ctx context.Context) error { return p.do(ctx, "shutdown") }

func (p *recordingPower) do(ctx context.Context, what string) error {
	p.calls <- what
	select {
	case <-p.release:
		return p.fail
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logged returns nil once an entry of dn contains substr.
func logged(lt *logtree.LogTree, dn logtree.DN, substr string) error {
	r, err := lt.Read(dn, logtree.WithBacklog(logtree.BacklogAll))
	if err != nil {
		return err
	}
	for _, e := range r.Backlog {
		if strings.Contains(e.String(), substr) {
			return nil
		}
	}
	return errors.New("no entry of " + string(dn) + " contains " + strings.TrimSpace(substr))
}
