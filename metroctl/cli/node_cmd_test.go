package cli

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// newNode adds a node in state with roles to the fake and returns its ID.
func (e *testEnv) newNode(state apb.NodeState, roles *apb.NodeRoles) string {
	return e.cluster.addNode(&apb.Node{State: state, Roles: roles, Status: &apb.NodeStatus{ExternalAddress: "127.0.0.1"}})
}

func TestNodeList(t *testing.T) {
	e := newTestEnv(t, true)
	newID := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)

	r := e.run("", "node", "list")
	if r.code != 0 {
		t.Fatalf("node list failed:\n%v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("want a header and two nodes:\n%s", r.stdout)
	}
	for _, want := range []string{e.cluster.nodeID + "  UP ", newID + "  NEW ", "ConsensusMember,KubernetesController", "HEALTHY", "2s ago"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	r = e.run("", "node", "list", "--state", "new", "-o", "json")
	if r.code != 0 {
		t.Fatalf("node list --state new failed:\n%v", r)
	}
	req := e.cluster.lastRequest().(*apb.GetNodesRequest)
	if !slices.Equal(req.States, []apb.NodeState{apb.NodeState_NODE_STATE_NEW}) {
		t.Errorf("GetNodes asked for states %v, want [NEW]", req.States)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, r.stdout)
	}
	if len(listed) != 1 || listed[0]["id"] != newID || listed[0]["state"] != "NODE_STATE_NEW" {
		t.Errorf("JSON lists %v, want only %s in NODE_STATE_NEW", listed, newID)
	}

	if r := e.run("", "node", "list", "--state", "RUNNING"); r.code == 0 || !strings.Contains(r.stderr, `--state: unknown node state "RUNNING"`) {
		t.Errorf("an unknown state must be refused before any call:\n%v", r)
	}
}

func TestNodeDescribe(t *testing.T) {
	e := newTestEnv(t, true)
	r := e.run("", "node", "describe", e.cluster.nodeID)
	if r.code != 0 {
		t.Fatalf("describe failed:\n%v", r)
	}
	pub := e.cluster.node(e.cluster.nodeID).PublicKey
	for _, want := range []string{"ID:              " + e.cluster.nodeID, "Public key:      " + hex.EncodeToString(pub), "Curator:         running, port"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("description lacks %q:\n%s", want, r.stdout)
		}
	}
	missing := "metropolis-0000000000000000"
	r = e.run("", "node", "describe", missing)
	if want := "describe node " + missing + ": not found: node " + missing + " does not exist"; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("want %q:\n%v", want, r)
	}
}

func TestNodeApprove(t *testing.T) {
	e := newTestEnv(t, true)
	a := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	b := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	gone := e.newNode(apb.NodeState_NODE_STATE_DECOMMISSIONED, nil)

	if r := e.run("", "node", "approve", a); r.code != 0 || !strings.Contains(r.stdout, "Approved node "+a) {
		t.Errorf("approve %s:\n%v", a, r)
	}
	if got := e.cluster.node(a).State; got != apb.NodeState_NODE_STATE_STANDBY {
		t.Errorf("%s is %v after approval, want STANDBY", a, got)
	}

	r := e.run("", "node", "approve", gone)
	if want := "approve node " + gone + ": not possible in the current state: node " + gone + " is DECOMMISSIONED"; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("want %q:\n%v", want, r)
	}

	r = e.run("", "node", "approve", "--public-key", hex.EncodeToString(e.cluster.node(b).PublicKey))
	if r.code != 0 {
		t.Fatalf("approve by public key:\n%v", r)
	}
	req := e.cluster.lastRequest().(*apb.ApproveNodeRequest)
	if !slices.Equal(req.GetPublicKey(), e.cluster.node(b).PublicKey) {
		t.Errorf("ApproveNode was sent %v, want the public key of %s", req, b)
	}

	if r := e.run("", "node", "approve"); r.code == 0 || !strings.Contains(r.stderr, "exactly one of") {
		t.Errorf("approve without naming nodes must be refused:\n%v", r)
	}
}

func TestNodeApproveAllNew(t *testing.T) {
	e := newTestEnv(t, true)
	a := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	b := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	r := e.run("", "node", "approve", "--all-new")
	if r.code != 0 {
		t.Fatalf("approve --all-new:\n%v", r)
	}
	calls := e.cluster.recorded()
	for _, id := range []string{a, b} {
		if !slices.Contains(calls, "ApproveNode "+id) {
			t.Errorf("%s was not approved; calls: %v", id, calls)
		}
	}
	if slices.Contains(calls, "ApproveNode "+e.cluster.nodeID) {
		t.Error("the UP node was approved too")
	}
	if r := e.run("", "node", "approve", "--all-new"); r.code != 0 || !strings.Contains(r.stdout, "No NEW nodes") {
		t.Errorf("second approve --all-new:\n%v", r)
	}
}

