package efivars

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBootOrder(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if _, err := f.BootOrder(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("BootOrder when absent: %v, want fs.ErrNotExist", err)
	}
	for _, order := range [][]uint16{{1, 0, 0x1234}, {}, {0xffff}} {
		if err := f.SetBootOrder(order); err != nil {
			t.Fatal(err)
		}
		got, err := f.BootOrder()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, order) {
			t.Errorf("BootOrder = %v, want %v", got, order)
		}
	}
	attrs, data, err := f.Read("BootOrder", GlobalVariable)
	if err != nil {
		t.Fatal(err)
	}
	if attrs != 7 || string(data) != "\xff\xff" {
		t.Errorf("BootOrder variable = %d, %x", attrs, data)
	}
}

func TestUint16VariableLengths(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	for _, tc := range []struct {
		name string
		data string
		read func() error
		want string
	}{
		{"BootOrder", "\x01\x00\x02", func() error { _, err := f.BootOrder(); return err }, "BootOrder is 3 bytes, not a whole number"},
		{"BootNext", "\x01\x00\x02\x00", func() error { _, _, err := f.BootNext(); return err }, "BootNext is 4 bytes, want 2"},
		{"BootCurrent", "\x01", func() error { _, err := f.BootCurrent(); return err }, "BootCurrent is 1 bytes, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.Write(tc.name, GlobalVariable, 7, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			if err := tc.read(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBootNext(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if n, ok, err := f.BootNext(); n != 0 || ok || err != nil {
		t.Errorf("BootNext when absent = %d, %v, %v; want 0, false, nil", n, ok, err)
	}
	if err := f.SetBootNext(0x0102); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := f.BootNext(); n != 0x0102 || !ok || err != nil {
		t.Errorf("BootNext = %#x, %v, %v; want 0x102, true, nil", n, ok, err)
	}
	for range 2 { // the second time, nothing is left to delete
		if err := f.DeleteBootNext(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := f.BootNext(); ok || err != nil {
		t.Errorf("BootNext after delete = %v, %v", ok, err)
	}
}

func TestBootCurrent(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if _, err := f.BootCurrent(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("BootCurrent when absent: %v, want fs.ErrNotExist", err)
	}
	if err := f.Write("BootCurrent", GlobalVariable, 6, []byte{0x0a, 0x00}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.BootCurrent(); n != 10 || err != nil {
		t.Errorf("BootCurrent = %d, %v; want 10, nil", n, err)
	}
}

func TestBootEntries(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if err := f.SetBootEntry(0x000a, goldenOption); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "Boot000A-8be4df61-93ca-11d2-aa0d-00e098032b8c")); err != nil {
		t.Errorf("Boot000A not written: %v", err)
	}
	if err := f.SetBootEntry(1, &LoadOption{Description: "other"}); err != nil {
		t.Fatal(err)
	}
	// Files that are not load options, or not ones BootEntries should list.
	noise := map[string]string{
		"Boot000B-" + GlobalVariable.String():  "\x07\x00\x00\x00garbage",  // does not parse
		"Boot000C-" + GlobalVariable.String():  "\x07",                     // no attributes
		"Boot000a-" + GlobalVariable.String():  "",                         // lowercase hex
		"Boot00001-" + GlobalVariable.String(): "",                         // five digits
		"BootOrder-" + GlobalVariable.String(): "\x07\x00\x00\x00\x0a\x00", // not an entry
		"Boot0002-" + testVendor.String():      "",                         // other vendor
		"Boot0003":                             "",                         // no GUID
	}
	for name, content := range noise {
		if err := os.WriteFile(filepath.Join(f.Dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.BootEntries()
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16]*LoadOption{0x000a: goldenOption, 1: {Description: "other"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BootEntries = %v, want %v", got, want)
	}

	if err := f.DeleteBootEntry(0x000a); err != nil {
		t.Fatal(err)
	}
	if _, err := f.BootEntry(0x000a); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("BootEntry after delete: %v, want fs.ErrNotExist", err)
	}
	if err := f.DeleteBootEntry(0x000a); err != nil {
		t.Errorf("second DeleteBootEntry: %v", err)
	}
	if _, err := f.BootEntry(0x000b); err == nil || !strings.Contains(err.Error(), "Boot000B") {
		t.Errorf("BootEntry of garbage: %v, want an error naming Boot000B", err)
	}
}

func TestBootEntriesMissingDir(t *testing.T) {
	f := FS{Dir: filepath.Join(t.TempDir(), "absent")}
	if _, err := f.BootEntries(); err == nil {
		t.Error("BootEntries on a missing directory succeeded")
	}
}

func TestParseBootEntryFileName(t *testing.T) {
	g := "-" + GlobalVariable.String()
	for _, tc := range []struct {
		name string
		n    uint16
		ok   bool
	}{
		{"Boot0000" + g, 0, true},
		{"BootFFFF" + g, 0xffff, true},
		{"Boot00Ab" + g, 0, false},
		{"Boot+123" + g, 0, false},
		{"Boot123" + g, 0, false},
		{"BootNext" + g, 0, false},
		{"Boot0001-" + strings.ToUpper(GlobalVariable.String()), 0, false},
		{"Driver0001" + g, 0, false},
	} {
		n, ok := parseBootEntryFileName(tc.name)
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseBootEntryFileName(%q) = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}
