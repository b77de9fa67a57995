package nodemgmt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// threeChildren starts a healthy child, one that finishes and one that fails.
func threeChildren(ctx context.Context) error {
	for name, r := range map[string]supervisor.Runnable{
		"serving": idle,
		"finished": func(ctx context.Context) error {
			supervisor.Signal(ctx, supervisor.SignalDone)
			return nil
		},
		"failing": func(ctx context.Context) error {
			return errors.New("disk on fire")
		},
	} {
		if err := supervisor.Run(ctx, name, r); err != nil {
			return err
		}
	}
	return idle(ctx)
}

func TestGetStatusReportsIdentityUptimeAndRunnables(t *testing.T) {
	self := Self{
		NodeID: "metropolis-0123456789abcdef",
		State:  apb.NodeState_NODE_STATE_UP,
		Roles:  &apb.NodeRoles{ConsensusMember: true, KubernetesWorker: true},
	}
	tn := startNode(t, testOptions{root: threeChildren, self: self, started: time.Now().Add(-time.Hour)})

	want := []*apb.Runnable{
		{Dn: "root", State: apb.RunnableState_RUNNABLE_STATE_HEALTHY},
		{Dn: "root.failing", State: apb.RunnableState_RUNNABLE_STATE_DEAD, LastError: "disk on fire"},
		{Dn: "root.finished", State: apb.RunnableState_RUNNABLE_STATE_DONE},
		{Dn: "root.serving", State: apb.RunnableState_RUNNABLE_STATE_HEALTHY},
	}
	var res *apb.GetStatusResponse
	eventually.Pass(t, patience, "runnables settle", func(ctx context.Context) error {
		var err error
		res, err = tn.client.GetStatus(ctx, &apb.GetStatusRequest{})
		if err != nil {
			return err
		}
		if !slices.EqualFunc(res.Runnables, want, func(a, b *apb.Runnable) bool {
			return a.Dn == b.Dn && a.State == b.State && strings.Contains(a.LastError, b.LastError) && (a.LastError == "") == (b.LastError == "")
		}) {
			return fmt.Errorf("runnables %v, want %v", res.Runnables, want)
		}
		return nil
	})
	if res.NodeId != self.NodeID {
		t.Errorf("node_id %q, want %q", res.NodeId, self.NodeID)
	}
	if res.State != self.State {
		t.Errorf("state %v, want %v", res.State, self.State)
	}
	if !proto.Equal(res.Roles, self.Roles) {
		t.Errorf("roles %v, want %v", res.Roles, self.Roles)
	}
	if up := res.Uptime.AsDuration(); up < time.Hour {
		t.Errorf("uptime %v, want at least the hour since Started", up)
	}
}

func TestGetStatusOfNodeWithoutRolesReportsEmptyRoles(t *testing.T) {
	tn := startNode(t, testOptions{self: Self{NodeID: "metropolis-0123456789abcdef"}})
	res, err := tn.client.GetStatus(context.Background(), &apb.GetStatusRequest{})
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	if !proto.Equal(res.Roles, &apb.NodeRoles{}) {
		t.Errorf("roles %v, want present and empty", res.Roles)
	}
	if res.State != apb.NodeState_NODE_STATE_UNSPECIFIED {
		t.Errorf("state %v, want UNSPECIFIED before the node heard from the curator", res.State)
	}
}

func TestRunnablesAreInTreeOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []logtree.DN
		want []logtree.DN
	}{
		{"parent before child", []logtree.DN{"root.a.b", "root.a", "root"}, []logtree.DN{"root", "root.a", "root.a.b"}},
		{"a subtree stays together before a sibling sharing its prefix", []logtree.DN{"root.a-b", "root.a.c", "root.a"}, []logtree.DN{"root.a", "root.a.c", "root.a-b"}},
		{"siblings by name", []logtree.DN{"root.b", "root.a"}, []logtree.DN{"root.a", "root.b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Clone(tc.in)
			slices.SortFunc(got, compareTreeOrder)
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSupervisorStatesMapToAPIStates(t *testing.T) {
	for _, tc := range []struct {
		in   supervisor.State
		want apb.RunnableState
	}{
		{supervisor.StateNew, apb.RunnableState_RUNNABLE_STATE_NEW},
		{supervisor.StateHealthy, apb.RunnableState_RUNNABLE_STATE_HEALTHY},
		{supervisor.StateDone, apb.RunnableState_RUNNABLE_STATE_DONE},
		{supervisor.StateDead, apb.RunnableState_RUNNABLE_STATE_DEAD},
		{supervisor.StateCanceling, apb.RunnableState_RUNNABLE_STATE_CANCELED},
		{supervisor.State(99), apb.RunnableState_RUNNABLE_STATE_UNSPECIFIED},
	} {
		if got := runnableState(tc.in); got != tc.want {
			t.Errorf("runnableState(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNewNamesMissingConfig(t *testing.T) {
	_, err := New(Config{Logs: logtree.New()})
	if err == nil {
		t.Fatal("New accepted an incomplete config")
	}
	for _, field := range []string{"Runnables", "Self", "Started", "Power", "Logger"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name missing %s", err, field)
		}
	}
	if strings.Contains(err.Error(), "Logs") {
		t.Errorf("error %q names Logs, which was set", err)
	}
}
