package devicemapper

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestRequestNumbers(t *testing.T) {
	// Values from linux/dm-ioctl.h as compiled on amd64 (strace shows them the same way).
	for _, tc := range []struct {
		cmd  command
		want uintptr
	}{
		{cmdVersion, 0xc138fd00},
		{cmdDevCreate, 0xc138fd03},
		{cmdDevRemove, 0xc138fd04},
		{cmdDevSuspend, 0xc138fd06},
		{cmdTableLoad, 0xc138fd09},
		{cmdTableStatus, 0xc138fd0c},
	} {
		if got := tc.cmd.request(); got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.cmd, got, tc.want)
		}
	}
}

func TestEncodeTableLoad(t *testing.T) {
	buf, err := request{name: "system", flags: flagReadOnly, targets: []Target{
		{Start: 0, Length: 8, Type: "verity", Params: "abc"},
		{Start: 8, Length: 16, Type: "zero", Params: ""},
	}}.encode()
	if err != nil {
		t.Fatal(err)
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(buf[off:]) }
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(buf[off:]) }
	// First spec: 40 bytes + "abc\0" = 44, aligned to 48; second: 40 + "\0" = 41 -> 48.
	wantSize := 312 + 48 + 48
	for _, tc := range []struct {
		what      string
		got, want uint64
	}{
		{"version major", uint64(u32(0)), 4},
		{"data_size", uint64(u32(12)), uint64(wantSize)},
		{"data_start", uint64(u32(16)), 312},
		{"target_count", uint64(u32(20)), 2},
		{"flags", uint64(u32(28)), flagReadOnly},
		{"spec 1 start", u64(312), 0},
		{"spec 1 length", u64(320), 8},
		{"spec 1 next", uint64(u32(312 + 20)), 48},
		{"spec 2 start", u64(360), 8},
		{"spec 2 length", u64(368), 16},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.what, tc.got, tc.want)
		}
	}
	if len(buf) != wantSize {
		t.Errorf("buffer is %d bytes, want %d", len(buf), wantSize)
	}
	if got := cString(buf[48:176]); got != "system" {
		t.Errorf("name = %q", got)
	}
	if got := cString(buf[312+24 : 312+40]); got != "verity" {
		t.Errorf("spec 1 type = %q", got)
	}
	if got := cString(buf[312+40:]); got != "abc" {
		t.Errorf("spec 1 params = %q", got)
	}
	if got := cString(buf[360+24 : 360+40]); got != "zero" {
		t.Errorf("spec 2 type = %q", got)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  request
		want string
	}{
		{"long name", request{name: strings.Repeat("x", 128)}, "longer than 127"},
		{"slash in name", request{name: "a/b"}, "contains NUL or /"},
		{"long target type", request{name: "a", targets: []Target{{Type: strings.Repeat("t", 16)}}}, "target type"},
		{"NUL in params", request{name: "a", targets: []Target{{Type: "crypt", Params: "a\x00b"}}}, "crypt target parameters contain NUL"},
	} {
		if _, err := tc.req.encode(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

// statusReply builds a DM_TABLE_STATUS reply as dm-ioctl.c's retrieve_status writes it.
func statusReply(dev uint64, statuses ...Target) []byte {
	buf := make([]byte, 4096)
	binary.LittleEndian.PutUint32(buf[offDataStart:], ioctlHeaderSize)
	binary.LittleEndian.PutUint32(buf[offTargetCount:], uint32(len(statuses)))
	binary.LittleEndian.PutUint64(buf[offDev:], dev)
	out := buf[ioctlHeaderSize:]
	off := 0
	for _, s := range statuses {
		spec := out[off:]
		binary.LittleEndian.PutUint64(spec[0:], s.Start)
		binary.LittleEndian.PutUint64(spec[8:], s.Length)
		copy(spec[24:], s.Type)
		copy(spec[40:], s.Params)
		off = align8(off + 40 + len(s.Params) + 1)
		binary.LittleEndian.PutUint32(spec[20:], uint32(off))
	}
	binary.LittleEndian.PutUint32(buf[offDataSize:], uint32(ioctlHeaderSize+off))
	return buf
}

func TestDecodeStatus(t *testing.T) {
	// dm-3 on major 253; minor 300 checks the high minor bits of huge_encode_dev.
	dev := uint64(300&0xff) | 253<<8 | uint64(300&^0xff)<<12
	want := []Target{{0, 16, "verity", "V"}, {16, 8, "linear", ""}}
	r, err := decodeReply(statusReply(dev, want...))
	if err != nil {
		t.Fatal(err)
	}
	if r.devMajor() != 253 || r.devMinor() != 300 {
		t.Errorf("dev = %d:%d, want 253:300", r.devMajor(), r.devMinor())
	}
	got, err := r.targetStatuses()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// A reply without data (DM_DEV_CREATE) has data_size 305, before data_start.
	empty := statusReply(dev)
	binary.LittleEndian.PutUint32(empty[offDataSize:], 305)
	if r, err := decodeReply(empty); err != nil || len(r.data) != 0 || r.devMinor() != 300 {
		t.Errorf("reply without data: %+v, %v", r, err)
	}
	bad := statusReply(dev, want...)
	binary.LittleEndian.PutUint32(bad[offDataSize:], 1<<20)
	if _, err := decodeReply(bad); err == nil {
		t.Error("reply with data_size past the buffer accepted")
	}
}

func TestVerityTable(t *testing.T) {
	v := Verity{BlockSize: 4096, DataBlocks: 1000, HashStartBlock: 1000, RootHash: bytes.Repeat([]byte{0xab}, 32), Salt: []byte{1, 2}}
	got, err := VerityTable("/dev/vda2", v)
	if err != nil {
		t.Fatal(err)
	}
	want := Target{0, 8000, "verity", "1 /dev/vda2 /dev/vda2 4096 4096 1000 1000 sha256 " + strings.Repeat("ab", 32) + " 0102"}
	if got != want {
		t.Fatalf("VerityTable =\n%+v, want\n%+v", got, want)
	}
	for _, tc := range []struct {
		name string
		edit func(v *Verity)
		want string
	}{
		{"no block size", func(v *Verity) { v.BlockSize = 0 }, "block size 0 is not a positive multiple of 512"},
		{"block size not in sectors", func(v *Verity) { v.BlockSize = 1000 }, "block size 1000"},
		{"no data", func(v *Verity) { v.DataBlocks = 0 }, "no data blocks"},
	} {
		bad := v
		tc.edit(&bad)
		if _, err := VerityTable("/dev/vda2", bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: VerityTable error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestCryptTable(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, CryptKeySize)
	tab, err := CryptTable("/dev/vda4", 2048, key)
	if err != nil {
		t.Fatal(err)
	}
	if tab != (Target{0, 2048, "crypt", "aes-xts-plain64 " + hex.EncodeToString(key) + " 0 /dev/vda4 0"}) {
		t.Fatalf("CryptTable = %+v", tab)
	}
	if _, err := CryptTable("/dev/vda4", 2048, key[:32]); err == nil || !strings.Contains(err.Error(), "want 64") {
		t.Errorf("CryptTable with a 32 byte key: %v", err)
	}
	if _, err := CryptTable("/dev/vda4", 0, key); err == nil || !strings.Contains(err.Error(), "device is empty") {
		t.Errorf("CryptTable over an empty device: %v", err)
	}
}

// TestControlErrors checks that errors name the ioctl and device. Hosts without device-mapper
// (the build machines) fail at the control node; the guest's boot tests cover real devices.
func TestControlErrors(t *testing.T) {
	err := Remove("metropolis-test-does-not-exist")
	if err == nil {
		t.Fatal("removing a device that does not exist succeeded")
	}
	if !strings.Contains(err.Error(), "DM_DEV_REMOVE \"metropolis-test-does-not-exist\"") {
		t.Fatalf("error %q does not name the ioctl and device", err)
	}
	if !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no device of this name") {
		t.Fatalf("unexpected error %v", err)
	}
}
