package nodemgmt

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/ociimage"
)

// fakeLoader is an ImageLoader that records the archives it was given (their content, read
// while the file exists) and answers with names or an error.
type fakeLoader struct {
	mu       sync.Mutex
	archives [][]byte
	paths    []string
	names    []string
	err      error
}

func (l *fakeLoader) LoadImage(_ context.Context, path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fake loader: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.archives = append(l.archives, data)
	l.paths = append(l.paths, path)
	return l.names, l.err
}

func (l *fakeLoader) calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.archives)
}

// testArchive is a valid OCI archive holding one image named name.
func testArchive(t testing.TB, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := ociimage.Write(&buf, ociimage.Image{
		Name:       name,
		Files:      []ociimage.File{{Path: "/app", Mode: 0o755, Data: []byte("binary")}},
		Entrypoint: []string{"/app"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload sends msgs on a LoadImage call and returns the answer.
func upload(t *testing.T, c apb.NodeManagementClient, msgs ...*apb.LoadImageRequest) (*apb.LoadImageResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	stream, err := c.LoadImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server ended the call; CloseAndRecv has its status
		}
	}
	return stream.CloseAndRecv()
}

func metadata(name string, size int) *apb.LoadImageRequest {
	return &apb.LoadImageRequest{Part: &apb.LoadImageRequest_Metadata{Metadata: &apb.LoadImageMetadata{Name: name, Size: int64(size)}}}
}

func chunk(data []byte) *apb.LoadImageRequest {
	return &apb.LoadImageRequest{Part: &apb.LoadImageRequest_Chunk{Chunk: data}}
}

// chunked is metadata then data in pieces of n bytes.
func chunked(name string, data []byte, size, n int) []*apb.LoadImageRequest {
	msgs := []*apb.LoadImageRequest{metadata(name, size)}
	for len(data) > 0 {
		k := min(n, len(data))
		msgs = append(msgs, chunk(data[:k]))
		data = data[k:]
	}
	return msgs
}

func TestLoadImage(t *testing.T) {
	const imageName = "example.com/app:v1"
	good := testArchive(t, imageName)
	corrupted := bytes.Clone(good)
	corrupted[len(corrupted)/2] ^= 0xff
	dockerSave := tarOf(t, map[string]string{"manifest.json": `[{"Config":"x.json"}]`})
	shortName := testArchiveRefName(t, "v1")

	cases := []struct {
		name      string
		msgs      []*apb.LoadImageRequest
		loaderErr error
		maxSize   int64
		wantCode  codes.Code
		wantMsg   string // in the status message
		wantLoads int
	}{
		{name: "good archive, known size", msgs: chunked("app.tar", good, len(good), 1000), wantCode: codes.OK, wantLoads: 1},
		{name: "good archive, unknown size", msgs: chunked("", good, 0, 1<<20), wantCode: codes.OK, wantLoads: 1},
		{name: "corrupted archive", msgs: chunked("bad.tar", corrupted, len(corrupted), 4096), wantCode: codes.InvalidArgument, wantMsg: "not a valid OCI image-layout archive"},
		{name: "docker save format", msgs: chunked("docker.tar", dockerSave, 0, 4096), wantCode: codes.InvalidArgument, wantMsg: "no oci-layout file"},
		{name: "image without a full name", msgs: chunked("short.tar", shortName, 0, 4096), wantCode: codes.InvalidArgument, wantMsg: `org.opencontainers.image.ref.name "v1" is not a full reference`},
		{name: "no worker", msgs: chunked("app.tar", good, 0, 4096), loaderErr: fmt.Errorf("kubernetes worker: %w", ErrNoWorker), wantCode: codes.FailedPrecondition, wantMsg: "runs no Kubernetes worker", wantLoads: 1},
		{name: "loader fails", msgs: chunked("app.tar", good, 0, 4096), loaderErr: fmt.Errorf("containerd: disk on fire"), wantCode: codes.Internal, wantMsg: "disk on fire", wantLoads: 1},
		{name: "declared size over the limit", msgs: chunked("big.tar", good, 1<<20, 4096), maxSize: 1 << 16, wantCode: codes.InvalidArgument, wantMsg: "more than the limit of 65536 bytes"},
		{name: "upload over the limit", msgs: chunked("big.tar", good, 0, 4096), maxSize: int64(len(good)) - 1, wantCode: codes.InvalidArgument, wantMsg: fmt.Sprintf("larger than the limit of %d bytes", len(good)-1)},
		{name: "upload over its declared size", msgs: chunked("app.tar", good, 100, 4096), wantCode: codes.InvalidArgument, wantMsg: "larger than metadata.size, 100 bytes"},
		{name: "upload short of its declared size", msgs: chunked("app.tar", good, len(good)+1, 4096), wantCode: codes.InvalidArgument, wantMsg: fmt.Sprintf("ended after %d bytes; metadata.size said %d", len(good), len(good)+1)},
		{name: "no message at all", msgs: nil, wantCode: codes.InvalidArgument, wantMsg: "ended before its metadata"},
		{name: "ended before any data", msgs: []*apb.LoadImageRequest{metadata("app.tar", 0)}, wantCode: codes.InvalidArgument, wantMsg: "ended before any byte"},
		{name: "data before metadata", msgs: []*apb.LoadImageRequest{chunk(good)}, wantCode: codes.InvalidArgument, wantMsg: "first message carries no metadata"},
		{name: "metadata twice", msgs: append(chunked("app.tar", good, 0, 4096), metadata("again", 0)), wantCode: codes.InvalidArgument, wantMsg: "second metadata message"},
		{name: "negative size", msgs: chunked("app.tar", good, -1, 4096), wantCode: codes.InvalidArgument, wantMsg: "metadata.size is -1"},
		{name: "name too long", msgs: chunked(strings.Repeat("x", 257), good, 0, 4096), wantCode: codes.InvalidArgument, wantMsg: "metadata.name is 257 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loader := &fakeLoader{names: []string{imageName}, err: tc.loaderErr}
			spool := filepath.Join(t.TempDir(), "spool")
			tn := startNode(t, testOptions{configure: func(c *Config) {
				c.Images, c.SpoolDir, c.MaxImageArchiveSize = loader, spool, tc.maxSize
			}})
			res, err := upload(t, tn.client, tc.msgs...)
			if got := status.Code(err); got != tc.wantCode || !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Fatalf("LoadImage = %v, want %v with %q", err, tc.wantCode, tc.wantMsg)
			}
			if got := loader.calls(); got != tc.wantLoads {
				t.Fatalf("loader called %d times, want %d", got, tc.wantLoads)
			}
			if tc.wantLoads > 0 && !bytes.Equal(loader.archives[0], good) {
				t.Error("the loader was given other bytes than the client sent")
			}
			if tc.wantCode == codes.OK {
				if len(res.Images) != 1 || res.Images[0].Name != imageName || !strings.HasPrefix(res.Images[0].Digest, "sha256:") {
					t.Errorf("response %v, want %s with its digest", res, imageName)
				}
				eventually.Pass(t, patience, "import logged", func(context.Context) error { return logged(tn.logs, serviceDN, "imported [example.com/app:v1]") })
			}
			left, _ := filepath.Glob(filepath.Join(spool, "*"))
			if len(left) != 0 {
				t.Errorf("spool directory still holds %v", left)
			}
		})
	}
}

