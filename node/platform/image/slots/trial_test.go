package slots

import (
	"testing"

	"metropolis.dev/metropolis/osbase/efivars"
)

func TestIsTrialEntry(t *testing.T) {
	entry := func(path string) *efivars.LoadOption {
		return &efivars.LoadOption{FilePath: efivars.DevicePath{&efivars.HardDrivePath{PartitionNumber: 1}, &efivars.FilePathNode{Path: path}}}
	}
	for _, tc := range []struct {
		name string
		o    *efivars.LoadOption
		want bool
	}{
		{"slot B's UKI", entry(`\EFI\metropolis\boot-b.efi`), true},
		{"slot A's UKI, other case", entry(`\efi\METROPOLIS\BOOT-A.EFI`), true},
		{"the default path", entry(`\EFI\BOOT\BOOTX64.EFI`), false},
		{"no file path", &efivars.LoadOption{FilePath: efivars.DevicePath{&efivars.HardDrivePath{}}}, false},
		{"none", nil, false},
	} {
		if got := IsTrialEntry(tc.o); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
