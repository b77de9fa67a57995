package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/metroctl/connect"
)

// codeText says in words what a gRPC code means for an operator.
var codeText = map[codes.Code]string{
	codes.Canceled:           "canceled",
	codes.Unknown:            "failed in the cluster",
	codes.InvalidArgument:    "invalid argument",
	codes.DeadlineExceeded:   "timed out (raise --timeout to wait longer)",
	codes.NotFound:           "not found",
	codes.AlreadyExists:      "already exists",
	codes.PermissionDenied:   "permission denied",
	codes.ResourceExhausted:  "the cluster is overloaded",
	codes.FailedPrecondition: "not possible in the current state",
	codes.Aborted:            "aborted by a concurrent change (try again)",
	codes.OutOfRange:         "out of range",
	codes.Unimplemented:      "not supported by this cluster",
	codes.Internal:           "internal error in the cluster",
	codes.Unavailable:        "unavailable",
	codes.DataLoss:           "data loss in the cluster",
	codes.Unauthenticated:    "not authenticated (is the owner certificate valid? see metroctl cluster takeownership)",
}

// callError is a failed API call, said in words: "approve node metropolis-ab12: permission
// denied: ...". It keeps the gRPC status for callers that test for codes.
type callError struct {
	action string
	status *status.Status
}

func (e *callError) Error() string {
	text, ok := codeText[e.status.Code()]
	if !ok {
		text = e.status.Code().String()
	}
	msg := withoutAction(connect.Reason(e.status.Err()), e.action)
	if msg == "" || e.status.Code() == codes.DeadlineExceeded || e.status.Code() == codes.Canceled {
		return e.action + ": " + text
	}
	return e.action + ": " + text + ": " + msg
}

func (e *callError) GRPCStatus() *status.Status { return e.status }

// withoutAction is msg without a leading "action: ": the curator's messages name what they
// refuse ("configure node metropolis-ab12: ..."), in the words metroctl uses for it too, which
// would otherwise be said twice.
func withoutAction(msg, action string) string {
	return strings.TrimPrefix(msg, action+": ")
}

// explain wraps the error of action (e.g. "approve node metropolis-ab12") for the operator.
// Errors that already say where they happened (an unreachable cluster) keep their text.
func explain(action string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &callError{action: action, status: status.New(codes.DeadlineExceeded, "")}
	}
	var unreachable *connect.UnreachableError
	if errors.As(err, &unreachable) {
		return fmt.Errorf("%s: %w", action, err)
	}
	var withStatus interface{ GRPCStatus() *status.Status }
	if errors.As(err, &withStatus) {
		return &callError{action: action, status: withStatus.GRPCStatus()}
	}
	return fmt.Errorf("%s: %w", action, err)
}