func TestLoadImageWithoutLoader(t *testing.T) {
	tn := startNode(t, testOptions{})
	good := testArchive(t, "example.com/app:v1")
	_, err := upload(t, tn.client, chunked("app.tar", good, 0, 4096)...)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "runs no Kubernetes worker") {
		t.Fatalf("LoadImage on a node without an ImageLoader = %v, want FailedPrecondition", err)
	}
}

// TestLoadImageOneAtATime shows that a second upload is refused while one is under way, and
// that the next upload removes a file a crashed upload left behind.
func TestLoadImageOneAtATime(t *testing.T) {
	spool := t.TempDir()
	leftover := filepath.Join(spool, "load-image-123.tar")
	if err := os.WriteFile(leftover, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	loader := &fakeLoader{names: []string{"example.com/app:v1"}}
	tn := startNode(t, testOptions{configure: func(c *Config) { c.Images, c.SpoolDir = loader, spool }})

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	first, err := tn.client.LoadImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Send(metadata("first.tar", 0)); err != nil {
		t.Fatal(err)
	}
	// The first upload holds the node once its spool file exists.
	eventually.Pass(t, patience, "first upload spooling", func(context.Context) error {
		files, _ := filepath.Glob(filepath.Join(spool, "load-image-*.tar"))
		if len(files) != 1 || files[0] == leftover {
			return fmt.Errorf("spool holds %v", files)
		}
		return nil
	})
	_, err = upload(t, tn.client, chunked("second.tar", testArchive(t, "example.com/app:v1"), 0, 4096)...)
	if status.Code(err) != codes.Aborted {
		t.Fatalf("second upload = %v, want Aborted", err)
	}
	for _, m := range chunked("first.tar", testArchive(t, "example.com/app:v1"), 0, 4096)[1:] {
		if err := first.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.CloseAndRecv(); err != nil {
		t.Fatalf("first upload: %v", err)
	}
}

func TestImageName(t *testing.T) {
	cases := []struct {
		annotation, refName string
		want                string // empty: refused
	}{
		{"example.com/app:v1", "", "example.com/app:v1"},
		{"example.com/app:v1", "v1", "example.com/app:v1"},
		{"", "docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"", "v1", ""},
		{"", "nginx:1.27", ""},
		{"", "", ""},
		{"Example.com/App:v1", "", ""},
	}
	for _, c := range cases {
		got, err := imageName(c.annotation, c.refName)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("imageName(%q, %q) = %q, %v; want %q", c.annotation, c.refName, got, err, c.want)
		}
	}
}

// FuzzImageName: names come from uploaded archives; whatever is accepted is a full reference
// returned unchanged.
func FuzzImageName(f *testing.F) {
	f.Add("example.com/app:v1", "")
	f.Add("", "v1")
	f.Add("", "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, annotation, refName string) {
		got, err := imageName(annotation, refName)
		if err != nil {
			return
		}
		if got != annotation && (annotation != "" || got != refName) {
			t.Fatalf("imageName(%q, %q) = %q, not one of its inputs", annotation, refName, got)
		}
		if again, err := imageName(got, ""); err != nil || again != got {
			t.Fatalf("accepted %q but not on its own: %q, %v", got, again, err)
		}
	})
}

// tarOf is a tar archive of the given files.
func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testArchiveRefName is a valid archive whose only name is refName in
// org.opencontainers.image.ref.name, as skopeo writes a bare tag.
func testArchiveRefName(t testing.TB, refName string) []byte {
	t.Helper()
	var out bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(testArchive(t, "example.com/app:v1")))
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "index.json" {
			var index ocispec.Index
			if err := json.Unmarshal(data, &index); err != nil {
				t.Fatal(err)
			}
			index.Manifests[0].Annotations = map[string]string{ocispec.AnnotationRefName: refName}
			if data, err = json.Marshal(index); err != nil {
				t.Fatal(err)
			}
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
