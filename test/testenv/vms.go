package testenv

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
)

// VMCluster is a QEMU cluster launched for one test, with the owner's metroctl context and a
// Management connection to it. Both the connection and the cluster end with the test.
type VMCluster struct {
	*qemu.Cluster
	// Store is the test's own metroctl configuration, holding the cluster's context.
	Store *config.Store
	// Context is the cluster's metroctl context (endpoints, CA, owner key), for connections
	// of the test's own (connect.Node, further clients).
	Context *config.Context
	// Conn is the owner's connection to the cluster's curator leader; Mgmt speaks Management
	// over it.
	Conn *grpc.ClientConn
	Mgmt apb.ManagementClient
}

// LaunchVMs launches a QEMU cluster as qemu.Launch does and returns once every node is UP and
// healthy, or fails t. Unset Dir, Contexts and Progress become a directory and a metroctl
// configuration of the test's own and the test log. The cluster is destroyed when the test
// ends, also when the launch failed half-way. What a killed earlier run under the same name left
// behind, its VMs and network, is removed first (clearLeftovers).
func LaunchVMs(t *testing.T, o qemu.Options) *VMCluster {
	t.Helper()
	clearLeftovers(t, o.Name)
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "cluster")
	}
	if o.Contexts == nil {
		o.Contexts = config.NewStore(t.TempDir())
	}
	if o.Progress == nil {
		o.Progress = LogWriter(t)
	}
	ctx := context.Background()
	start := time.Now()
	c, err := qemu.Launch(ctx, o)
	if c != nil {
		t.Cleanup(func() {
			keepLogsOnFailure(t, c, o.Name)
			if err := c.Destroy(); err != nil {
				t.Errorf("destroy cluster %s: %v", o.Name, err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("launched cluster %s, %d VMs, in %.0fs", o.Name, o.Nodes, time.Since(start).Seconds())
	vc := &VMCluster{Cluster: c, Store: o.Contexts}
	if vc.Context, err = o.Contexts.LoadContext(o.Name); err != nil {
		t.Fatal(err)
	}
	if vc.Conn, err = connect.Cluster(ctx, vc.Context); err != nil {
		t.Fatal(err)
	}
	// Registered after Destroy, so it runs before it.
	t.Cleanup(func() { vc.Conn.Close() })
	vc.Mgmt = apb.NewManagementClient(vc.Conn)
	return vc
}

// LogWriter sends what is written to it, such as a launcher's progress lines, to t's log.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
