package nodemgmt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/node/update/bundle/bundletest"
)

// fetch reads a whole bundle through FetchBundle, checking the size the first message gives.
func fetch(ctx context.Context, c apb.NodeManagementClient, sum []byte) ([]byte, error) {
	stream, err := c.FetchBundle(ctx, &apb.FetchBundleRequest{Sha256: sum})
	if err != nil {
		return nil, err
	}
	var out []byte
	var size int64 = -1
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if int64(len(out)) != size {
				return out, errors.New("size and bytes received differ")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if size < 0 {
			size = msg.GetSize()
		}
		out = append(out, msg.GetChunk()...)
	}
}

func TestFetchBundle(t *testing.T) {
	key := bundletest.NewKey(t)
	b := bundletest.Make(t, key, "2.0.0")
	keeper := update.NewKeeper(t.TempDir(), []ed25519.PublicKey{key.Public})
	if _, err := keeper.Keep(context.Background(), bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, testOptions{configure: func(c *Config) { c.Bundles = keeper }})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	sum := sha256.Sum256(b)
	got, err := fetch(ctx, tn.client, sum[:])
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("fetch the kept bundle: %d bytes, %v; want the bundle's %d", len(got), err, len(b))
	}
	if _, err := fetch(ctx, tn.client, make([]byte, 32)); status.Code(err) != codes.NotFound {
		t.Errorf("fetch a bundle not kept: %v, want NotFound", err)
	}
	if _, err := fetch(ctx, tn.client, []byte{1, 2}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("fetch with a 2-byte SHA-256: %v, want InvalidArgument", err)
	}
	none := startNode(t, testOptions{})
	if _, err := fetch(ctx, none.client, sum[:]); status.Code(err) != codes.NotFound {
		t.Errorf("fetch from a node that keeps no bundles: %v, want NotFound", err)
	}
}
