package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/metroctl/connect"
)

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"permission denied keeps the server's reason",
			status.Error(codes.PermissionDenied, "caller is not the owner"),
			"approve node metropolis-ab12: permission denied: caller is not the owner"},
		{"a wrapped status is found",
			fmt.Errorf("stream: %w", status.Error(codes.NotFound, "no such node")),
			"approve node metropolis-ab12: not found: no such node"},
		{"failed precondition is said in words",
			status.Error(codes.FailedPrecondition, "node is NEW"),
			"approve node metropolis-ab12: not possible in the current state: node is NEW"},
		{"a deadline points at --timeout and drops gRPC's text",
			status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			"approve node metropolis-ab12: timed out (raise --timeout to wait longer)"},
		{"a plain context deadline too",
			fmt.Errorf("wait: %w", context.DeadlineExceeded),
			"approve node metropolis-ab12: timed out (raise --timeout to wait longer)"},
		{"transport noise is removed",
			status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.1:7835: connect: connection refused"`),
			"approve node metropolis-ab12: unavailable: dial tcp 10.0.0.1:7835: connect: connection refused"},
		{"an unreachable cluster keeps its own sentence",
			&connect.UnreachableError{Endpoints: []string{"10.0.0.1:7835"}, Causes: []error{errors.New("connection refused")}},
			"approve node metropolis-ab12: cannot reach the cluster at 10.0.0.1:7835: connection refused"},
		{"the server's message naming the action is not said twice",
			status.Error(codes.FailedPrecondition, "approve node metropolis-ab12: node is DECOMMISSIONED"),
			"approve node metropolis-ab12: not possible in the current state: node is DECOMMISSIONED"},
		{"a non-gRPC error is wrapped",
			errors.New("bad input"),
			"approve node metropolis-ab12: bad input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := explain("approve node metropolis-ab12", tc.err)
			if got.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if err := explain("x", status.Error(codes.NotFound, "y")); status.Code(err) != codes.NotFound {
		t.Errorf("the explained error lost its code: %v", status.Code(err))
	}
	if explain("x", nil) != nil {
		t.Error("explain(nil) is not nil")
	}
}
