package image

import (
	"context"
	"fmt"
	"os"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/efivars"
	"metropolis.dev/metropolis/osbase/logtree"
)

// efivarsDir is where PID 1 mounts the firmware's variables (efivarfs).
const efivarsDir = "/sys/firmware/efi/efivars"

// newUpdates finds which slot runs and starts the update service: what this boot is
// (committed or a trial), and the boot chains the sealed record must open under.
func newUpdates(ctx context.Context, esp blockdev.Partition, st *storage, logs *logtree.LogTree) (*update.Service, error) {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, err
	}
	val, _ := layout.CmdlineValue(string(cmdline), layout.VerityCmdlineKey)
	v, err := layout.ParseVerity(val)
	if err != nil {
		return nil, fmt.Errorf("the running system's verity parameters: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	parts, err := slots.Find(ctx)
	if err != nil {
		return nil, err
	}
	running, err := slots.Running(parts, v)
	if err != nil {
		return nil, err
	}
	version, keys, err := update.ReadRelease("/")
	if err != nil {
		return nil, err
	}
	var vars *efivars.FS
	if entries, err := os.ReadDir(efivarsDir); err == nil && len(entries) > 0 {
		vars = &efivars.FS{Dir: efivarsDir}
	}
	return update.New(update.Config{
		ESPDir: layout.ESPMount, ESP: esp, Vars: vars, Slots: parts, Running: running,
		Version: version, Keys: keys, TPM: st, Sealer: st, Logs: logs,
	})
}
