package curator

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

const (
	stNew     = apb.NodeState_NODE_STATE_NEW
	stStandby = apb.NodeState_NODE_STATE_STANDBY
	stUp      = apb.NodeState_NODE_STATE_UP
	stGone    = apb.NodeState_NODE_STATE_DECOMMISSIONED
)

func testKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	pub, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// record makes a node record in state with the given roles.
func record(t *testing.T, state apb.NodeState, roles *cpb.NodeRoles) *cpb.NodeRecord {
	t.Helper()
	pub := testKey(t)
	return &cpb.NodeRecord{
		Id: identity.NodeID(pub), PublicKey: pub, JoinPublicKey: testKey(t), State: state, Roles: roles,
		ClusterUnlockKey: []byte("0123456789abcdef"),
	}
}

// outcome describes a transition's result in words, for tables.
type outcome struct {
	code      codes.Code    // codes.OK: allowed
	nextState apb.NodeState // 0: nothing is stored
	message   string        // fragment of the error
}

func checkOutcome(t *testing.T, next *cpb.NodeRecord, err error, want outcome) {
	t.Helper()
	if got := status.Code(err); got != want.code {
		t.Fatalf("code %v (%v), want %v", got, err, want.code)
	}
	if err != nil && !strings.Contains(err.Error(), want.message) {
		t.Errorf("error %q does not say %q", err, want.message)
	}
	switch {
	case want.nextState == 0 && next != nil:
		t.Errorf("stores a change (state %v), want none", next.GetState())
	case want.nextState != 0 && (next == nil || next.GetState() != want.nextState):
		t.Errorf("stores %v, want state %v", next, want.nextState)
	}
}

func TestApproveNode(t *testing.T) {
	for _, c := range []struct {
		from apb.NodeState
		want outcome
	}{
		{stNew, outcome{codes.OK, stStandby, ""}},
		{stStandby, outcome{codes.OK, 0, ""}},
		{stUp, outcome{codes.OK, 0, ""}},
		{stGone, outcome{codes.FailedPrecondition, 0, "node is DECOMMISSIONED, not NEW"}},
	} {
		t.Run(stateName(c.from), func(t *testing.T) {
			n := record(t, c.from, nil)
			next, err := approveNode(n)
			checkOutcome(t, next, err, c.want)
			if err != nil && !strings.Contains(err.Error(), "approve node "+n.GetId()) {
				t.Errorf("error %q does not name the step and node", err)
			}
			if n.GetState() != c.from {
				t.Error("the stored record was modified in place")
			}
		})
	}
}

func TestCommitNode(t *testing.T) {
	sameKey := []byte("0123456789abcdef")
	for _, c := range []struct {
		name string
		from apb.NodeState
		key  []byte
		want outcome
	}{
		{"NEW is not approved yet", stNew, sameKey, outcome{codes.FailedPrecondition, 0, "not yet approved"}},
		{"STANDBY becomes UP", stStandby, []byte("another key of 16b"), outcome{codes.OK, stUp, ""}},
		{"UP repeating with the same key changes nothing", stUp, sameKey, outcome{codes.OK, 0, ""}},
		{"UP with another key already committed", stUp, []byte("another key of 16b"), outcome{codes.AlreadyExists, 0, "already committed (it is UP) with another cluster_unlock_key"}},
		{"DECOMMISSIONED is refused", stGone, sameKey, outcome{codes.PermissionDenied, 0, "DECOMMISSIONED"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, err := commitNode(record(t, c.from, nil), c.key)
			checkOutcome(t, next, err, c.want)
			if next != nil && string(next.GetClusterUnlockKey()) != string(c.key) {
				t.Error("the committed record does not hold the handed-over key")
			}
		})
	}
}

