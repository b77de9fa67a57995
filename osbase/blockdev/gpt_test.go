package blockdev

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/uuid"
)

const mib = 1 << 20

// makeImage writes a disk image of size bytes with go-diskfs (an implementation independent of
// ours): an ESP at 1 MiB and system A, as the image builder lays them out, but small.
func makeImage(t testing.TB, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	d, err := diskfs.Create(path, size, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	table := &gpt.Table{
		LogicalSectorSize: 512, ProtectiveMBR: true,
		Partitions: []*gpt.Partition{
			{Index: 1, Start: 2048, End: 2048 + 4*2048 - 1, Type: gpt.Type(strings.ToUpper(testTypeESP.String())), Name: testNameESP},
			{Index: 2, Start: 5 * 2048, End: 13*2048 - 1, Type: gpt.Type(strings.ToUpper(testTypeSystem.String())), Name: testNameSystem},
		},
	}
	if err := d.Partition(table); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadGPT(t *testing.T) {
	path := makeImage(t, 32*mib)
	g, err := ReadDisk(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Partitions) != 2 {
		t.Fatalf("read %d partitions, want 2: %+v", len(g.Partitions), g.Partitions)
	}
	for i, want := range []Entry{
		{Number: 1, Type: testTypeESP, Name: testNameESP, FirstLBA: 2048, LastLBA: 5*2048 - 1},
		{Number: 2, Type: testTypeSystem, Name: testNameSystem, FirstLBA: 5 * 2048, LastLBA: 13*2048 - 1},
	} {
		got := g.Partitions[i]
		got.ID = uuid.Nil
		if got != want {
			t.Errorf("partition %d = %+v, want %+v", i+1, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	p, err := Find(ctx, Query{Type: testTypeSystem, Name: testNameSystem, Disks: []string{path}})
	if err == nil || !strings.Contains(err.Error(), path+"2 found, but its node") {
		t.Errorf("Find in an image file = %s, %v; want an error about the missing node", p.Path, err)
	}
}

func TestReadGPTFallsBackToBackup(t *testing.T) {
	path := makeImage(t, 32*mib)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Damage the primary entry array: its CRC no longer matches.
	if _, err := f.WriteAt([]byte{0xff}, 2*512+56); err != nil {
		t.Fatal(err)
	}
	g, err := ReadDisk(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Partitions) != 2 || g.Partitions[1].Name != testNameSystem {
		t.Fatalf("backup table read as %+v", g.Partitions)
	}
	// Damage the backup header too: the error says what is wrong with each.
	if _, err := f.WriteAt([]byte("XXXX"), 32*mib-512); err != nil {
		t.Fatal(err)
	}
	_, err = ReadDisk(path)
	if err == nil || !strings.Contains(err.Error(), "primary header: entry array CRC") || !strings.Contains(err.Error(), "backup header (sector 65535): no GPT signature") {
		t.Fatalf("error %v does not explain both headers", err)
	}
}

func TestAppendToGrownDisk(t *testing.T) {
	path := makeImage(t, 32*mib)
	// The image is written to a larger disk: its backup table is no longer at the end.
	const diskSize = 100*mib + 4096
	if err := os.Truncate(path, diskSize); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ReadGPT(f, 512, diskSize)
	if err != nil {
		t.Fatal(err)
	}
	e, err := g.Append(diskSize, testTypeData, testNameData, Alignment, 50*mib)
	if err != nil {
		t.Fatal(err)
	}
	// After system A (ends at 13 MiB), up to the last whole MiB before the backup entries.
	if e.Number != 3 || e.FirstLBA != 13*2048 || e.LastLBA != 99*2048-1 {
		t.Fatalf("appended %+v, want partition 3 at sectors %d..%d", e, 13*2048, 99*2048-1)
	}
	if err := g.Write(f, diskSize); err != nil {
		t.Fatal(err)
	}
	// Both our reader and go-diskfs see the new table, with the backup at the disk's end.
	again, err := ReadGPT(f, 512, diskSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Partitions) != 3 || again.Partitions[2].Name != testNameData || again.AlternateLBA != diskSize/512-1 {
		t.Fatalf("re-read table: %+v", again)
	}
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatalf("go-diskfs cannot read the written table: %v", err)
	}
	parts := pt.(*gpt.Table).Partitions
	if len(parts) != 3 || parts[2].Name != testNameData || parts[2].Start != 13*2048 ||
		!strings.EqualFold(string(parts[2].Type), testTypeData.String()) {
		t.Fatalf("go-diskfs reads partition 3 as %+v", parts[len(parts)-1])
	}
	if pt.(*gpt.Table).RecoveredFromBackup {
		t.Fatal("go-diskfs had to fall back to the backup table")
	}
	// The backup alone is good too.
	if _, err := f.WriteAt(make([]byte, 512), 512); err != nil {
		t.Fatal(err)
	}
	backup, err := ReadGPT(f, 512, diskSize)
	if err != nil || len(backup.Partitions) != 3 {
		t.Fatalf("backup table after Write: %v, %+v", err, backup)
	}
}

func TestAppendRefuses(t *testing.T) {
	path := makeImage(t, 32*mib)
	for _, tc := range []struct {
		name    string
		typ     uuid.UUID
		partNam string
		min     uint64
		want    string
	}{
		{"not enough space", testTypeData, testNameData, 1 << 30, "only 18 MiB free after the last partition, need 1024 MiB"},
		{"long name", testTypeData, strings.Repeat("n", 37), 0, "longer than 36"},
		{"nil type", uuid.Nil, testNameData, 0, "nil GUID"},
	} {
		g, err := ReadDisk(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Append(32*mib, tc.typ, tc.partNam, Alignment, tc.min); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestPartitionPath(t *testing.T) {
	for _, tc := range []struct {
		disk string
		n    int
		want string
	}{
		{"/dev/vda", 2, "/dev/vda2"},
		{"/dev/sda", 10, "/dev/sda10"},
		{"/dev/nvme0n1", 1, "/dev/nvme0n1p1"},
		{"/dev/loop7", 3, "/dev/loop7p3"},
		{"/dev/mmcblk0", 2, "/dev/mmcblk0p2"},
	} {
		if got := PartitionPath(tc.disk, tc.n); got != tc.want {
			t.Errorf("PartitionPath(%q, %d) = %q, want %q", tc.disk, tc.n, got, tc.want)
		}
	}
}

func FuzzReadGPT(f *testing.F) {
	img, err := os.ReadFile(makeImage(f, 64<<10))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img)
	f.Add(bytes.Repeat([]byte("EFI PART"), 256))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ReadGPT(bytes.NewReader(data), 512, int64(len(data)))
		if err != nil {
			return
		}
		for _, p := range g.Partitions {
			if p.FirstLBA < g.FirstUsable || p.LastLBA > g.LastUsable || p.LastLBA >= uint64(len(data)/512) {
				t.Fatalf("partition %+v outside the disk or usable area", p)
			}
		}
	})
}

// A disk like the node image's: an ESP, a system and a data partition. The system and data
// types are made up here; the product's own live in node/platform/image/layout.
var (
	testTypeESP    = uuid.MustParse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
	testTypeSystem = uuid.MustParse("0f6d3f3a-54f1-4bb2-9c2b-0d7a1b2c3d01")
	testTypeData   = uuid.MustParse("0f6d3f3a-54f1-4bb2-9c2b-0d7a1b2c3d02")
)

const (
	testNameESP    = "ESP"
	testNameSystem = "TEST-SYSTEM"
	testNameData   = "TEST-DATA"
)
