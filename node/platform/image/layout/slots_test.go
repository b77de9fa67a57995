package layout

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestChooseSlot(t *testing.T) {
	salt := []byte("salt")
	top := bytes.Repeat([]byte{9}, VerityBlockSize)
	root := sha256.Sum256(append(append([]byte{}, salt...), top...))
	v := Verity{DataBlocks: 1, HashStartBlock: 1, RootHash: root[:], Salt: salt}
	other := bytes.Repeat([]byte{8}, VerityBlockSize)
	for _, tc := range []struct {
		name   string
		blocks map[string][]byte
		want   string
		err    string
	}{
		{"in A", map[string][]byte{"A": top, "B": other}, "A", ""},
		{"in B", map[string][]byte{"A": other, "B": top}, "B", ""},
		{"B unreadable", map[string][]byte{"A": top}, "A", ""},
		{"in neither", map[string][]byte{"A": other, "B": other}, "", "neither system slot"},
		{"short block", map[string][]byte{"A": top[:100], "B": other}, "", "neither system slot"},
		{"in both", map[string][]byte{"A": top, "B": top}, "", "both system slots"},
	} {
		got, err := ChooseSlot(v, tc.blocks)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.err)
		}
	}
	if OtherSlot("A") != "B" || OtherSlot("B") != "A" || SlotPartitionName("B") != NameSystemB || ESPSlotUKIPath("B") != "/EFI/metropolis/boot-b.efi" {
		t.Error("slot names")
	}
}
