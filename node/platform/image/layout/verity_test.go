package layout

import (
	"bytes"
	"strings"
	"testing"
)

func TestVerityRoundTrip(t *testing.T) {
	v := Verity{DataBlocks: 1000, HashStartBlock: 1000, RootHash: bytes.Repeat([]byte{0xab}, 32), Salt: []byte{1, 2, 3}}
	got, err := ParseVerity(v.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != v.String() {
		t.Fatalf("round trip: %s != %s", got, v)
	}
	cmdline := "console=ttyS0 " + VerityCmdlineKey + "=" + v.String() + " quiet"
	val, ok := CmdlineValue(cmdline, VerityCmdlineKey)
	if !ok || val != v.String() {
		t.Fatalf("CmdlineValue = %q, %v", val, ok)
	}
	if _, ok := CmdlineValue(cmdline, "root"); ok {
		t.Fatal("found a key that is not there")
	}
}

func TestParseVerityRefuses(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct{ in, want string }{
		{"", "want DATABLOCKS"},
		{"1,1," + hash, "want DATABLOCKS"},
		{"0,1," + hash + ",01", "data block count"},
		{"x,1," + hash + ",01", "data block count"},
		{"10,5," + hash + ",01", "hash start block"},
		{"10,10,abcd,01", "root hash"},
		{"10,10," + hash + ",", "salt"},
		{"10,10," + hash + ",zz", "salt"},
	} {
		_, err := ParseVerity(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseVerity(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseVerity(f *testing.F) {
	f.Add("1000,1000," + strings.Repeat("ab", 32) + ",0102")
	f.Add("1,2,3,4")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVerity(s)
		if err != nil {
			return
		}
		again, err := ParseVerity(v.String())
		if err != nil || again.String() != v.String() {
			t.Fatalf("%q parsed, but its String %q does not round-trip: %v", s, v.String(), err)
		}
	})
}
