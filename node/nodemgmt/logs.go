package nodemgmt

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

// Limits on one GetLogsResponse. gRPC refuses messages over 4 MiB by default, and a client
// printing logs should see them arrive in steps rather than as one huge message.
const (
	maxEntriesPerMessage = 256
	maxBytesPerMessage   = 1 << 20
)

// GetLogs implements apb.NodeManagementServer.
func (s *Server) GetLogs(req *apb.GetLogsRequest, srv grpc.ServerStreamingServer[apb.GetLogsResponse]) error {
	read, err := parseLogRead(req)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	// One Read gives both backlog and stream, so nothing falls between them.
	r, err := s.cfg.Logs.Read(read.dn, read.options()...)
	if err != nil {
		// parseLogRead accepted the request, so the tree refusing it is a bug here.
		return status.Errorf(codes.Internal, "read log tree at %.64q: %v", read.dn, err)
	}
	defer r.Close()

	var b batch
	for _, e := range r.Backlog {
		b.add(entryToAPI(e))
		if b.full() {
			if err := srv.Send(&apb.GetLogsResponse{BacklogEntries: b.take()}); err != nil {
				return err
			}
		}
	}
	if b.len() > 0 {
		if err := srv.Send(&apb.GetLogsResponse{BacklogEntries: b.take()}); err != nil {
			return err
		}
	}
	if !read.follow {
		return nil
	}
	return s.follow(srv, read.dn, r)
}

// follow sends entries from r's stream until the client ends the call. The log tree drops
// entries for a reader that does not keep up (a slow client, a slow link) instead of buffering
// without bound; the API has no field for that, so it goes to this service's log.
func (s *Server) follow(srv grpc.ServerStreamingServer[apb.GetLogsResponse], dn logtree.DN, r *logtree.LogReader) error {
	ctx := srv.Context()
	warned := false
	defer func() {
		if missed := r.Missed(); missed > 0 {
			s.cfg.Logger.Warningf("GetLogs: reader following %q missed %d entries in total", dn, missed)
		}
	}()
	for {
		var b batch
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case e := <-r.Stream:
			b.add(entryToAPI(e))
		}
		// Whatever else is already waiting goes into the same message, so a burst costs few
		// messages.
	drain:
		for !b.full() {
			select {
			case e := <-r.Stream:
				b.add(entryToAPI(e))
			default:
				break drain
			}
		}
		if err := srv.Send(&apb.GetLogsResponse{StreamEntries: b.take()}); err != nil {
			return err
		}
		if !warned && r.Missed() > 0 {
			warned = true
			s.cfg.Logger.Warningf("GetLogs: reader following %q is too slow and misses entries", dn)
		}
	}
}

// batch collects entries for one message within the size limits.
type batch struct {
	entries []*apb.LogEntry
	bytes   int
}

func (b *batch) add(e *apb.LogEntry) {
	b.entries = append(b.entries, e)
	b.bytes += proto.Size(e)
}

func (b *batch) len() int { return len(b.entries) }

func (b *batch) full() bool {
	return len(b.entries) >= maxEntriesPerMessage || b.bytes >= maxBytesPerMessage
}

// take returns the collected entries and empties the batch.
func (b *batch) take() []*apb.LogEntry {
	es := b.entries
	*b = batch{}
	return es
}
