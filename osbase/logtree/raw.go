package logtree

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxRawLineLength caps a raw line in bytes. A process that prints a huge
// blob without newlines must not turn into one huge entry.
const MaxRawLineLength = 4096

// TruncationMarker ends a raw line that was cut at MaxRawLineLength; the rest
// of that line, up to its newline, is dropped.
const TruncationMarker = " …[line truncated]"

// LineParser turns one raw line into a leveled entry, returning false to keep
// the line raw. ParseKlog is one.
type LineParser func(line string) (ExternalEntry, bool)

// RawOption configures RawFor.
type RawOption func(*rawWriter)

// WithLineParser makes the writer offer every complete line to p first.
func WithLineParser(p LineParser) RawOption {
	return func(w *rawWriter) { w.parser = p }
}

// RawFor returns a writer that splits whatever is written to it into lines
// and stores each as a raw entry of dn. It is meant for a child process's
// stdout or stderr: writes may carry partial lines or many lines. Close
// flushes a final line that has no newline. The writer is safe for
// concurrent use, but concurrent writers of partial lines interleave, so give
// each stream its own writer.
func (t *LogTree) RawFor(dn DN, opts ...RawOption) (io.WriteCloser, error) {
	n, err := t.lookup(dn)
	if err != nil {
		return nil, fmt.Errorf("raw writer: %w", err)
	}
	w := &rawWriter{tree: t, node: n}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

type rawWriter struct {
	tree   *LogTree
	node   *node
	parser LineParser

	mu  sync.Mutex
	buf []byte
	// discarding is set once a line has been emitted truncated: its remaining
	// bytes are dropped until the next newline.
	discarding bool
	closed     bool
}

func (w *rawWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	written := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			break
		}
		w.add(p[:i])
		w.endLine()
		p = p[i+1:]
	}
	return written, nil
}

// add appends part of a line, emitting it truncated once it grows too long.
func (w *rawWriter) add(chunk []byte) {
	if w.discarding {
		return
	}
	room := MaxRawLineLength - len(w.buf)
	if len(chunk) <= room {
		w.buf = append(w.buf, chunk...)
		return
	}
	// Keep one byte past the limit to see whether the cut splits a rune.
	w.buf = append(w.buf, chunk[:room+1]...)
	cut := MaxRawLineLength
	for cut > 0 && !utf8.RuneStart(w.buf[cut]) {
		cut--
	}
	w.emit(string(w.buf[:cut])+TruncationMarker, true)
	w.buf = w.buf[:0]
	w.discarding = true
}

func (w *rawWriter) endLine() {
	if w.discarding {
		w.discarding = false
		return
	}
	line := strings.TrimSuffix(string(w.buf), "\r")
	w.buf = w.buf[:0]
	if w.parser != nil {
		if e, ok := w.parser(line); ok {
			w.tree.appendExternal(w.node, e)
			return
		}
	}
	w.emit(line, false)
}

func (w *rawWriter) emit(line string, truncated bool) {
	w.tree.append(w.node, newRawEntry(w.node.dn, time.Now(), line, truncated))
}

// Close flushes an unterminated last line. Writes after Close fail.
func (w *rawWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	if len(w.buf) > 0 {
		w.endLine()
	}
	w.closed = true
	return nil
}
