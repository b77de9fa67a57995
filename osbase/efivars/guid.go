package efivars

import "github.com/google/uuid"

// GlobalVariable is EFI_GLOBAL_VARIABLE, the vendor GUID of the variables the UEFI
// specification defines itself (Boot####, BootOrder, BootNext, BootCurrent, ...).
var GlobalVariable = uuid.UUID{
	0x8b, 0xe4, 0xdf, 0x61, 0x93, 0xca, 0x11, 0xd2,
	0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
}

// guidToDisk returns u in EFI_GUID byte order, the order GPT and device paths store GUIDs in:
// the first three fields little-endian, the last eight bytes as they are. uuid.UUID holds the
// big-endian order of the textual form, so the two differ in the first eight bytes.
func guidToDisk(u uuid.UUID) [16]byte {
	return [16]byte{
		u[3], u[2], u[1], u[0],
		u[5], u[4],
		u[7], u[6],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15],
	}
}

// guidFromDisk undoes guidToDisk; the swap is its own inverse.
func guidFromDisk(b [16]byte) uuid.UUID {
	return uuid.UUID(guidToDisk(uuid.UUID(b)))
}
