package update

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// maxRecordSize bounds the slot record read from the ESP (a few hundred bytes, plus up to
// maxTrialLog lines of a failed trial's log).
const maxRecordSize = 64 << 10

// readRecord reads the slot record from the ESP mounted at esp; nil if there is none yet.
// A damaged record is reported as missing, with the reason: the slots' truth is what boots,
// and decideBoot rebuilds the record from it.
func readRecord(esp string) (*apb.NodeSoftware, error) {
	data, err := os.ReadFile(filepath.Join(esp, layout.ESPSlotsPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("slot record %s: %w", layout.ESPSlotsPath, err)
	}
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("slot record %s is %d bytes, at most %d", layout.ESPSlotsPath, len(data), maxRecordSize)
	}
	var rec apb.NodeSoftware
	if err := proto.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("slot record %s does not parse: %w", layout.ESPSlotsPath, err)
	}
	return &rec, nil
}

// writeRecord replaces the slot record on the ESP.
func writeRecord(esp string, rec *apb.NodeSoftware) error {
	data, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	return writeESP(esp, layout.ESPSlotsPath, data)
}

// writeESP replaces a file on the ESP whole and syncs: FAT has no journal, so a file is
// written beside the old one, synced, and renamed over it.
func writeESP(esp, path string, data []byte) error {
	full := filepath.Join(esp, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(full, data, 0o600); err != nil {
		return fmt.Errorf("ESP %s: %w", path, err)
	}
	unix.Sync()
	return nil
}
