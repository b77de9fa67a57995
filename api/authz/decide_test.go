package authz

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDecideByDeclaration covers the decision for every shape of declaration and every kind of
// caller, including declarations no real method has.
func TestDecideByDeclaration(t *testing.T) {
	ownerOnly := need(Permission_PERMISSION_APPROVE_NODE)
	nodeOnly := need(Permission_PERMISSION_NODE_CALL_CURATOR)
	nobody := need(Permission_PERMISSION_APPROVE_NODE, Permission_PERMISSION_NODE_CALL_CURATOR)
	open := &Authorization{AllowUnauthenticated: true}
	cases := []struct {
		name string
		decl *Authorization
		kind Kind
		want codes.Code
	}{
		{"owner calls an owner method", ownerOnly, KindOwner, codes.OK},
		{"node calls an owner method", ownerOnly, KindNode, codes.PermissionDenied},
		{"anonymous calls an owner method", ownerOnly, KindAnonymous, codes.Unauthenticated},
		{"node calls a node method", nodeOnly, KindNode, codes.OK},
		{"owner calls a node method", nodeOnly, KindOwner, codes.PermissionDenied},
		{"anonymous calls a node method", nodeOnly, KindAnonymous, codes.Unauthenticated},
		{"owner lacks one of two permissions", nobody, KindOwner, codes.PermissionDenied},
		{"node lacks one of two permissions", nobody, KindNode, codes.PermissionDenied},
		{"unknown kind calls an owner method", ownerOnly, Kind(42), codes.PermissionDenied},
		{"anonymous calls an open method", open, KindAnonymous, codes.OK},
		{"owner calls an open method", open, KindOwner, codes.OK},
		{"node calls an open method", open, KindNode, codes.OK},
		{"empty declaration is refused", &Authorization{}, KindOwner, codes.Internal},
		{"contradictory declaration is refused", &Authorization{Need: ownerOnly.Need, AllowUnauthenticated: true}, KindAnonymous, codes.Internal},
		{"unspecified permission is refused", need(Permission_PERMISSION_UNSPECIFIED), KindOwner, codes.Internal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decide("/metropolis.test.Test/Method", c.decl, c.kind)
			if got := status.Code(err); got != c.want {
				t.Fatalf("decide = %v (%v), want %v", got, err, c.want)
			}
		})
	}
}
