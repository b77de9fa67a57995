package update

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/efivars"
)

// trialDescription is how boot menus name the trial entry.
const trialDescription = "Metropolis (trial of a new release)"

// firmware is the node's view of the UEFI boot manager: the one-time trial entry and BootNext.
type firmware struct {
	vars *efivars.FS
	// esp is the ESP partition, which the trial entry's device path names.
	esp blockdev.Partition
}

// isTrialEntry reports whether a boot entry is one this package made for a trial.
func isTrialEntry(o *efivars.LoadOption) bool { return slots.IsTrialEntry(o) }

// bootedTrial reports whether the firmware started this boot through a trial entry.
func (f *firmware) bootedTrial() (bool, error) { return slots.BootedTrial(f.vars) }

// trialPending reports whether BootNext names a trial entry: an installed release waits for
// the next boot.
func (f *firmware) trialPending() (bool, error) {
	n, ok, err := f.vars.BootNext()
	if err != nil || !ok {
		return false, err
	}
	o, err := f.vars.BootEntry(n)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return isTrialEntry(o), nil
}

// clearTrial removes every trial entry and a BootNext naming one.
func (f *firmware) clearTrial() error {
	entries, err := f.vars.BootEntries()
	if err != nil {
		return fmt.Errorf("EFI boot entries: %w", err)
	}
	if n, ok, err := f.vars.BootNext(); err == nil && ok && isTrialEntry(entries[n]) {
		if err := f.vars.DeleteBootNext(); err != nil {
			return fmt.Errorf("EFI BootNext: %w", err)
		}
	}
	for n, o := range entries {
		if isTrialEntry(o) {
			if err := f.vars.DeleteBootEntry(n); err != nil {
				return fmt.Errorf("EFI Boot%04X: %w", n, err)
			}
		}
	}
	return nil
}

// armTrial makes a boot entry starting slot's UKI on the ESP and sets BootNext to it, so the
// next boot (only the next) tries the slot.
func (f *firmware) armTrial(slot string) error {
	if err := f.clearTrial(); err != nil {
		return err
	}
	entries, err := f.vars.BootEntries()
	if err != nil {
		return fmt.Errorf("EFI boot entries: %w", err)
	}
	n, err := freeEntry(entries)
	if err != nil {
		return err
	}
	opt := &efivars.LoadOption{
		Attributes:  efivars.LoadOptionActive,
		Description: trialDescription + " " + slot,
		FilePath: efivars.DevicePath{
			&efivars.HardDrivePath{
				PartitionNumber: uint32(f.esp.Number),
				PartitionStart:  f.esp.FirstLBA,
				PartitionSize:   f.esp.Sectors(),
				PartitionGUID:   f.esp.ID,
			},
			&efivars.FilePathNode{Path: strings.ReplaceAll(layout.ESPSlotUKIPath(slot), "/", `\`)},
		},
	}
	if err := f.vars.SetBootEntry(n, opt); err != nil {
		return fmt.Errorf("EFI Boot%04X: %w", n, err)
	}
	if err := f.vars.SetBootNext(n); err != nil {
		return fmt.Errorf("EFI BootNext: %w", err)
	}
	return nil
}

// freeEntry is the first boot entry number no entry uses, from 0x5000 (well away from the
// numbers firmware gives its own entries).
func freeEntry(entries map[uint16]*efivars.LoadOption) (uint16, error) {
	for n := uint16(0x5000); n < 0x6000; n++ {
		if _, used := entries[n]; !used {
			return n, nil
		}
	}
	return 0, errors.New("no free EFI boot entry number between Boot5000 and Boot5FFF")
}
