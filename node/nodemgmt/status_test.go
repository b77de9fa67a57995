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

// roleStatus answers as fixed, or (hang) waits until the caller's deadline, as a member or an
// apiserver that does not answer would.
type roleStatus struct {
	consensus *apb.ConsensusMemberStatus
	node      *apb.KubernetesNodeStatus
	hang      bool
}

func (r roleStatus) ConsensusStatus(ctx context.Context) *apb.ConsensusMemberStatus {
	if r.hang {
		<-ctx.Done()
		return &apb.ConsensusMemberStatus{MemberId: "1", Error: ctx.Err().Error()}
	}
	return r.consensus
}

func (r roleStatus) KubernetesNodeStatus(ctx context.Context) *apb.KubernetesNodeStatus {
	if r.hang {
		<-ctx.Done()
		return &apb.KubernetesNodeStatus{Error: ctx.Err().Error()}
	}
	return r.node
}

func TestGetStatusReportsTheRolesHealth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status RoleStatusReporter
		check  func(res *apb.GetStatusResponse) error
	}{{
		name:   "a consensus member that leads, and a Ready worker",
		status: roleStatus{consensus: &apb.ConsensusMemberStatus{MemberId: "a1", LeaderId: "a1", RaftTerm: 3}, node: &apb.KubernetesNodeStatus{Ready: true, Reason: "KubeletReady"}},
		check: func(res *apb.GetStatusResponse) error {
			if res.Consensus.GetLeaderId() != "a1" || res.Consensus.GetRaftTerm() != 3 || !res.KubernetesNode.GetReady() {
				return fmt.Errorf("consensus %v, node %v", res.Consensus, res.KubernetesNode)
			}
			return nil
		},
	}, {
		name:   "no roles: both left out",
		status: roleStatus{},
		check: func(res *apb.GetStatusResponse) error {
			if res.Consensus != nil || res.KubernetesNode != nil {
				return fmt.Errorf("consensus %v, node %v; want both absent", res.Consensus, res.KubernetesNode)
			}
			return nil
		},
	}, {
		name:   "a member and an apiserver that hang cost the call its deadline, and say so",
		status: roleStatus{hang: true},
		check: func(res *apb.GetStatusResponse) error {
			if !strings.Contains(res.Consensus.GetError(), "deadline") || !strings.Contains(res.KubernetesNode.GetError(), "deadline") {
				return fmt.Errorf("consensus %v, node %v; want both to name the deadline", res.Consensus, res.KubernetesNode)
			}
			return nil
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNode(t, testOptions{self: Self{NodeID: "metropolis-0123456789abcdef"}, configure: func(c *Config) { c.RoleStatus = tc.status }})
			start := time.Now()
			res, err := tn.client.GetStatus(context.Background(), &apb.GetStatusRequest{})
			if err != nil {
				t.Fatalf("GetStatus: %v", err)
			}
			if err := tc.check(res); err != nil {
				t.Error(err)
			}
			if took := time.Since(start); took > roleStatusTimeout+patience {
				t.Errorf("GetStatus took %v, more than its deadline for both", took)
			}
		})
	}
}
