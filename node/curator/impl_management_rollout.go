package curator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/node/update"
)

// controlRetries bounds how often ControlRollout retries a compare-and-set that the leader's
// own rollout round beat (it writes the plan every few seconds while nodes move).
const controlRetries = 5

// StartRollout implements apb.ManagementServer: keep the bundle, make the plan, store it.
func (m *managementServer) StartRollout(stream grpc.ClientStreamingServer[apb.StartRolloutRequest, apb.Rollout]) error {
	ctx := stream.Context()
	l, err := leaderFromContext(ctx)
	if err != nil {
		return err
	}
	if l.cfg.Bundles == nil {
		return status.Error(codes.FailedPrecondition, "this cluster's nodes cannot take updates: the curator leader's node has no system slots (a hosted node)")
	}
	cur, rev, err := getRollout(ctx, l.etcd())
	if err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	if cur != nil && !rollout.Final(cur.State) {
		return status.Errorf(codes.FailedPrecondition, "rollout %s to %.64s is %s; abort it (or let it finish) before starting another", cur.Id, cur.Release.GetVersion(), rollout.StateWords(cur.State))
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "the upload ended before its metadata message: send a StartRolloutMetadata first, then the bundle")
	}
	if err != nil {
		return err
	}
	meta := first.GetMetadata()
	if meta == nil {
		return status.Error(codes.InvalidArgument, "the first message carries no metadata: send a StartRolloutMetadata first, then the bundle")
	}
	if _, err := rollout.ValidOptions(meta.GetOptions()); err != nil {
		return status.Errorf(codes.InvalidArgument, "metadata.options.%v", err)
	}
	// Refuse an unsafe cluster before taking in a bundle of a hundred megabytes; the plan is
	// checked again once the bundle is kept, against the cluster as it is then.
	before, _, err := l.rolloutView(ctx, time.Now())
	if err != nil {
		return err
	}
	if err := rollout.CheckStart(meta.GetOptions(), before); err != nil {
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(receiveRolloutBundle(stream, pw)) }()
	kept, err := l.cfg.Bundles.Keep(ctx, pr, meta.GetSize())
	pr.CloseWithError(errors.New("the bundle keeper is done"))
	switch {
	case errors.Is(err, update.ErrRefused):
		return status.Errorf(codes.InvalidArgument, "%v", err)
	case errors.Is(err, update.ErrUnsupported):
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	case err != nil && ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case err != nil:
		return status.Errorf(codes.Unavailable, "keep the bundle: %v", err)
	}
	v, _, err := l.rolloutView(ctx, time.Now())
	if err != nil {
		return err
	}
	id, err := newRolloutID()
	if err != nil {
		return err
	}
	r, err := rollout.Start(id, kept.Release, meta.GetOptions(), l.nodeID, l.nodeID, v)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	r.BundleSha256, r.BundleSize = kept.SHA256, kept.Size
	op, err := putProtoOp(keyRollout, r)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	ops := []clientv3.Op{op}
	// The release's measurement is trusted with the plan, before any node reboots into it,
	// so that a cluster requiring attestation takes the updated nodes back.
	l.mu.Lock()
	defer l.mu.Unlock()
	cluster, err := getCluster(ctx, l.etcd())
	if err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	if next, changed := trustRelease(cluster, kept.Release.GetMeasurements().GetUkiAuthenticodeSha256()); changed {
		put, err := putProtoOp(keyCluster, next)
		if err != nil {
			return status.Errorf(codes.Internal, "%v", err)
		}
		ops = append(ops, put)
	}
	ok, err := l.commitIf(ctx, []clientv3.Cmp{rolloutUnchanged(rev)}, ops...)
	if err != nil {
		return err
	}
	if !ok {
		return status.Error(codes.Aborted, "another rollout was started while this bundle was uploaded; look at it (metroctl cluster update status)")
	}
	return stream.SendAndClose(r)
}

// receiveRolloutBundle writes the chunks after the metadata to w until the client closes its
// side (then nil: the reader sees the end of the bundle).
func receiveRolloutBundle(stream grpc.ClientStreamingServer[apb.StartRolloutRequest, apb.Rollout], w io.Writer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetMetadata() != nil {
			return status.Error(codes.InvalidArgument, "a second metadata message: only the first message carries metadata")
		}
		if _, err := w.Write(req.GetChunk()); err != nil {
			return err
		}
	}
}

// newRolloutID names a rollout: "rollout-" and 16 random hex digits.
func newRolloutID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", status.Errorf(codes.Unavailable, "name the rollout: %v", err)
	}
	return "rollout-" + hex.EncodeToString(b), nil
}

// GetRollout implements apb.ManagementServer.
func (m *managementServer) GetRollout(req *apb.GetRolloutRequest, srv apb.Management_GetRolloutServer) error {
	ctx := srv.Context()
	l, err := leaderFromContext(ctx)
	if err != nil {
		return err
	}
	r, rev, err := getRollout(ctx, l.etcd())
	if err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	if r == nil {
		return status.Error(codes.NotFound, "this cluster has never had a rollout")
	}
	if err := srv.Send(r); err != nil || !req.GetWatch() {
		return err
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	for resp := range l.etcd().Watch(wctx, keyRollout, clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return status.Errorf(codes.Unavailable, "watch the rollout: %v", err)
		}
		for _, ev := range resp.Events {
			var next apb.Rollout
			if err := proto.Unmarshal(ev.Kv.Value, &next); err != nil {
				return status.Errorf(codes.Internal, "decode %s: %v", keyRollout, err)
			}
			if err := srv.Send(&next); err != nil {
				return err
			}
		}
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Errorf(codes.Unavailable, "curator on %s is no longer the leader", l.nodeID)
}

// ControlRollout implements apb.ManagementServer.
func (m *managementServer) ControlRollout(ctx context.Context, req *apb.ControlRolloutRequest) (*apb.Rollout, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	var c rollout.Command
	switch req.GetCommand() {
	case apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE:
		c = rollout.Pause
	case apb.RolloutCommand_ROLLOUT_COMMAND_RESUME:
		c = rollout.Resume
	case apb.RolloutCommand_ROLLOUT_COMMAND_ABORT:
		c = rollout.Abort
	default:
		return nil, status.Errorf(codes.InvalidArgument, "command: %v is not pause, resume or abort", req.GetCommand())
	}
	if req.GetRevision() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "revision: %d is negative", req.GetRevision())
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := getRollout(ctx, l.etcd())
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "%v", err)
		}
		if cur == nil {
			return nil, status.Error(codes.NotFound, "this cluster has never had a rollout")
		}
		if cur.Id != req.GetId() {
			return nil, status.Errorf(codes.NotFound, "the latest rollout is %s, not %.64q", cur.Id, req.GetId())
		}
		next, err := rollout.Apply(cur, c, req.GetRevision(), "an owner", time.Now())
		if errors.Is(err, rollout.ErrStale) {
			return nil, status.Errorf(codes.Aborted, "%v", err)
		}
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
		}
		if next == cur {
			return cur, nil
		}
		op, err := putProtoOp(keyRollout, next)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		ok, err := l.commitIf(ctx, []clientv3.Cmp{rolloutUnchanged(rev)}, op)
		if err != nil {
			return nil, err
		}
		if ok {
			return next, nil
		}
		if req.GetRevision() != 0 || attempt == controlRetries {
			return nil, status.Errorf(codes.Aborted, "%v", fmt.Errorf("%w (it changed while the command was applied)", rollout.ErrStale))
		}
	}
}
