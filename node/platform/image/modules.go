package image

import (
	"fmt"
	"strings"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/kmod"
)

// loadSystemModules loads the modules the system partition carries for everything after the
// initramfs (network, dm-crypt, the ESP, fw_cfg).
func loadSystemModules() error {
	dir, err := kmod.DefaultDir()
	if err != nil {
		return err
	}
	loader := &kmod.Loader{Dir: dir}
	loaded, err := loader.Load(layout.SystemModules...)
	if err != nil {
		return fmt.Errorf("kernel modules: %w", err)
	}
	say(fmt.Sprintf("metropolis-node: loaded kernel modules: %s", strings.Join(loaded, " ")))
	return nil
}
