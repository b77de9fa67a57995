package efivars

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/uuid"
)

// Variable attributes (EFI_VARIABLE_*).
const (
	NonVolatile       = 0x00000001
	BootserviceAccess = 0x00000002
	RuntimeAccess     = 0x00000004
)

// DefaultDir is where Linux mounts efivarfs.
const DefaultDir = "/sys/firmware/efi/efivars"

// attrLen is the size of the attributes that precede a variable's data in efivarfs files.
const attrLen = 4

// FS accesses UEFI variables as files named Name-guid in Dir. Dir is efivarfs on a node; any
// plain directory works too, which tests and tools working on a copy use.
type FS struct {
	// Dir is the efivarfs mount; DefaultDir when empty.
	Dir string
}

func (f FS) dir() string {
	if f.Dir == "" {
		return DefaultDir
	}
	return f.Dir
}

func (f FS) path(name string, vendor uuid.UUID) string {
	return filepath.Join(f.dir(), name+"-"+vendor.String())
}

// Read returns a variable's attributes and data. A missing variable gives an error wrapping
// fs.ErrNotExist.
func (f FS) Read(name string, vendor uuid.UUID) (attrs uint32, data []byte, err error) {
	b, err := os.ReadFile(f.path(name, vendor))
	if err != nil {
		return 0, nil, fmt.Errorf("efivars: read %s: %w", name, err)
	}
	if len(b) < attrLen {
		return 0, nil, fmt.Errorf("efivars: read %s: %d bytes, shorter than the %d-byte attributes", name, len(b), attrLen)
	}
	return binary.LittleEndian.Uint32(b), b[attrLen:], nil
}

// Write sets a variable, creating it if needed. It replaces the value in place rather than
// deleting the variable first, so that the firmware never sees e.g. BootOrder missing.
// On efivarfs, as with SetVariable, writing no data deletes the variable.
func (f FS) Write(name string, vendor uuid.UUID, attrs uint32, data []byte) error {
	if err := f.write(f.path(name, vendor), attrs, data); err != nil {
		return fmt.Errorf("efivars: write %s: %w", name, err)
	}
	return nil
}

func (f FS) write(path string, attrs uint32, data []byte) error {
	if err := clearImmutable(path); err != nil {
		return err
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	// efivarfs replaces the value on each write() and knows nothing of truncation; a plain file
	// must be emptied first, or a shorter value would leave the old tail behind.
	efi, err := isEfivarfs(file)
	if err != nil {
		return err
	}
	if !efi {
		if err := file.Truncate(0); err != nil {
			return err
		}
	}
	buf := make([]byte, 0, attrLen+len(data))
	buf = binary.LittleEndian.AppendUint32(buf, attrs)
	buf = append(buf, data...)
	if err := writeOnce(file, buf); err != nil {
		return err
	}
	return file.Close()
}

// Delete removes a variable. Deleting a missing variable is not an error.
func (f FS) Delete(name string, vendor uuid.UUID) error {
	path := f.path(name, vendor)
	if err := clearImmutable(path); err != nil {
		return fmt.Errorf("efivars: delete %s: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("efivars: delete %s: %w", name, err)
	}
	return nil
}
