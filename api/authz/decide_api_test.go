package authz_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/api/authz"
	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestDecideOnTheRealAPI checks decisions on real methods, read from the generated code's
// registrations: one method of each kind of declaration, and names that are not methods.
func TestDecideOnTheRealAPI(t *testing.T) {
	cases := []struct {
		method string
		kind   authz.Kind
		want   codes.Code
	}{
		{apb.Management_ApproveNode_FullMethodName, authz.KindOwner, codes.OK},
		{apb.Management_ApproveNode_FullMethodName, authz.KindNode, codes.PermissionDenied},
		{apb.Management_ApproveNode_FullMethodName, authz.KindAnonymous, codes.Unauthenticated},
		{apb.NodeManagement_GetLogs_FullMethodName, authz.KindOwner, codes.OK},
		{apb.NodeManagement_Reboot_FullMethodName, authz.KindNode, codes.PermissionDenied},
		{apb.AAA_Escrow_FullMethodName, authz.KindAnonymous, codes.OK},
		{apb.Discovery_GetCACertificate_FullMethodName, authz.KindAnonymous, codes.OK},
		{cpb.Curator_RegisterNode_FullMethodName, authz.KindAnonymous, codes.OK},
		{cpb.Curator_Watch_FullMethodName, authz.KindNode, codes.OK},
		{cpb.Curator_Watch_FullMethodName, authz.KindOwner, codes.PermissionDenied},
		{cpb.Curator_IssueCertificate_FullMethodName, authz.KindAnonymous, codes.Unauthenticated},
		{"/metropolis.api.v1.Management/NoSuchMethod", authz.KindOwner, codes.Unimplemented},
		{"/metropolis.api.v1.NoSuchService/GetNodes", authz.KindOwner, codes.Unimplemented},
		{"not a method name", authz.KindOwner, codes.Unimplemented},
	}
	for _, c := range cases {
		t.Run(c.method+" by "+c.kind.String(), func(t *testing.T) {
			err := authz.Decide(c.method, c.kind)
			if got := status.Code(err); got != c.want {
				t.Fatalf("Decide = %v (%v), want %v", got, err, c.want)
			}
		})
	}
}
