package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// devicePaths are tried in order. The resource manager device comes first: through it the
// kernel flushes whatever a crashed user left loaded, and several users can share the TPM.
var devicePaths = []string{"/dev/tpmrm0", "/dev/tpm0"}

// TPM is an open TPM 2.0. Its methods may be called from several goroutines; commands are
// sent one at a time.
type TPM struct {
	mu sync.Mutex
	t  transport.TPMCloser
}

// Open opens the machine's TPM: /dev/tpmrm0, or /dev/tpm0 on kernels without the resource
// manager device. Without either it returns an error wrapping ErrNoTPM.
func Open() (*TPM, error) {
	for _, path := range devicePaths {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		t, err := linuxtpm.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open TPM %s: %w", path, err)
		}
		return &TPM{t: t}, nil
	}
	return nil, ErrNoTPM
}

// OpenTransport uses rw as the TPM: a byte stream carrying TPM 2.0 commands and responses
// (e.g. swtpm's server socket), as in tests. Close closes rw.
func OpenTransport(rw io.ReadWriteCloser) *TPM {
	return &TPM{t: transport.FromReadWriteCloser(&framedStream{rw: rw})}
}

// Close closes the TPM device or transport.
func (t *TPM) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Close()
}

// framedStream makes each Read return one whole TPM response, which go-tpm expects from a
// single Read (as a TPM device gives it), although a stream socket may deliver a response in
// pieces.
type framedStream struct {
	rw io.ReadWriteCloser
}

// responseHeaderSize is a TPM response header's tag (2 bytes), size (4) and code (4); the size
// counts the whole response.
const responseHeaderSize = 10

func (f *framedStream) Write(p []byte) (int, error) { return f.rw.Write(p) }
func (f *framedStream) Close() error                { return f.rw.Close() }

func (f *framedStream) Read(p []byte) (int, error) {
	header := make([]byte, responseHeaderSize)
	if _, err := io.ReadFull(f.rw, header); err != nil {
		return 0, fmt.Errorf("read TPM response header: %w", err)
	}
	size := int(binary.BigEndian.Uint32(header[2:6]))
	if size < responseHeaderSize || size > len(p) {
		return 0, fmt.Errorf("TPM response of %d bytes does not fit (want %d to %d)", size, responseHeaderSize, len(p))
	}
	copy(p, header)
	if _, err := io.ReadFull(f.rw, p[responseHeaderSize:size]); err != nil {
		return 0, fmt.Errorf("read TPM response body: %w", err)
	}
	return size, nil
}
