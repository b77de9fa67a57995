package efivars

import (
	"encoding/binary"
	"fmt"
)

// LoadOptionActive marks a load option the boot manager may boot (LOAD_OPTION_ACTIVE).
const LoadOptionActive = 0x00000001

// LoadOption is an EFI_LOAD_OPTION (UEFI specification 3.1.3), the content of a Boot####
// variable.
type LoadOption struct {
	// Attributes are LOAD_OPTION_* flags, such as LoadOptionActive.
	Attributes uint32
	// Description is what boot menus show.
	Description string
	// FilePath locates the image to boot.
	FilePath DevicePath
	// OptionalData is passed to the image as its load options (for a Linux EFI stub: the
	// command line, in UTF-16). nil when there is none.
	OptionalData []byte
}

// loadOptionHeaderLen is Attributes (u32) and FilePathListLength (u16).
const loadOptionHeaderLen = 6

// Marshal encodes o as a Boot#### variable's data.
func (o *LoadOption) Marshal() ([]byte, error) {
	desc, err := encodeUTF16(o.Description)
	if err != nil {
		return nil, fmt.Errorf("load option description: %w", err)
	}
	fp, err := o.FilePath.Marshal()
	if err != nil {
		return nil, fmt.Errorf("load option file path: %w", err)
	}
	if len(fp) > 0xffff {
		return nil, fmt.Errorf("load option file path: %d bytes, more than FilePathListLength can hold", len(fp))
	}
	b := make([]byte, 0, loadOptionHeaderLen+len(desc)+len(fp)+len(o.OptionalData))
	b = binary.LittleEndian.AppendUint32(b, o.Attributes)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fp)))
	b = append(b, desc...)
	b = append(b, fp...)
	return append(b, o.OptionalData...), nil
}

// ParseLoadOption decodes a Boot#### variable's data. The result does not share memory with b.
func ParseLoadOption(b []byte) (*LoadOption, error) {
	if len(b) < loadOptionHeaderLen {
		return nil, fmt.Errorf("load option: %d bytes, shorter than its %d-byte header", len(b), loadOptionHeaderLen)
	}
	o := &LoadOption{Attributes: binary.LittleEndian.Uint32(b)}
	fpLen := int(binary.LittleEndian.Uint16(b[4:]))
	desc, n, err := decodeUTF16(b[loadOptionHeaderLen:])
	if err != nil {
		return nil, fmt.Errorf("load option description: %w", err)
	}
	o.Description = desc
	rest := b[loadOptionHeaderLen+n:]
	if fpLen > len(rest) {
		return nil, fmt.Errorf("load option: FilePathListLength %d runs past the %d bytes left", fpLen, len(rest))
	}
	if o.FilePath, err = ParseDevicePath(rest[:fpLen]); err != nil {
		return nil, fmt.Errorf("load option file path: %w", err)
	}
	if len(rest) > fpLen {
		o.OptionalData = append([]byte(nil), rest[fpLen:]...)
	}
	return o, nil
}
