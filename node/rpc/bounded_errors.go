package rpc

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// MaxErrorMessage bounds the message of every error a Metropolis server returns. Errors name
// what is wrong with a request and often quote it; handlers quote only a bounded prefix of
// what they were sent (fmt's %.Nq), and this bound is the safety net for the ones that do not,
// so that a client sending a megabyte never gets a megabyte back (nor fills a log with it).
const MaxErrorMessage = 1024

// boundedErrors returns interceptors that cut the message of a failed call's error to
// MaxErrorMessage. They run outermost, so they see the error the client would get.
func boundedErrors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			res, err := handler(ctx, req)
			return res, BoundError(err)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			return BoundError(handler(srv, ss))
		}),
	}
}

// BoundError returns err with its message cut to MaxErrorMessage bytes (at a character
// boundary, saying how much was cut), keeping its gRPC code and details. Errors within the
// bound, and nil, are returned as they are.
func BoundError(err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	msg := st.Message()
	if len(msg) <= MaxErrorMessage {
		return err
	}
	kept := strings.ToValidUTF8(msg[:MaxErrorMessage], "")
	p := st.Proto()
	p.Message = fmt.Sprintf("%s… (%d more bytes cut)", kept, len(msg)-len(kept))
	return status.ErrorProto(p)
}
