package mkimage

import (
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/uuid"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// Partitions is where the image's partitions are, in bytes from the start of the disk.
type Partitions struct {
	ESPOffset     int64
	SystemAOffset int64
	SystemBOffset int64
	// DataOffset is where the free space for the data partition begins.
	DataOffset int64
}

// partitionOffsets lays the partitions out back to back from layout.FirstPartitionOffset.
func partitionOffsets() Partitions {
	var p Partitions
	p.ESPOffset = layout.FirstPartitionOffset
	p.SystemAOffset = p.ESPOffset + layout.ESPSize
	p.SystemBOffset = p.SystemAOffset + layout.SystemSize
	p.DataOffset = p.SystemBOffset + layout.SystemSize
	return p
}

// gptReserve is left free at the end of the disk for the backup GPT (33 sectors), rounded up
// to keep the data partition's end aligned.
const gptReserve = 1 << 20

// MinimumDiskSize is the smallest disk that holds the image and a data partition of
// layout.MinimumDataSize.
func MinimumDiskSize() int64 {
	return partitionOffsets().DataOffset + layout.MinimumDataSize + gptReserve
}

// diskContent is what goes on the disk.
type diskContent struct {
	Size        int64
	UKI         []byte
	Parameters  []byte // nil: no parameters file on the ESP
	SystemImage string // erofs and hash tree, for system A
	// ID seeds the disk's and partitions' GUIDs: the same content, the same GUIDs.
	ID string
}

// guidNamespace makes GUIDs from a build's ID.
var guidNamespace = uuid.MustParse("3b0f6c52-8e1d-4a7b-9f25-61c4d0e8a7b3")

func contentGUID(id, what string) string {
	return strings.ToUpper(uuid.NewSHA1(guidNamespace, []byte(id+"/"+what)).String())
}

// writeDisk writes the GPT disk image to out: sparse, so system B and the free space behind
// it cost nothing until written.
func writeDisk(out string, c diskContent) (Partitions, error) {
	parts := partitionOffsets()
	if c.Size < MinimumDiskSize() {
		return parts, fmt.Errorf("disk size %d bytes is too small: the partitions and a %d MiB data partition need %d bytes", c.Size, layout.MinimumDataSize>>20, MinimumDiskSize())
	}
	if c.Size%layout.SectorSize != 0 {
		return parts, fmt.Errorf("disk size %d is not a multiple of %d-byte sectors", c.Size, layout.SectorSize)
	}
	st, err := os.Stat(c.SystemImage)
	if err != nil {
		return parts, err
	}
	if st.Size() > layout.SystemSize {
		return parts, fmt.Errorf("system image %s is %d bytes, more than the %d-byte system partition", c.SystemImage, st.Size(), layout.SystemSize)
	}

	os.Remove(out)
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return parts, err
	}
	defer f.Close()
	if err := f.Truncate(c.Size); err != nil {
		return parts, fmt.Errorf("sizing disk image %s: %w", out, err)
	}
	if err := writeESP(f, parts.ESPOffset, c); err != nil {
		return parts, err
	}
	sys, err := os.Open(c.SystemImage)
	if err != nil {
		return parts, err
	}
	defer sys.Close()
	if _, err := io.Copy(io.NewOffsetWriter(f, parts.SystemAOffset), sys); err != nil {
		return parts, fmt.Errorf("writing system A: %w", err)
	}

	sector := func(off int64) uint64 { return uint64(off / layout.SectorSize) }
	table := &gpt.Table{
		LogicalSectorSize:  layout.SectorSize,
		PhysicalSectorSize: layout.SectorSize,
		ProtectiveMBR:      true,
		GUID:               contentGUID(c.ID, "disk"),
		Partitions: []*gpt.Partition{
			{Index: 1, Start: sector(parts.ESPOffset), Size: layout.ESPSize, Name: layout.NameESP,
				Type: gpt.Type(strings.ToUpper(layout.TypeESP.String())), GUID: contentGUID(c.ID, layout.NameESP)},
			{Index: 2, Start: sector(parts.SystemAOffset), Size: layout.SystemSize, Name: layout.NameSystemA,
				Type: gpt.Type(strings.ToUpper(layout.TypeSystem.String())), GUID: contentGUID(c.ID, layout.NameSystemA)},
			{Index: 3, Start: sector(parts.SystemBOffset), Size: layout.SystemSize, Name: layout.NameSystemB,
				Type: gpt.Type(strings.ToUpper(layout.TypeSystem.String())), GUID: contentGUID(c.ID, layout.NameSystemB)},
		},
	}
	if err := table.Write(f, c.Size); err != nil {
		return parts, fmt.Errorf("writing the partition table: %w", err)
	}
	return parts, f.Sync()
}

// espEpoch is the time every ESP entry carries. go-diskfs stamps FAT entries with
// SOURCE_DATE_EPOCH when set, and with the current time otherwise.
var espEpoch = strconv.FormatInt(sourceDateEpoch, 10)

type espFile struct {
	path string
	data []byte
}

// writeESP formats the ESP in place (FAT32, reproducible: no random volume ID) and writes the
// unified kernel image and, if given, the node parameters.
func writeESP(f *os.File, offset int64, c diskContent) error {
	// go-diskfs reads the FAT timestamps from the environment. Setenv fails only for a
	// malformed name, which this is not.
	if old, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		defer func() { _ = os.Setenv("SOURCE_DATE_EPOCH", old) }()
	} else {
		defer func() { _ = os.Unsetenv("SOURCE_DATE_EPOCH") }()
	}
	_ = os.Setenv("SOURCE_DATE_EPOCH", espEpoch)

	fs, err := fat32.Create(file.New(f, false), layout.ESPSize, offset, layout.SectorSize, "ESP", true)
	if err != nil {
		return fmt.Errorf("formatting the ESP: %w", err)
	}
	files := []espFile{{layout.ESPBootPath, c.UKI}}
	if c.Parameters != nil {
		files = append(files, espFile{layout.ESPParametersPath, c.Parameters})
	}
	// The parameters' directory always exists: the node keeps its sealed record there too.
	if err := fs.Mkdir(path.Dir(layout.ESPParametersPath)); err != nil {
		return fmt.Errorf("ESP directory %s: %w", path.Dir(layout.ESPParametersPath), err)
	}
	for _, fl := range files {
		if err := fs.Mkdir(path.Dir(fl.path)); err != nil {
			return fmt.Errorf("ESP directory %s: %w", path.Dir(fl.path), err)
		}
		w, err := fs.OpenFile(fl.path, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("ESP file %s: %w", fl.path, err)
		}
		if _, err := w.Write(fl.data); err != nil {
			return fmt.Errorf("writing ESP file %s: %w", fl.path, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("writing ESP file %s: %w", fl.path, err)
		}
	}
	return nil
}
