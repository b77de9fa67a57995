package rpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// WaitForLeader waits until conn, a DialCurator connection, is connected to the curator
// leader. It gives up with the reason as soon as the connection fails as a whole: every known
// curator address failed to name a leader (none answers, TLS refused, none knows a leader for
// a while), or the named leader could not be reached. A short-lived client such as metroctl
// uses it to report an unreachable cluster at once rather than at its deadline; long-lived
// clients need not, as their calls wait for the leader by themselves.
func WaitForLeader(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure:
			return connectionError(ctx, conn)
		case connectivity.Shutdown:
			return errors.New("connection to the curator leader is closed")
		}
		if !conn.WaitForStateChange(ctx, state) {
			return fmt.Errorf("waiting for the curator leader (connection %s): %w", state, ctx.Err())
		}
	}
}

// connectionError asks a failed connection why it failed: a call that does not wait for the
// connection fails at once with the error gRPC keeps for it (the resolver's, or the last
// connection attempt's).
func connectionError(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, apb.Discovery_GetCurrentLeader_FullMethodName, grpc.WaitForReady(false))
	if err == nil {
		// The connection recovered meanwhile.
		_ = stream.CloseSend()
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	return err
}
