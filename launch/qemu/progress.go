package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress prints timestamped steps, and keeps printing while a step waits, so that nobody
// stares at a silent terminal.
type progress struct {
	out   io.Writer
	start time.Time
	// waitTimeout bounds each wait.
	waitTimeout time.Duration
}

func newProgress(out io.Writer, waitTimeout time.Duration) *progress {
	if out == nil {
		out = io.Discard
	}
	if waitTimeout == 0 {
		waitTimeout = DefaultWaitTimeout
	}
	return &progress{out: out, start: time.Now(), waitTimeout: waitTimeout}
}

func (p *progress) step(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// DefaultWaitTimeout bounds every wait of a launch. Under TCG a node takes 30 to 60 s from
// power-on to its curator API, and several emulated VMs share few host cores.
const DefaultWaitTimeout = 10 * time.Minute

// sayEvery is how often a wait says that it still waits.
const sayEvery = 5 * time.Second

// permanent wraps an error that waiting will not cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }

// waitForValue calls try until it succeeds, saying every few seconds what it waits for, for
// how long, and the last error, until p.waitTimeout.
func waitForValue[T any](ctx context.Context, p *progress, what string, try func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, p.waitTimeout)
	defer cancel()
	p.step("waiting for %s", what)
	start, lastSaid := time.Now(), time.Now()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		v, err := try(attempt)
		cancelAttempt()
		if err == nil {
			return v, nil
		}
		var stop permanent
		if errors.As(err, &stop) {
			var zero T
			return zero, stop.err
		}
		if time.Since(lastSaid) >= sayEvery {
			p.step("still waiting for %s (%ds): %v", what, int(time.Since(start).Seconds()), err)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of the file at path, or why it cannot.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	// Firmware writes terminal control sequences and carriage returns; a line ends at \n.
	lines := bytes.Split(bytes.TrimRight(data, "\r\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(sanitize(string(l)), "\r"))
		b.WriteByte('\n')
	}
	return b.String()
}

// sanitize drops ANSI escape sequences and other control characters but tabs, so that a
// console's end prints cleanly on the launcher's terminal.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b: // ESC [ ... final byte in 0x40-0x7e
			if i+1 < len(s) && s[i+1] == '[' {
				i += 2
				for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
					i++
				}
			}
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// reportConsole prints the end of node i's serial console and where the whole of it is.
func (c *Cluster) reportConsole(p *progress, i int) {
	p.step("node %d: last lines of its console (all of it in %s):\n%s", i, c.LogPath(i), tail(c.LogPath(i), 20))
}
