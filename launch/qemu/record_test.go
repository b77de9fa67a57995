package qemu

import (
	"bufio"
	"strings"
	"testing"
)

const validRecord = `{"name":"local","image":"/img/node.img","network":{"Name":"local","Subnet":"10.77.0.0/24","Nodes":0},
"machine":{"cpus":2,"memory_mib":2048,"disk_size":4294967296,"firmware_code":"/c","firmware_vars":"/v"},
"nodes":[{"address":"10.77.0.2","mac":"52:54:00:70:80:01"}]}`

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		name, data, wantErr string
	}{
		{"valid", validRecord, ""},
		{"unknown field", strings.Replace(validRecord, `"image"`, `"node_binary":"x","image"`, 1), "unknown field"},
		{"no nodes", strings.Replace(validRecord, `[{"address":"10.77.0.2","mac":"52:54:00:70:80:01"}]`, `[]`, 1), "1 to 999 nodes are required"},
		{"bad MAC", strings.Replace(validRecord, `52:54:00:70:80:01`, `52:54`, 1), "node 1: mac"},
		{"bad address", strings.Replace(validRecord, `10.77.0.2`, `node1`, 1), `node 1: address "node1"`},
		{"a clock 5 minutes behind", strings.Replace(validRecord, `"mac":"52:54:00:70:80:01"`, `"mac":"52:54:00:70:80:01","clock_offset":-300000000000`, 1), ""},
		{"a clock 2 years off", strings.Replace(validRecord, `"mac":"52:54:00:70:80:01"`, `"mac":"52:54:00:70:80:01","clock_offset":63072000000000000`, 1), "node 1: clock_offset 17520h0m0s is more than 8760h0m0s"},
		{"not JSON", "{", "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseRecord([]byte(tc.data))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Name != "local" || c.NodeCount() != 1 || c.Machine.MemoryMiB != 2048 || c.Network.Subnet.String() != "10.77.0.0/24" {
					t.Errorf("got %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseRecord: the record is read back from disk, where anything may have happened to it.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(validRecord))
	f.Add([]byte(`{"nodes":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseRecord(data)
		if err == nil && (c.Name == "" || c.NodeCount() < 1) {
			t.Errorf("accepted a record without name or nodes: %q", data)
		}
	})
}

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		name, lines, wantErr string
	}{
		{"return", `{"return": {}}` + "\n", ""},
		{"events before the return", `{"timestamp": {"seconds": 1}, "event": "POWERDOWN"}` + "\n" + `{"return": {}}` + "\n", ""},
		{"error", `{"error": {"class": "CommandNotFound", "desc": "The command foo has not been found"}}` + "\n", "CommandNotFound: The command foo"},
		{"connection closed", `{"event": "SHUTDOWN"}` + "\n", "EOF"},
		{"garbage", "hello\n", "unreadable QMP line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readReply(bufio.NewReader(strings.NewReader(tc.lines)))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseQMP(f *testing.F) {
	f.Add([]byte(`{"QMP": {"version": {}, "capabilities": ["oob"]}}`))
	f.Add([]byte(`{"error": {"class": "GenericError", "desc": "x"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		_, _ = parseQMP(line) // must not panic
	})
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"\x1b[2J\x1b[01;01HBdsDxe: loading", "BdsDxe: loading"},
		{"\x1b[1m\x1b[37m\x1b[40miPXE\x1b[0m", "iPXE"},
		{"a\tb\r", "a\tb"},
		{"bell\x07 and del\x7f", "bell and del"},
		{"cut off \x1b[", "cut off "},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
