package curator

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
)

// Every service but Discovery is the leader's alone.
func leaderOnly(fullMethod string) bool {
	return !strings.HasPrefix(fullMethod, "/"+apb.Discovery_ServiceDesc.ServiceName+"/")
}

type leaderKey struct{}

// leaderFromContext returns the leadership a leader-only call runs under; the gate put it
// there. Its absence is a bug in the server's wiring.
func leaderFromContext(ctx context.Context) (*leader, error) {
	l, ok := ctx.Value(leaderKey{}).(*leader)
	if !ok {
		return nil, status.Error(codes.Internal, "leader-only method called without leadership in its context")
	}
	return l, nil
}

// gate admits leader-only calls only while this curator leads, and ends them when the
// leadership ends. The returned release must be called when the call is over.
func (s *Service) gate(ctx context.Context, fullMethod string) (context.Context, context.CancelFunc, error) {
	if !leaderOnly(fullMethod) {
		return ctx, func() {}, nil
	}
	l := s.leading.Load()
	if l == nil || l.ctx.Err() != nil {
		return nil, nil, s.notLeaderError()
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.ctx, cancel)
	return context.WithValue(ctx, leaderKey{}, l), func() { stop(); cancel() }, nil
}

// notLeaderError tells a caller where to go instead.
func (s *Service) notLeaderError() error {
	if cur := s.currentLeader.Load(); cur != nil && cur.GetNodeId() != s.nodeID {
		return status.Errorf(codes.Unavailable, "curator on %s is not the leader; the leader is %s at %s (see Discovery.GetCurrentLeader)",
			s.nodeID, cur.GetNodeId(), cur.GetAddress())
	}
	return status.Errorf(codes.Unavailable, "curator on %s is not the leader, and no leader is elected at the moment", s.nodeID)
}

func (s *Service) gateUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, release, err := s.gate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	defer release()
	return handler(ctx, req)
}

func (s *Service) gateStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, release, err := s.gate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	defer release()
	return handler(srv, rpc.StreamWithContext(ctx, ss))
}
