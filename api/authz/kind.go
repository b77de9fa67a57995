package authz

import "fmt"

// Kind is the kind of identity a caller proved, as the gRPC interceptor classified its TLS
// client certificate. Permissions are granted per Kind, not per certificate: every owner
// certificate is as powerful as any other.
type Kind int

const (
	// KindAnonymous is a caller without a certificate issued by the cluster CA: no client
	// certificate, or a self-signed one (as a registering node or an owner before escrow
	// presents). It holds no permission and may call only methods that allow unauthenticated
	// callers.
	KindAnonymous Kind = iota
	// KindOwner is a caller with an owner (user) certificate, issued by AAA.Escrow.
	KindOwner
	// KindNode is a caller with a node certificate, issued when the node committed.
	KindNode
)

// String names the kind for error messages and logs.
func (k Kind) String() string {
	switch k {
	case KindAnonymous:
		return "anonymous"
	case KindOwner:
		return "owner"
	case KindNode:
		return "node"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Granted reports whether a caller of kind k holds permission p. This is the whole grant
// table: owners manage the cluster and its nodes, nodes talk to the curator as nodes and fetch rollout bundles from each other, and
// nobody holds PERMISSION_UNSPECIFIED. Anything not listed is denied, including kinds and
// permissions added later until they are listed here.
func Granted(k Kind, p Permission) bool {
	switch k {
	case KindOwner:
		switch p {
		case Permission_PERMISSION_GET_REGISTER_TICKET,
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
			Permission_PERMISSION_CONFIGURE_CLUSTER:
			return true
		}
	case KindNode:
		return p == Permission_PERMISSION_NODE_CALL_CURATOR || p == Permission_PERMISSION_FETCH_BUNDLE
	}
	return false
}
