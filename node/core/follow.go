package core

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// bundleFetcher fetches rollout bundles from other nodes' node management API with this
// node's certificate (node/update.FollowConfig.Fetch).
func bundleFetcher(ca *x509.Certificate, cert *pki.Renewable) func(ctx context.Context, src *cpb.BundleSource, sum []byte) (io.ReadCloser, error) {
	return func(ctx context.Context, src *cpb.BundleSource, sum []byte) (io.ReadCloser, error) {
		conn, err := rpc.DialNode(src.GetAddress(), src.GetNodeId(), ca, cert.Current())
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(ctx)
		stream, err := apb.NewNodeManagementClient(conn).FetchBundle(ctx, &apb.FetchBundleRequest{Sha256: sum})
		if err != nil {
			cancel()
			conn.Close()
			return nil, fmt.Errorf("fetch bundle: %w", err)
		}
		return &fetchReader{stream: stream, conn: conn, cancel: cancel}, nil
	}
}

// fetchReader reads a FetchBundle stream as one byte stream.
type fetchReader struct {
	stream grpc.ServerStreamingClient[apb.FetchBundleResponse]
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	buf    []byte
}

func (f *fetchReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		msg, err := f.stream.Recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, fmt.Errorf("fetch bundle: %w", err)
		}
		f.buf = msg.GetChunk()
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func (f *fetchReader) Close() error {
	f.cancel()
	return f.conn.Close()
}
