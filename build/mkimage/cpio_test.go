package mkimage

import (
	"bytes"
	"reflect"
	"testing"
)

func TestCpioRoundTrip(t *testing.T) {
	entries := []CpioEntry{
		{Name: "init", Mode: modeRegular | 0o755, Data: []byte("#binary")},
		{Name: "dev", Mode: modeDir | 0o755},
		{Name: "dev/console", Mode: modeCharDev | 0o600, RdevMajor: 5, RdevMinor: 1},
		{Name: "lib/modules/x/a.ko", Mode: modeRegular | 0o644, Data: bytes.Repeat([]byte{7}, 5)},
	}
	var a, b bytes.Buffer
	if err := writeCpio(&a, entries, sourceDateEpoch); err != nil {
		t.Fatal(err)
	}
	// Order of the input must not matter.
	reversed := []CpioEntry{entries[3], entries[2], entries[1], entries[0]}
	if err := writeCpio(&b, reversed, sourceDateEpoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same entries in another order gave another archive")
	}
	got, err := ReadCpio(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []CpioEntry{entries[1], entries[2], entries[0], entries[3]}
	for i := range want {
		if want[i].Data == nil {
			want[i].Data = []byte{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}

func TestWriteCpioRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []CpioEntry
	}{
		{"absolute name", []CpioEntry{{Name: "/init", Mode: modeRegular}}},
		{"empty name", []CpioEntry{{Name: "", Mode: modeRegular}}},
		{"duplicate", []CpioEntry{{Name: "a", Mode: modeDir}, {Name: "a", Mode: modeDir}}},
		{"directory with data", []CpioEntry{{Name: "a", Mode: modeDir, Data: []byte("x")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := writeCpio(&bytes.Buffer{}, tc.entries, 0); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestReadCpioRefusesMalformed(t *testing.T) {
	var good bytes.Buffer
	if err := writeCpio(&good, []CpioEntry{{Name: "init", Mode: modeRegular | 0o755, Data: []byte("abc")}}, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good.Bytes()[:good.Len()/2]},
		{"no trailer", good.Bytes()[:112+8]},
		{"bad magic", append([]byte("070707"), good.Bytes()[6:]...)},
		{"bad hex", append(append([]byte("070701"), []byte("zzzzzzzz")...), good.Bytes()[14:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadCpio(tc.data); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzReadCpio(f *testing.F) {
	var seed bytes.Buffer
	writeCpio(&seed, []CpioEntry{{Name: "init", Mode: modeRegular | 0o755, Data: []byte("abc")}, {Name: "dev", Mode: modeDir}}, 0)
	f.Add(seed.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadCpio(data)
		if err != nil {
			return
		}
		// Whatever parses must write back and parse to the same entries (names sorted).
		var out bytes.Buffer
		if err := writeCpio(&out, entries, 0); err != nil {
			return // e.g. duplicate or absolute names: writeCpio is stricter than the reader
		}
		if _, err := ReadCpio(out.Bytes()); err != nil {
			t.Fatalf("rewritten archive does not parse: %v", err)
		}
	})
}
