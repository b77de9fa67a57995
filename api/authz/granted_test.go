package authz

import "testing"

// TestGranted spells out the whole grant table: for every kind, the permissions it holds.
// Every permission not listed for a kind must be denied to it.
func TestGranted(t *testing.T) {
	holds := map[Kind][]Permission{
		KindAnonymous: nil,
		KindOwner: {
			Permission_PERMISSION_GET_REGISTER_TICKET,
			Permission_PERMISSION_READ_CLUSTER_STATUS,
			Permission_PERMISSION_APPROVE_NODE,
			Permission_PERMISSION_UPDATE_NODE_ROLES,
			Permission_PERMISSION_UPDATE_NODE_LABELS,
			Permission_PERMISSION_DELETE_NODE,
			Permission_PERMISSION_READ_NODE_LOGS,
			Permission_PERMISSION_NODE_POWER,
			Permission_PERMISSION_KUBERNETES_CREDENTIAL,
			Permission_PERMISSION_NODE_LOAD_IMAGE,
			Permission_PERMISSION_NODE_UPDATE,
			Permission_PERMISSION_CLUSTER_UPDATE,
			Permission_PERMISSION_ISSUE_METRICS_CREDENTIAL,
			Permission_PERMISSION_INTROSPECT_NODE,
			Permission_PERMISSION_CAPTURE_PACKETS,
			Permission_PERMISSION_CONFIGURE_NODE,
			Permission_PERMISSION_CONFIGURE_CLUSTER,
		},
		KindNode: {Permission_PERMISSION_NODE_CALL_CURATOR, Permission_PERMISSION_FETCH_BUNDLE},
		Kind(42): nil, // a kind this package does not know holds nothing
	}
	for kind, granted := range holds {
		want := make(map[Permission]bool)
		for _, p := range granted {
			want[p] = true
		}
		for number := range Permission_name {
			p := Permission(number)
			if got := Granted(kind, p); got != want[p] {
				t.Errorf("Granted(%s, %s) = %v, want %v", kind, p, got, want[p])
			}
		}
		if Granted(kind, Permission(1000)) {
			t.Errorf("Granted(%s, unknown permission 1000) = true, want false", kind)
		}
	}
}

// TestEveryPermissionIsGrantedToSomeone catches a permission added to authz.proto but not to
// the grant table: methods needing it could never be called.
func TestEveryPermissionIsGrantedToSomeone(t *testing.T) {
	for number, name := range Permission_name {
		p := Permission(number)
		if p == Permission_PERMISSION_UNSPECIFIED {
			continue
		}
		if !Granted(KindOwner, p) && !Granted(KindNode, p) {
			t.Errorf("%s is granted to no kind of caller", name)
		}
	}
}

func TestKindNames(t *testing.T) {
	cases := []struct {
		kind Kind
		want string
	}{
		{KindAnonymous, "anonymous"},
		{KindOwner, "owner"},
		{KindNode, "node"},
		{Kind(7), "Kind(7)"},
	}
	for _, c := range cases {
		if got := c.kind.String(); got != c.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(c.kind), got, c.want)
		}
	}
}
