package efivars

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// unhex decodes hex written with spaces and line breaks between fields.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenOption and goldenBytes were put together by hand from UEFI specification 3.1.3 (load
// option), 10.3.5.1 (hard drive node) and 10.3.5.4 (file path node), not from this package.
var goldenOption = &LoadOption{
	Attributes:  LoadOptionActive,
	Description: "A",
	FilePath: DevicePath{
		&HardDrivePath{
			PartitionNumber: 1,
			PartitionStart:  0x800,
			PartitionSize:   0x100000,
			PartitionGUID:   uuid.MustParse("11223344-5566-7788-99aa-bbccddeeff00"),
		},
		&FilePathNode{Path: `\EFI\a.efi`},
	},
	OptionalData: []byte("xy"),
}

const goldenHex = `
	01000000   attributes: LOAD_OPTION_ACTIVE
	4800       FilePathListLength: 42 + 26 + 4 = 72
	4100 0000  description "A", NUL

	04 01 2a00                        hard drive node: media, subtype 1, length 42
	01000000                          partition number 1
	0008000000000000                  start LBA 0x800
	0000100000000000                  size 0x100000 LBAs
	44332211 6655 8877 99aabbccddeeff00  GUID 11223344-5566-7788-99aa-bbccddeeff00, EFI_GUID order
	02                                partition format GPT
	02                                signature type GUID

	04 04 1a00                        file path node: media, subtype 4, length 26
	5c00 4500 4600 4900 5c00 6100 2e00 6500 6600 6900 0000   "\EFI\a.efi", NUL

	7f ff 0400                        end of entire device path

	7879                              optional data "xy"
`

// goldenBytes strips the comments from goldenHex: every field above is hex, everything
// after two spaces on a line is prose.
func goldenBytes(t testing.TB) []byte {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(goldenHex, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "  "); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(line + " ")
	}
	return unhex(t, sb.String())
}

func TestLoadOptionGolden(t *testing.T) {
	want := goldenBytes(t)
	got, err := goldenOption.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal:\n got %x\nwant %x", got, want)
	}
	parsed, err := ParseLoadOption(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, goldenOption) {
		t.Errorf("ParseLoadOption = %+v, want %+v", parsed, goldenOption)
	}
}

func TestLoadOptionRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    *LoadOption
	}{
		{"empty", &LoadOption{}},
		{"slot A", &LoadOption{
			Attributes:  LoadOptionActive,
			Description: "Metropolis Slot A",
			FilePath: DevicePath{
				&HardDrivePath{PartitionNumber: 1, PartitionStart: 2048, PartitionSize: 1 << 20, PartitionGUID: uuid.New()},
				&FilePathNode{Path: `\EFI\metropolis\boot-a.efi`},
			},
		}},
		{"non-ASCII and astral description", &LoadOption{Description: "Größe 🚀"}},
		{"unknown nodes and a second device path", &LoadOption{
			FilePath: DevicePath{
				&UnknownNode{Type: 0x02, SubType: 0x01, Data: []byte{0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0}},
				&UnknownNode{Type: typeEnd, SubType: subtypeEndEntire},
				&UnknownNode{Type: 0x04, SubType: 0x03, Data: bytes.Repeat([]byte{0xab}, 16)},
			},
			OptionalData: []byte{1, 2, 3},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.o.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseLoadOption(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.o) {
				t.Errorf("round trip = %+v, want %+v", got, tc.o)
			}
		})
	}
}

func TestLoadOptionMarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    *LoadOption
		want string
	}{
		{"NUL in description", &LoadOption{Description: "a\x00b"}, "description: contains NUL"},
		{"invalid UTF-8 description", &LoadOption{Description: "\xff"}, "description: not valid UTF-8"},
		{"NUL in path", &LoadOption{FilePath: DevicePath{&FilePathNode{Path: "a\x00"}}}, "node 0 (type 0x04/0x04): contains NUL"},
		{"nil node", &LoadOption{FilePath: DevicePath{nil}}, "node 0 is nil"},
		{"oversized node", &LoadOption{FilePath: DevicePath{&UnknownNode{Data: make([]byte, 0xffff)}}}, "more than a node can hold"},
		{"oversized file path list", &LoadOption{FilePath: DevicePath{
			&UnknownNode{Data: make([]byte, 0x8000)}, &UnknownNode{Data: make([]byte, 0x8000)},
		}}, "more than FilePathListLength can hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.Marshal()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Marshal error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseLoadOptionErrors(t *testing.T) {
	golden := goldenBytes(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "0 bytes, shorter than its 6-byte header"},
		{"truncated header", golden[:5], "5 bytes, shorter than its 6-byte header"},
		{"no description terminator", unhex(t, "01000000 0000 4100"), "description: no NUL terminator"},
		{"odd description", unhex(t, "01000000 0000 4100 41"), "description: no NUL terminator"},
		{"unpaired surrogate", unhex(t, "01000000 0000 00d8 0000"), "unpaired UTF-16 surrogate"},
		{"file path list past the end", golden[:20], "FilePathListLength 72 runs past the 10 bytes left"},
		{"empty file path list", unhex(t, "01000000 0000 0000"), "no end node after 0 nodes"},
		{"missing end node", unhex(t, "01000000 0800 0000 0404 0400 0404 0400"), "no end node after 2 nodes"},
		{"end node not last", unhex(t, "01000000 0800 0000 7fff 0400 0404 0400"), "no end node after 2 nodes"},
		{"node shorter than header", unhex(t, "01000000 0400 0000 7fff 0200"), "length 2 is shorter than its header"},
		{"node past the list", unhex(t, "01000000 0400 0000 7fff 0800 0000 0000"), "length 8 runs past the 4 bytes left"},
		{"partial node header", unhex(t, "01000000 0600 0000 7fff 0400 7f00"), "2 bytes left, too short for a node header"},
		{"end node with data", unhex(t, "01000000 0600 0000 7fff 0600 0000"), "end node has length 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseLoadOption(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseLoadOption = %+v, %v; want error containing %q", o, err, tc.want)
			}
		})
	}
}

// TestParseNodeFallback checks that nodes in a form this package would not write itself stay
// raw, so that they re-encode to the same bytes.
func TestParseNodeFallback(t *testing.T) {
	hd := (&HardDrivePath{PartitionNumber: 1}).mustBody(t)
	mbr := append(append([]byte(nil), hd[:36]...), 0x01, 0x01)
	for _, tc := range []struct {
		name     string
		typ, sub uint8
		data     []byte
		want     DevicePathNode
	}{
		{"GPT hard drive", typeMedia, subtypeHardDisk, hd, &HardDrivePath{PartitionNumber: 1}},
		{"MBR hard drive", typeMedia, subtypeHardDisk, mbr, &UnknownNode{Type: typeMedia, SubType: subtypeHardDisk, Data: mbr}},
		{"short hard drive", typeMedia, subtypeHardDisk, hd[:37], &UnknownNode{Type: typeMedia, SubType: subtypeHardDisk, Data: hd[:37]}},
		{"file path", typeMedia, subtypeFilePath, unhex(t, "5c00 0000"), &FilePathNode{Path: `\`}},
		{"padded file path", typeMedia, subtypeFilePath, unhex(t, "5c00 0000 0000"), &UnknownNode{Type: typeMedia, SubType: subtypeFilePath, Data: unhex(t, "5c00 0000 0000")}},
		{"odd file path", typeMedia, subtypeFilePath, unhex(t, "5c00 00"), &UnknownNode{Type: typeMedia, SubType: subtypeFilePath, Data: unhex(t, "5c00 00")}},
		{"other type", 0x01, 0x01, []byte{1, 2}, &UnknownNode{Type: 0x01, SubType: 0x01, Data: []byte{1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNode(tc.typ, tc.sub, tc.data); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseNode = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func (h *HardDrivePath) mustBody(t *testing.T) []byte {
	t.Helper()
	b, err := h.body()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGUIDByteOrder(t *testing.T) {
	u := uuid.MustParse("11223344-5566-7788-99aa-bbccddeeff00")
	want := unhex(t, "44332211 6655 8877 99aabbccddeeff00")
	got := guidToDisk(u)
	if !bytes.Equal(got[:], want) {
		t.Errorf("guidToDisk = %x, want %x", got, want)
	}
	if back := guidFromDisk(got); back != u {
		t.Errorf("guidFromDisk = %v, want %v", back, u)
	}
	if GlobalVariable != uuid.MustParse("8be4df61-93ca-11d2-aa0d-00e098032b8c") {
		t.Errorf("GlobalVariable = %v", GlobalVariable)
	}
}
