package nodemgmt

import (
	"context"
	"time"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
)

// flushGrace is how long the power action waits after the RPC ended. gRPC ends the RPC's context
// when the answer is queued for the connection, not when it is on the wire; a platform that
// powers off at once would otherwise cut it off.
const flushGrace = 500 * time.Millisecond

// powerTimeout bounds a Power call, which runs after the RPC that asked for it has ended and so
// has no caller's deadline.
const powerTimeout = time.Minute

// Reboot implements apb.NodeManagementServer.
func (s *Server) Reboot(ctx context.Context, _ *apb.RebootRequest) (*apb.RebootResponse, error) {
	s.afterResponse(ctx, "reboot", s.cfg.Power.Reboot)
	return &apb.RebootResponse{}, nil
}

// Shutdown implements apb.NodeManagementServer.
func (s *Server) Shutdown(ctx context.Context, _ *apb.ShutdownRequest) (*apb.ShutdownResponse, error) {
	s.afterResponse(ctx, "shutdown", s.cfg.Power.Shutdown)
	return &apb.ShutdownResponse{}, nil
}

// afterResponse runs act once the RPC with context ctx is over: gRPC ends an RPC's context after
// the handler returned and the response and status were handed to the transport, so the client
// gets its answer before the node starts going down (and stops serving). An error from act can
// no longer reach the client; it goes to the log. ctx must be a gRPC server context, which always
// ends.
func (s *Server) afterResponse(ctx context.Context, what string, act func(context.Context) error) {
	method, _ := grpc.Method(ctx)
	s.cfg.Logger.Infof("%s requested through %s; starting once the caller has the answer", what, method)
	go func() {
		<-ctx.Done()
		time.Sleep(flushGrace)
		actCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), powerTimeout)
		defer cancel()
		if err := act(actCtx); err != nil {
			s.cfg.Logger.Errorf("%s failed after the caller was told it is under way: %v", what, err)
			return
		}
		s.cfg.Logger.Infof("%s under way", what)
	}()
}
