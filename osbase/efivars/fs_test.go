package efivars

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
)

var testVendor = uuid.MustParse("11223344-5566-7788-99aa-bbccddeeff00")

func TestReadWrite(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	for _, step := range []struct {
		attrs uint32
		data  []byte
	}{
		{7, []byte("a longer first value")},
		{3, []byte("short")}, // the old tail must not survive on a plain file
		{1, nil},
	} {
		if err := f.Write("Test", testVendor, step.attrs, step.data); err != nil {
			t.Fatal(err)
		}
		attrs, data, err := f.Read("Test", testVendor)
		if err != nil {
			t.Fatal(err)
		}
		if attrs != step.attrs || !bytes.Equal(data, step.data) {
			t.Errorf("Read = %d, %q; want %d, %q", attrs, data, step.attrs, step.data)
		}
	}
	raw, err := os.ReadFile(filepath.Join(f.Dir, "Test-11223344-5566-7788-99aa-bbccddeeff00"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 0, 0, 0}; !bytes.Equal(raw, want) {
		t.Errorf("file content %x, want %x", raw, want)
	}
}

func TestReadErrors(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if _, _, err := f.Read("Missing", testVendor); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of missing variable: %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(f.Dir, "Short-"+testVendor.String())
	if err := os.WriteFile(path, []byte{7, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Read("Short", testVendor); err == nil {
		t.Error("Read of a 2-byte file succeeded")
	}
}

func TestDelete(t *testing.T) {
	f := FS{Dir: t.TempDir()}
	if err := f.Delete("Missing", testVendor); err != nil {
		t.Errorf("Delete of missing variable: %v", err)
	}
	if err := f.Write("Test", testVendor, 7, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete("Test", testVendor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Read("Test", testVendor); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Delete: %v, want fs.ErrNotExist", err)
	}
}

func TestDefaultDir(t *testing.T) {
	if got, want := (FS{}).path("BootOrder", GlobalVariable), "/sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}
