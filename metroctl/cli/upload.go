package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// sendFile sends the file at path (size bytes) in chunks through send, after the metadata
// message sendMeta, saying how far it got every interval, and then how long the server has
// been at serverWork, until the caller calls the returned stop (once it has the server's answer).
// io.EOF from a send means the server ended the call (a refusal): sendFile stops without
// error, and the call's answer says why.
func sendFile(path string, size int64, progress io.Writer, interval time.Duration, serverWork string, sendMeta func() error, send func(chunk []byte) error) (stop func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return func() {}, err
	}
	defer f.Close()
	var sent atomic.Int64
	allSent := make(chan time.Time, 1)
	stop = reportProgress(progress, interval, filepath.Base(path), serverWork, size, &sent, allSent)
	if err := sendMeta(); err != nil && !errors.Is(err, io.EOF) {
		return stop, err
	}
	buf := make([]byte, imageChunkSize)
	for {
		n, rerr := io.ReadFull(f, buf)
		if n > 0 {
			if err := send(buf[:n]); errors.Is(err, io.EOF) {
				return stop, nil
			} else if err != nil {
				return stop, err
			}
			sent.Add(int64(n))
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return stop, fmt.Errorf("reading %s: %w", path, rerr)
		}
	}
	allSent <- time.Now()
	return stop, nil
}
