package nodemgmt

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/logtree"
)

// fakeUpdater reads the whole bundle and answers with err, or with a manifest naming what it
// read.
type fakeUpdater struct {
	err  error
	read chan []byte
}

func (f *fakeUpdater) Install(ctx context.Context, r io.Reader, _ string, _ logtree.LeveledLogger) (*apb.BundleManifest, string, error) {
	data, err := io.ReadAll(r)
	if f.read != nil {
		f.read <- data
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", update.ErrRefused, err)
	}
	if f.err != nil {
		return nil, "", f.err
	}
	return &apb.BundleManifest{Version: string(data)}, "B", nil
}

func (f *fakeUpdater) Current() *apb.NodeSoftware {
	return &apb.NodeSoftware{Version: "1", RunningSlot: "A"}
}

func sendBundle(ctx context.Context, c apb.NodeManagementClient, size int64, chunks ...string) (*apb.UpdateNodeResponse, error) {
	stream, err := c.UpdateNode(ctx)
	if err != nil {
		return nil, err
	}
	// A Send that fails (io.EOF: the server already answered, e.g. refused at once) ends the
	// sending; CloseAndRecv then gives the server's status.
	if size >= 0 {
		if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Metadata{Metadata: &apb.UpdateNodeMetadata{Size: size}}}); err != nil {
			return stream.CloseAndRecv()
		}
	}
	for _, ch := range chunks {
		if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Chunk{Chunk: []byte(ch)}}); err != nil {
			break
		}
	}
	return stream.CloseAndRecv()
}

func TestUpdateNode(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		err    error
		size   int64
		chunks []string
		code   codes.Code
		want   string
	}{
		{"installed", nil, 7, []string{"rel", "ease"}, codes.OK, ""},
		{"size unknown", nil, 0, []string{"release"}, codes.OK, ""},
		{"no metadata", nil, -1, []string{"release"}, codes.InvalidArgument, "no metadata"},
		{"larger than declared", nil, 3, []string{"release"}, codes.InvalidArgument, "larger than metadata.size"},
		{"shorter than declared", nil, 9, []string{"release"}, codes.InvalidArgument, "ended after 7 bytes"},
		{"over the limit", nil, maxBundleSize + 1, nil, codes.InvalidArgument, "a bundle is 1 to"},
		{"refused", fmt.Errorf("%w: not signed by a trusted key", update.ErrRefused), 7, []string{"release"}, codes.InvalidArgument, "not signed by a trusted key"},
		{"busy", update.ErrBusy, 7, []string{"release"}, codes.Aborted, "another update of this node is in progress"},
		{"cannot", fmt.Errorf("%w: no EFI variables", update.ErrUnsupported), 7, []string{"release"}, codes.FailedPrecondition, "no EFI variables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &fakeUpdater{err: tc.err}
			tn := startNode(t, testOptions{configure: func(c *Config) { c.Updates = u }})
			res, err := sendBundle(ctx, tn.client, tc.size, tc.chunks...)
			if status.Code(err) != tc.code || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v; want %s saying %q", err, tc.code, tc.want)
			}
			if err == nil && (res.Installed.GetVersion() != "release" || res.Slot != "B") {
				t.Errorf("answer %v, want what the installer read", res)
			}
		})
	}
}

func TestUpdateNodeWithoutUpdater(t *testing.T) {
	tn := startNode(t, testOptions{})
	_, err := sendBundle(context.Background(), tn.client, 7, "release")
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "hosted node has no system slots") {
		t.Errorf("got %v; want FailedPrecondition", err)
	}
}

func TestStatusReportsSoftware(t *testing.T) {
	tn := startNode(t, testOptions{configure: func(c *Config) { c.Updates = &fakeUpdater{} }})
	st, err := tn.client.GetStatus(context.Background(), &apb.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Software.GetVersion() != "1" || st.Software.GetRunningSlot() != "A" {
		t.Errorf("software %v", st.Software)
	}
}
