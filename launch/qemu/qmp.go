package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpResponse is one line QEMU sends on its QMP socket: a greeting, an event, or the reply to
// a command (return or error).
type qmpResponse struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// qmpExecute runs one QMP command without arguments on the QEMU listening on socket.
func qmpExecute(ctx context.Context, socket, command string) error {
	return qmpExecuteWith(ctx, socket, command, nil)
}

// qmpExecuteWith runs one QMP command with arguments (marshalled to JSON; nil: none).
func qmpExecuteWith(ctx context.Context, socket, command string, arguments any) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	r := bufio.NewReader(conn)
	if _, err := readQMP(r); err != nil { // the greeting
		return fmt.Errorf("qmp %s: greeting: %w", command, err)
	}
	// Commands other than qmp_capabilities are refused until it has been sent.
	for _, cmd := range []qmpCommand{{Execute: "qmp_capabilities"}, {Execute: command, Arguments: arguments}} {
		line, err := json.Marshal(cmd)
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd.Execute, err)
		}
		if _, err := conn.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd.Execute, err)
		}
		if err := readReply(r); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd.Execute, err)
		}
	}
	return nil
}

// qmpCommand is a command line sent to QEMU.
type qmpCommand struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
}

// readReply reads lines until the reply to the last command, skipping events.
func readReply(r *bufio.Reader) error {
	for {
		resp, err := readQMP(r)
		if err != nil {
			return err
		}
		switch {
		case resp.Error != nil:
			return fmt.Errorf("%s: %s", resp.Error.Class, resp.Error.Desc)
		case resp.Return != nil:
			return nil
		}
	}
}

func readQMP(r *bufio.Reader) (*qmpResponse, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	return parseQMP(line)
}

// parseQMP decodes one line of QMP.
func parseQMP(line []byte) (*qmpResponse, error) {
	var resp qmpResponse
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("unreadable QMP line %q: %w", line, err)
	}
	return &resp, nil
}
