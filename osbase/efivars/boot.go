package efivars

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// bootAttrs are the attributes of every variable the boot manager reads: kept across resets,
// visible to the firmware and to the OS.
const bootAttrs = NonVolatile | BootserviceAccess | RuntimeAccess

// bootEntryName is the variable name of load option n.
func bootEntryName(n uint16) string { return fmt.Sprintf("Boot%04X", n) }

// BootOrder returns the order in which the boot manager tries load options. A missing BootOrder
// gives an error wrapping fs.ErrNotExist.
func (f FS) BootOrder() ([]uint16, error) {
	_, data, err := f.Read("BootOrder", GlobalVariable)
	if err != nil {
		return nil, err
	}
	return decodeUint16s("BootOrder", data)
}

// SetBootOrder replaces BootOrder. An empty order deletes BootOrder on efivarfs (a write of
// no data is a delete there); the firmware then makes up its own order.
func (f FS) SetBootOrder(order []uint16) error {
	b := make([]byte, 0, 2*len(order))
	for _, n := range order {
		b = binary.LittleEndian.AppendUint16(b, n)
	}
	return f.Write("BootOrder", GlobalVariable, bootAttrs, b)
}

// BootNext returns the load option the firmware boots once at the next boot, before BootOrder;
// ok is false when none is set.
func (f FS) BootNext() (n uint16, ok bool, err error) {
	n, err = f.readUint16("BootNext")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// SetBootNext makes the firmware boot load option n once, at the next boot. The firmware
// deletes BootNext as it boots it, so a failed trial falls back to BootOrder.
func (f FS) SetBootNext(n uint16) error {
	return f.Write("BootNext", GlobalVariable, bootAttrs, binary.LittleEndian.AppendUint16(nil, n))
}

// DeleteBootNext cancels a pending BootNext. Nothing pending is not an error.
func (f FS) DeleteBootNext() error {
	return f.Delete("BootNext", GlobalVariable)
}

// BootCurrent returns the load option the firmware booted this time.
func (f FS) BootCurrent() (uint16, error) {
	return f.readUint16("BootCurrent")
}

func (f FS) readUint16(name string) (uint16, error) {
	_, data, err := f.Read(name, GlobalVariable)
	if err != nil {
		return 0, err
	}
	if len(data) != 2 {
		return 0, fmt.Errorf("efivars: %s is %d bytes, want 2", name, len(data))
	}
	return binary.LittleEndian.Uint16(data), nil
}

func decodeUint16s(name string, data []byte) ([]uint16, error) {
	if len(data)%2 != 0 {
		return nil, fmt.Errorf("efivars: %s is %d bytes, not a whole number of 2-byte entries", name, len(data))
	}
	out := make([]uint16, len(data)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(data[2*i:])
	}
	return out, nil
}

// BootEntry returns load option n (variable Boot####). A missing entry gives an error
// wrapping fs.ErrNotExist.
func (f FS) BootEntry(n uint16) (*LoadOption, error) {
	name := bootEntryName(n)
	_, data, err := f.Read(name, GlobalVariable)
	if err != nil {
		return nil, err
	}
	o, err := ParseLoadOption(data)
	if err != nil {
		return nil, fmt.Errorf("efivars: %s: %w", name, err)
	}
	return o, nil
}

// SetBootEntry creates or replaces load option n.
func (f FS) SetBootEntry(n uint16, o *LoadOption) error {
	name := bootEntryName(n)
	data, err := o.Marshal()
	if err != nil {
		return fmt.Errorf("efivars: %s: %w", name, err)
	}
	return f.Write(name, GlobalVariable, bootAttrs, data)
}

// DeleteBootEntry removes load option n. A missing entry is not an error. It does not touch
// BootOrder or BootNext.
func (f FS) DeleteBootEntry(n uint16) error {
	return f.Delete(bootEntryName(n), GlobalVariable)
}

// BootEntries returns every load option, by number. Entries that do not parse (firmware and
// other operating systems write things this package does not understand) and entries that
// vanish while listing are left out rather than failing the whole list.
func (f FS) BootEntries() (map[uint16]*LoadOption, error) {
	des, err := os.ReadDir(f.dir())
	if err != nil {
		return nil, fmt.Errorf("efivars: list boot entries: %w", err)
	}
	out := make(map[uint16]*LoadOption)
	for _, de := range des {
		n, ok := parseBootEntryFileName(de.Name())
		if !ok {
			continue
		}
		name := bootEntryName(n)
		_, data, err := f.Read(name, GlobalVariable)
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // deleted since the listing
		case errors.As(err, &pe):
			return nil, err // the filesystem failed, not the entry
		case err != nil:
			continue // too short to hold attributes
		}
		o, err := ParseLoadOption(data)
		if err != nil {
			continue
		}
		out[n] = o
	}
	return out, nil
}

// parseBootEntryFileName returns n for a file named Boot####-<GlobalVariable>, with #### four
// uppercase hex digits as the specification spells them.
func parseBootEntryFileName(name string) (uint16, bool) {
	hex, ok := strings.CutPrefix(name, "Boot")
	if !ok {
		return 0, false
	}
	hex, ok = strings.CutSuffix(hex, "-"+GlobalVariable.String())
	if !ok || len(hex) != 4 || strings.ToUpper(hex) != hex {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 16)
	if err != nil {
		return 0, false
	}
	return uint16(n), true
}
