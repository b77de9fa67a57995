package rpc

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Backoff between retries of a call that failed with codes.Unavailable: short at first (a
// follower's "not the leader" answer is corrected by the resolver within milliseconds), capped
// so that a failover of a few seconds costs at most this much extra.
const (
	retryBackoffMin = 50 * time.Millisecond
	retryBackoffMax = time.Second
)

// retryUnavailable retries a unary call while it fails with codes.Unavailable (no connection,
// or a curator that is not the leader), until ctx ends. That is safe because every curator
// call is idempotent: repeating one that did take effect changes nothing. When ctx ends, the
// last Unavailable error is returned, as it says more than the deadline does.
func retryUnavailable(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	backoff := retryBackoffMin
	for {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if status.Code(err) != codes.Unavailable {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, retryBackoffMax)
	}
}
