package qemu

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"metropolis.dev/metropolis/launch/grow"
)

// DefaultWaitTimeout bounds every wait of a launch. Under TCG a node takes 30 to 60 s from
// power-on to its curator API, and several emulated VMs share few host cores.
const DefaultWaitTimeout = 10 * time.Minute

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
func (c *Cluster) reportConsole(p *grow.Progress, i int) {
	p.Step("node %d: last lines of its console (all of it in %s):\n%s", i, c.LogPath(i), tail(c.LogPath(i), 20))
}
