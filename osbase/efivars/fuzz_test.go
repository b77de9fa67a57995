package efivars

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseLoadOption checks that parsing never panics and that whatever parses encodes back to
// the bytes it came from and parses again to the same value.
func FuzzParseLoadOption(f *testing.F) {
	f.Add(goldenBytes(f))
	f.Add([]byte{})
	f.Add(unhex(f, "01000000 0800 0000 7fff 0400 0404 0400"))
	f.Add(unhex(f, "01000000 0c00 4100 0000 0101 0600 0102 7fff 0400 ff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := ParseLoadOption(in)
		if err != nil {
			return
		}
		b, err := o.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", o, err)
		}
		if !bytes.Equal(b, in) {
			t.Errorf("Marshal(Parse(x)) != x:\n got %x\nwant %x", b, in)
		}
		again, err := ParseLoadOption(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(again, o) {
			t.Errorf("re-parse = %+v, want %+v", again, o)
		}
	})
}
