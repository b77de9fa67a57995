package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
)

// StartRollout takes the upload and stores a plan of the fake cluster's one node.
func (m fakeManagement) StartRollout(stream grpc.ClientStreamingServer[apb.StartRolloutRequest, apb.Rollout]) error {
	if err := m.f.checkOwner(stream.Context()); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	m.f.record("StartRollout", first.GetMetadata())
	n := 0
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n += len(req.GetChunk())
	}
	r := &apb.Rollout{
		Id: "rollout-0123456789abcdef", Release: &apb.BundleManifest{Version: "2.0.0", BuildId: "b2"},
		Options: first.GetMetadata().GetOptions(), State: apb.RolloutState_ROLLOUT_STATE_RUNNING,
		StateSince: timestamppb.Now(), Revision: 1,
		Nodes: []*apb.RolloutNode{{NodeId: m.f.nodeID, Group: apb.RolloutGroup_ROLLOUT_GROUP_CONSENSUS,
			Phase: apb.RolloutPhase_ROLLOUT_PHASE_PENDING, PhaseSince: timestamppb.Now(), PreviousVersion: "1.0.0"}},
	}
	m.f.mu.Lock()
	m.f.rollout, m.f.rolloutBytes = r, n
	m.f.mu.Unlock()
	return stream.SendAndClose(r)
}

func (m fakeManagement) GetRollout(req *apb.GetRolloutRequest, srv grpc.ServerStreamingServer[apb.Rollout]) error {
	if err := m.f.checkOwner(srv.Context()); err != nil {
		return err
	}
	m.f.mu.Lock()
	r, then := m.f.rollout, m.f.rolloutWatch
	m.f.mu.Unlock()
	if r == nil {
		return status.Error(codes.NotFound, "this cluster has never had a rollout")
	}
	if err := srv.Send(r); err != nil || !req.GetWatch() {
		return err
	}
	for _, next := range then {
		if err := srv.Send(next); err != nil {
			return err
		}
	}
	<-srv.Context().Done()
	return nil
}

func (m fakeManagement) ControlRollout(ctx context.Context, req *apb.ControlRolloutRequest) (*apb.Rollout, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.record("ControlRollout", req)
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if m.f.rollout == nil || m.f.rollout.Id != req.Id {
		return nil, status.Errorf(codes.NotFound, "no rollout %s", req.Id)
	}
	c := map[apb.RolloutCommand]rollout.Command{
		apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE: rollout.Pause, apb.RolloutCommand_ROLLOUT_COMMAND_RESUME: rollout.Resume,
		apb.RolloutCommand_ROLLOUT_COMMAND_ABORT: rollout.Abort,
	}[req.Command]
	next, err := rollout.Apply(m.f.rollout, c, req.Revision, "an owner", time.Now())
	if errors.Is(err, rollout.ErrStale) {
		return nil, status.Errorf(codes.Aborted, "%v", err)
	}
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	m.f.rollout = next
	return proto.Clone(next).(*apb.Rollout), nil
}
