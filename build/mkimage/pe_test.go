package mkimage

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestSetPETimestamp checks the stamp and the checksum against systemd's stub, whose checksum
// its linker computed.
func TestSetPETimestamp(t *testing.T) {
	stub, err := os.ReadFile(efiStubPath)
	if err != nil {
		t.Fatalf("systemd-boot-efi's stub: %v", err)
	}
	pe := int(binary.LittleEndian.Uint32(stub[peSignaturePointer:]))
	if got, want := peChecksum(stub, pe+peChecksumOffset), binary.LittleEndian.Uint32(stub[pe+peChecksumOffset:]); got != want {
		t.Fatalf("checksum of the stub computed as %#x, its header says %#x", got, want)
	}
	p := filepath.Join(t.TempDir(), "stub.efi")
	os.WriteFile(p, stub, 0o644)
	if err := setPETimestamp(p, 12345); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(p)
	if got := binary.LittleEndian.Uint32(out[pe+peTimestampOffset:]); got != 12345 {
		t.Errorf("timestamp %d, want 12345", got)
	}
	if got, want := binary.LittleEndian.Uint32(out[pe+peChecksumOffset:]), peChecksum(out, pe+peChecksumOffset); got != want {
		t.Errorf("checksum %#x after stamping, want %#x", got, want)
	}
	if err := setPETimestamp(filepath.Join(t.TempDir(), "missing"), 0); err == nil {
		t.Error("no error for a missing file")
	}
	os.WriteFile(p, []byte("MZ not a PE file at all, too short"), 0o644)
	if err := setPETimestamp(p, 0); err == nil {
		t.Error("no error for a file without a PE header")
	}
}
