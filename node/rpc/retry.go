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
// or a curator that is not the leader), until ctx ends, telling the resolver (notLeader) each
// time. That is safe because every curator call is idempotent: repeating one that did take
// effect changes nothing. When ctx ends, the last Unavailable error is returned, as it says
// more than the deadline does.
func retryUnavailable(notLeader func()) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return retryCall(ctx, notLeader, func() error { return invoker(ctx, method, req, reply, cc, opts...) })
	}
}

func retryCall(ctx context.Context, notLeader func(), call func() error) error {
	backoff := retryBackoffMin
	for {
		err := call()
		if status.Code(err) != codes.Unavailable {
			return err
		}
		notLeader()
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

// reportUnavailableStreams tells the resolver (notLeader) when a stream fails with
// codes.Unavailable, as it opens or later. Streams are not retried here: their callers
// (watches, heartbeats) run under a supervisor that opens a new one.
func reportUnavailableStreams(notLeader func()) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			if status.Code(err) == codes.Unavailable {
				notLeader()
			}
			return nil, err
		}
		return &reportingStream{ClientStream: s, notLeader: notLeader}, nil
	}
}

type reportingStream struct {
	grpc.ClientStream
	notLeader func()
}

func (s *reportingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if status.Code(err) == codes.Unavailable {
		s.notLeader()
	}
	return err
}
