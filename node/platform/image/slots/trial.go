package slots

import (
	"errors"
	"fmt"
	"io/fs"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/efivars"
)

// IsTrialEntry reports whether a boot entry is the one-time entry of a trial boot: its
// optional data is layout.TrialBootMarker.
func IsTrialEntry(o *efivars.LoadOption) bool {
	return o != nil && string(o.OptionalData) == layout.TrialBootMarker
}

// BootedTrial reports whether the firmware started this boot through a trial entry that still
// exists. Stage 1 and PID 1 reboot instead of powering off when a trial boot fails, so the
// firmware goes back to the committed release by itself; once the trial commits, its entry is
// removed and this is false again.
func BootedTrial(vars *efivars.FS) (bool, error) {
	cur, err := vars.BootCurrent()
	if err != nil {
		return false, fmt.Errorf("EFI BootCurrent: %w", err)
	}
	o, err := vars.BootEntry(cur)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("EFI Boot%04X: %w", cur, err)
	}
	return IsTrialEntry(o), nil
}