func TestNodeRoles(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		args []string
		want *apb.UpdateNodeRolesRequest // NodeId filled in by the test
	}{
		{"grant short names", []string{"add-role", "ID", "consensus", "worker"}, &apb.UpdateNodeRolesRequest{ConsensusMember: &yes, KubernetesWorker: &yes}},
		{"grant a long name in any case", []string{"add-role", "ID", "kubernetescontroller"}, &apb.UpdateNodeRolesRequest{KubernetesController: &yes}},
		{"revoke", []string{"remove-role", "ID", "KubernetesController"}, &apb.UpdateNodeRolesRequest{KubernetesController: &no}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, true)
			id := e.cluster.nodeID
			args := append([]string{"node"}, tc.args...)
			args[2] = id
			if r := e.run("", args...); r.code != 0 {
				t.Fatalf("%v:\n%v", tc.args, r)
			}
			tc.want.NodeId = id
			if got := e.cluster.lastRequest(); !proto.Equal(got, tc.want) {
				t.Errorf("UpdateNodeRoles got %v, want %v", got, tc.want)
			}
		})
	}

	e := newTestEnv(t, true)
	newID := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	r := e.run("", "node", "add-role", newID, "worker")
	if want := "grant KubernetesWorker of node " + newID + ": not possible in the current state: node " + newID + " is NEW, not UP"; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("want %q:\n%v", want, r)
	}
	calls := len(e.cluster.recorded())
	if r := e.run("", "node", "add-role", newID, "etcd"); r.code == 0 || !strings.Contains(r.stderr, `unknown role "etcd"`) {
		t.Errorf("an unknown role must be refused:\n%v", r)
	}
	if len(e.cluster.recorded()) != calls {
		t.Error("a call was made despite the unknown role")
	}
}

func TestNodeDelete(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	r := e.run("", "node", "delete", id)
	if want := "delete node " + id + ": not possible in the current state: node " + id + " still holds roles"; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("want %q:\n%v", want, r)
	}
	if r := e.run("", "node", "delete", id, "--force"); r.code != 0 {
		t.Fatalf("delete --force:\n%v", r)
	}
	if req := e.cluster.lastRequest().(*apb.DeleteNodeRequest); !req.SkipSafetyChecks {
		t.Error("--force did not set skip_safety_checks")
	}
	if got := e.cluster.node(id).State; got != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Errorf("node is %v after delete, want DECOMMISSIONED", got)
	}
}

func TestNodeLabel(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	if r := e.run("", "node", "label", id, "rack=r1", "example.com/zone=a"); r.code != 0 {
		t.Fatalf("label:\n%v", r)
	}
	if r := e.run("", "node", "label", id, "rack-", "tier=db"); r.code != 0 {
		t.Fatalf("label removal:\n%v", r)
	}
	want := map[string]string{"example.com/zone": "a", "tier": "db"}
	if got := e.cluster.node(id).Labels; len(got) != 2 || got["example.com/zone"] != "a" || got["tier"] != "db" {
		t.Errorf("labels = %v, want %v", got, want)
	}
	req := e.cluster.lastRequest().(*apb.UpdateNodeLabelsRequest)
	if !slices.Equal(req.Remove, []string{"rack"}) || req.Upsert["tier"] != "db" {
		t.Errorf("UpdateNodeLabels got %v", req)
	}
	if r := e.run("", "node", "label", id, "bad key=x"); r.code == 0 || !strings.Contains(r.stderr, `label key "bad key"`) {
		t.Errorf("a bad label key must be refused:\n%v", r)
	}
}

func TestNodeLogs(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	r := e.run("", "node", "logs", id, "--dn", "root.consensus", "--backlog", "10", "--severity", "warning")
	if r.code != 0 {
		t.Fatalf("logs:\n%v", r)
	}
	if want := "I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] etcd started\n"; r.stdout != want {
		t.Errorf("logs printed %q, want %q", r.stdout, want)
	}
	want := &apb.GetLogsRequest{
		Dn: "root.consensus", BacklogMode: apb.GetLogsRequest_BACKLOG_MODE_COUNT, BacklogCount: 10,
		StreamMode: apb.GetLogsRequest_STREAM_MODE_DISABLE,
		Filter:     &apb.LogFilter{WithChildren: true, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_WARNING},
	}
	if got := e.cluster.lastRequest(); !proto.Equal(got, want) {
		t.Errorf("GetLogs got %v, want %v", got, want)
	}

	r = e.run("", "node", "logs", id, "-f")
	wantFollow := "I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] etcd started\n" +
		"R1123 21:10:20.123456 root.consensus.etcd] raw line\n"
	if r.code != 0 || r.stdout != wantFollow {
		t.Errorf("logs -f printed %q, want %q:\n%v", r.stdout, wantFollow, r)
	}
	if req := e.cluster.lastRequest().(*apb.GetLogsRequest); req.StreamMode != apb.GetLogsRequest_STREAM_MODE_UNBUFFERED {
		t.Errorf("-f asked for stream mode %v", req.StreamMode)
	}

	// Another node that claims the fake's address: the TLS check must notice that the server
	// there is not that node.
	impostor := e.newNode(apb.NodeState_NODE_STATE_UP, nil)
	r = e.run("", "node", "logs", impostor)
	if want := "read logs of node " + impostor + " at 127.0.0.1:"; r.code == 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("want %q with a certificate error:\n%v", want, r)
	}

	noAddress := e.cluster.addNode(&apb.Node{State: apb.NodeState_NODE_STATE_NEW})
	r = e.run("", "node", "logs", noAddress)
	if r.code == 0 || !strings.Contains(r.stderr, "has not reported an address (it is NEW)") {
		t.Errorf("want an error about the missing address:\n%v", r)
	}
}

func TestCommandsWithoutOwnerCertificate(t *testing.T) {
	e := newTestEnv(t, false)
	r := e.run("", "node", "list")
	if r.code == 0 || !strings.Contains(r.stderr, "run metroctl cluster takeownership") {
		t.Errorf("want advice to take ownership:\n%v", r)
	}
}