func TestJoinNode(t *testing.T) {
	for _, c := range []struct {
		name     string
		from     apb.NodeState
		rightKey bool
		code     codes.Code
		message  string
	}{
		{"UP with its join key gets the unlock key", stUp, true, codes.OK, ""},
		{"UP with another key is refused", stUp, false, codes.PermissionDenied, "not the node's join key"},
		{"NEW has not committed", stNew, true, codes.FailedPrecondition, "NEW, not UP"},
		{"STANDBY has not committed", stStandby, true, codes.FailedPrecondition, "STANDBY, not UP"},
		{"DECOMMISSIONED gets nothing", stGone, true, codes.PermissionDenied, "DECOMMISSIONED"},
		{"DECOMMISSIONED with another key learns nothing of its state", stGone, false, codes.PermissionDenied, "not the node's join key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := record(t, c.from, nil)
			key := ed25519.PublicKey(n.GetJoinPublicKey())
			if !c.rightKey {
				key = testKey(t)
			}
			got, err := joinNode(n, key)
			if status.Code(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.message)) {
				t.Fatalf("join = %v, want %v mentioning %q", err, c.code, c.message)
			}
			if err == nil && string(got) != string(n.GetClusterUnlockKey()) {
				t.Errorf("join returned %q, want the stored unlock key", got)
			}
			if err != nil && got != nil {
				t.Error("a refused join returned key material")
			}
		})
	}
}

func TestRegisterNode(t *testing.T) {
	pub, join := testKey(t), testKey(t)
	existing := func(state apb.NodeState) *cpb.NodeRecord {
		return &cpb.NodeRecord{Id: identity.NodeID(pub), PublicKey: pub, JoinPublicKey: join, State: state}
	}
	otherJoin := testKey(t)
	for _, c := range []struct {
		name     string
		existing *cpb.NodeRecord
		join     ed25519.PublicKey
		want     outcome
	}{
		{"a new key becomes NEW", nil, join, outcome{codes.OK, stNew, ""}},
		{"NEW again with the same join key changes nothing", existing(stNew), join, outcome{codes.OK, 0, ""}},
		{"NEW again with another join key updates it", existing(stNew), otherJoin, outcome{codes.OK, stNew, ""}},
		{"STANDBY again with the same join key changes nothing", existing(stStandby), join, outcome{codes.OK, 0, ""}},
		{"UP again with the same join key changes nothing", existing(stUp), join, outcome{codes.OK, 0, ""}},
		{"STANDBY with another join key is refused", existing(stStandby), otherJoin,
			outcome{codes.AlreadyExists, 0, "already registered (STANDBY) with another join key: join_public_key"}},
		{"UP with another join key is refused", existing(stUp), otherJoin,
			outcome{codes.AlreadyExists, 0, "already registered (UP) with another join key: join_public_key"}},
		{"DECOMMISSIONED cannot come back", existing(stGone), join, outcome{codes.FailedPrecondition, 0, "cannot register again"}},
		{"another key with the same node ID is refused",
			&cpb.NodeRecord{Id: identity.NodeID(pub), PublicKey: testKey(t), State: stUp}, join, outcome{codes.AlreadyExists, 0, "another key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, err := registerNode(c.existing, pub, c.join)
			checkOutcome(t, next, err, c.want)
			if next != nil && !ed25519.PublicKey(next.GetJoinPublicKey()).Equal(c.join) {
				t.Error("the stored join key is not the one presented")
			}
		})
	}
}

func TestDeleteNode(t *testing.T) {
	consensus := &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}}
	worker := &cpb.NodeRoles{KubernetesWorker: &cpb.KubernetesWorker{}}
	for _, c := range []struct {
		name    string
		node    *cpb.NodeRecord
		skip    bool
		members int
		want    outcome
	}{
		{"a node without roles is decommissioned", record(t, stUp, nil), false, 1, outcome{codes.OK, stGone, ""}},
		{"a NEW node is decommissioned", record(t, stNew, nil), false, 1, outcome{codes.OK, stGone, ""}},
		{"a node with roles is refused", record(t, stUp, worker), false, 1, outcome{codes.FailedPrecondition, 0, "still holds kubernetes_worker"}},
		{"a node with roles goes when told to skip checks", record(t, stUp, worker), true, 1, outcome{codes.OK, stGone, ""}},
		{"one of several consensus members goes when told to skip checks", record(t, stUp, consensus), true, 2, outcome{codes.OK, stGone, ""}},
		{"the last consensus member stays even when told to skip checks", record(t, stUp, consensus), true, 1, outcome{codes.FailedPrecondition, 0, "last consensus member"}},
		{"deleting again changes nothing", record(t, stGone, nil), false, 1, outcome{codes.OK, 0, ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, err := deleteNode(c.node, c.skip, c.members)
			checkOutcome(t, next, err, c.want)
			if next != nil && (next.GetRoles() != nil || next.GetClusterUnlockKey() != nil) {
				t.Error("a decommissioned node keeps roles or its unlock key")
			}
		})
	}
}
