package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
)

// fwCfgDir is where the kernel's qemu_fw_cfg module shows QEMU's fw_cfg entries.
const fwCfgDir = "/sys/firmware/qemu_fw_cfg/by_name"

// parameterSources are where a node's parameters may come from, in order: the ESP (written by
// whoever installed the node), then QEMU's fw_cfg (given by a launcher on the command line).
func parameterSources(espMount string) []string {
	return []string{
		filepath.Join(espMount, layout.ESPParametersPath),
		filepath.Join(fwCfgDir, layout.FwCfgParametersName, "raw"),
	}
}

// readParameters returns the first parameters found in sources, validated, or nil if there
// are none. A source that exists but does not hold valid parameters is an error naming it: a
// node must not silently fall back to other parameters than the ones it was given.
func readParameters(sources []string) (*apb.NodeParameters, error) {
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("node parameters %s: %w", src, err)
		}
		return parseParameters(src, data)
	}
	return nil, nil
}

func parseParameters(src string, data []byte) (*apb.NodeParameters, error) {
	var params apb.NodeParameters
	if err := proto.Unmarshal(data, &params); err != nil {
		return nil, fmt.Errorf("node parameters %s: not a NodeParameters protobuf: %w", src, err)
	}
	if err := apb.ValidateNodeParameters(&params); err != nil {
		return nil, fmt.Errorf("node parameters %s: %w", src, err)
	}
	return &params, nil
}
