package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/ociimage"
)

// LoadImage receives an upload as a node does, checks it with ociimage.Inspect and answers
// with the names in its index (no containerd behind it). It records "LoadImage NAME" with the
// metadata, and "LoadImage NAME received N bytes" once the upload ended.
func (n fakeNodeManagement) LoadImage(srv grpc.ClientStreamingServer[apb.LoadImageRequest, apb.LoadImageResponse]) error {
	if err := n.f.checkOwner(srv.Context()); err != nil {
		return err
	}
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	meta := first.GetMetadata()
	if meta == nil {
		return status.Error(codes.InvalidArgument, "no metadata first")
	}
	n.f.record("LoadImage "+meta.Name, meta)
	var archive bytes.Buffer
	for {
		msg, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(msg.GetChunk()) > imageChunkSize {
			return status.Errorf(codes.InvalidArgument, "chunk of %d bytes", len(msg.GetChunk()))
		}
		archive.Write(msg.GetChunk())
	}
	n.f.record("LoadImage "+meta.Name+" received "+strconv.Itoa(archive.Len())+" bytes", meta)
	summary, err := ociimage.Inspect(&archive)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "the archive is not a valid OCI image-layout archive: %v", err)
	}
	res := &apb.LoadImageResponse{}
	for _, img := range summary.Images {
		res.Images = append(res.Images, &apb.LoadedImage{Name: img.Name, Digest: img.Digest.String()})
	}
	return srv.SendAndClose(res)
}

// writeArchive writes a valid OCI archive holding image name to dir/file.
func writeArchive(t *testing.T, dir, file, name string) string {
	t.Helper()
	var buf bytes.Buffer
	err := ociimage.Write(&buf, ociimage.Image{
		Name:  name,
		Files: []ociimage.File{{Path: "/app", Mode: 0o755, Data: []byte("binary")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNodeLoadImage(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	dir := t.TempDir()
	app := writeArchive(t, dir, "app.tar", "example.com/app:v1")
	db := writeArchive(t, dir, "db.tar", "example.com/db:v2")
	appSize := fileSize(t, app)

	r := e.run("", "node", "load-image", id, app, db)
	if r.code != 0 {
		t.Fatalf("load-image:\n%v", r)
	}
	for _, want := range []string{"Loaded " + app + " into node " + id + ":\n  example.com/app:v1 sha256:", "Loaded " + db + " into node " + id + ":\n  example.com/db:v2 sha256:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	calls := e.cluster.recorded()
	wantCalls := []string{"LoadImage app.tar", "LoadImage app.tar received " + strconv.FormatInt(appSize, 10) + " bytes", "LoadImage db.tar"}
	for i, want := range wantCalls {
		if i >= len(calls) || calls[i] != want {
			t.Fatalf("calls %v, want them to start with %v", calls, wantCalls)
		}
	}
	if got := e.cluster.lastRequest(); !proto.Equal(got, &apb.LoadImageMetadata{Name: "db.tar", Size: fileSize(t, db)}) {
		t.Errorf("metadata sent: %v", got)
	}

	// A file the node refuses: the error names the file and the node's reason, and later
	// files are not sent.
	bad := filepath.Join(dir, "bad.tar")
	if err := os.WriteFile(bad, []byte("not a tar archive, certainly not OCI"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := len(e.cluster.recorded())
	r = e.run("", "node", "load-image", id, bad, app)
	if want := "load " + bad + " into node " + id + " at 127.0.0.1:"; r.code == 0 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "invalid argument: the archive is not a valid OCI image-layout archive") {
		t.Errorf("want %q with the node's reason:\n%v", want, r)
	}
	if calls := e.cluster.recorded()[before:]; len(calls) != 2 || calls[0] != "LoadImage bad.tar" {
		t.Errorf("after the refused file, calls %v; want only bad.tar's", calls)
	}
}

func TestNodeLoadImageArguments(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	dir := t.TempDir()
	good := writeArchive(t, dir, "app.tar", "example.com/app:v1")
	empty := filepath.Join(dir, "empty.tar")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.tar")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{id}, "requires at least 2 arg(s), only received 1"},
		{"bad node ID", []string{"node-1", good}, `"node-1"`},
		{"missing file", []string{id, good, missing}, "image archive: open " + missing + ": no such file or directory"},
		{"directory", []string{id, dir}, "image archive " + dir + " is not a regular file"},
		{"empty file", []string{id, empty}, "image archive " + empty + " is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.cluster.recorded())
			r := e.run("", append([]string{"node", "load-image"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want an error with %q:\n%v", tc.want, r)
			}
			if calls := e.cluster.recorded()[before:]; len(calls) != 0 {
				t.Errorf("calls made despite the bad arguments: %v", calls)
			}
		})
	}
}

// TestUploadProgress shows the progress lines of a slow upload: bytes sent while sending,
// then the wait for the node. The fake stream holds the upload until each line appeared, so
// the test does not depend on timing.
func TestUploadProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, 3*imageChunkSize+5), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &watchedBuffer{}
	s := &slowStream{out: out}
	res, err := uploadArchive(context.Background(), slowClient{s: s}, path, 3*imageChunkSize+5, out, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 1 {
		t.Errorf("response %v", res)
	}
	if s.chunks != 4 || s.bytes != 3*imageChunkSize+5 || s.meta.GetName() != "big.tar" {
		t.Errorf("sent %d chunks, %d bytes, metadata %v", s.chunks, s.bytes, s.meta)
	}
	text := out.String()
	for _, want := range []string{"big.tar: 1.0 MiB of 3.0 MiB sent (33%)", "big.tar: all 3.0 MiB sent; the node is checking and importing it ("} {
		if !strings.Contains(text, want) {
			t.Errorf("progress lacks %q:\n%s", want, text)
		}
	}
}

func TestByteCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 20: "1.5 GiB", 8 << 30: "8.0 GiB"} {
		if got := byteCount(n); got != want {
			t.Errorf("byteCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// watchedBuffer is a buffer that can be waited on for some text.
type watchedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor returns once the buffer contains text, or an error after a long while.
func (w *watchedBuffer) waitFor(text string) error {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.String(), text) {
		if time.Now().After(deadline) {
			return errors.New("no progress line with " + text)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// slowClient is a NodeManagementClient whose only method is LoadImage, on slowStream.
type slowClient struct {
	apb.NodeManagementClient
	s *slowStream
}

func (c slowClient) LoadImage(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[apb.LoadImageRequest, apb.LoadImageResponse], error) {
	return c.s, nil
}

// slowStream holds the second chunk until a progress line about sent bytes appeared, and the
// answer until one about the node's work did.
type slowStream struct {
	grpc.ClientStream
	out    *watchedBuffer
	meta   *apb.LoadImageMetadata
	chunks int
	bytes  int
}

func (s *slowStream) Send(m *apb.LoadImageRequest) error {
	if m.GetMetadata() != nil {
		s.meta = m.GetMetadata()
		return nil
	}
	if s.chunks == 1 {
		if err := s.out.waitFor("1.0 MiB of 3.0 MiB sent (33%)"); err != nil {
			return err
		}
	}
	s.chunks++
	s.bytes += len(m.GetChunk())
	return nil
}

func (s *slowStream) CloseAndRecv() (*apb.LoadImageResponse, error) {
	if err := s.out.waitFor("checking and importing"); err != nil {
		return nil, err
	}
	return &apb.LoadImageResponse{Images: []*apb.LoadedImage{{Name: "example.com/big:v1"}}}, nil
}
