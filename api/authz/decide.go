package authz

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Decide decides whether a caller of kind k may call the gRPC method fullMethod
// ("/metropolis.api.v1.Management/ApproveNode"), from the method's declaration in
// protoregistry.GlobalFiles. It returns nil to let the call through, or a gRPC status error
// to return to the caller as is:
//   - codes.Unauthenticated: the method needs permissions and the caller has no cluster
//     certificate;
//   - codes.PermissionDenied: the caller's kind lacks a needed permission;
//   - codes.Unimplemented: no such method is registered;
//   - codes.Internal: the method's declaration is missing or invalid (a bug the completeness
//     test exists to catch; the call is refused rather than let through).
//
// For a method that allows unauthenticated callers it returns nil for every kind; the method
// then checks its caller itself.
func Decide(fullMethod string, k Kind) error {
	a, err := ForMethod(fullMethod)
	switch {
	case errors.Is(err, ErrUnknownMethod):
		return status.Error(codes.Unimplemented, err.Error())
	case err != nil:
		return status.Errorf(codes.Internal, "authorization of %s: %v", fullMethod, err)
	}
	return decide(fullMethod, a, k)
}

// decide is Decide once the declaration a of fullMethod is known.
func decide(fullMethod string, a *Authorization, k Kind) error {
	if err := validate(a); err != nil {
		return status.Errorf(codes.Internal, "authorization of %s: %v", fullMethod, err)
	}
	if a.GetAllowUnauthenticated() {
		return nil
	}
	if k == KindAnonymous {
		return status.Errorf(codes.Unauthenticated, "%s needs a cluster certificate", fullMethod)
	}
	for _, p := range a.GetNeed() {
		if !Granted(k, p) {
			return status.Errorf(codes.PermissionDenied, "%s needs %s, which %s certificates do not hold", fullMethod, p, k)
		}
	}
	return nil
}
