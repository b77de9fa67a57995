package config

import (
	"reflect"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to the context file parser: it must never panic, and
// whatever it accepts must survive a write and a read unchanged (so a file metroctl rewrites
// keeps its meaning).
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("endpoints:\n- 10.0.0.1:7835\n"))
	f.Add([]byte("endpoints: []\n"))
	f.Add([]byte("{\"endpoints\": [\"[fd00::1]:1\"]}"))
	f.Add([]byte("endpoints: [a, a]\n"))
	f.Add([]byte("endpoints: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := ParseContextFile(data)
		if err != nil {
			return
		}
		out, err := parsed.Marshal()
		if err != nil {
			t.Fatalf("accepted %q but cannot write it back: %v", data, err)
		}
		again, err := ParseContextFile(out)
		if err != nil {
			t.Fatalf("cannot read back %q (from %q): %v", out, data, err)
		}
		if len(parsed.Endpoints) == 0 && len(again.Endpoints) == 0 {
			return // nil and empty lists mean the same
		}
		if !reflect.DeepEqual(parsed, again) {
			t.Fatalf("round trip changed %+v into %+v", parsed, again)
		}
	})
}
