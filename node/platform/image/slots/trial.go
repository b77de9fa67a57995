package slots

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/efivars"
)

// IsTrialEntry reports whether a boot entry is the one-time entry of a trial boot: it starts
// a slot's own UKI (layout.ESPSlotUKIPath), which only trials do; the committed release boots
// from the firmware's default path.
//
// The entry carries no load options: the UKI's stub would take them as a kernel command line
// in place of its own (and measure them into PCR 12, which the sealed record is bound to).
func IsTrialEntry(o *efivars.LoadOption) bool {
	if o == nil {
		return false
	}
	for _, n := range o.FilePath {
		f, ok := n.(*efivars.FilePathNode)
		if !ok {
			continue
		}
		for _, slot := range layout.Slots {
			if strings.EqualFold(strings.ReplaceAll(f.Path, `\`, "/"), layout.ESPSlotUKIPath(slot)) {
				return true
			}
		}
	}
	return false
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
