package localvolume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/osbase/ext4fs"
	"metropolis.dev/metropolis/osbase/loopdev"
)

// A volume's file is named for its ID with a suffix saying what it holds: ".ext4" a file
// system, ".raw" a block volume's bytes. ".partial" files are volumes being made: they are
// renamed into place once whole, and removed when found at start (a crash while making one).
const (
	suffixExt4    = ".ext4"
	suffixRaw     = ".raw"
	suffixPartial = ".partial"
)

// volumes are the files of one node's local volumes in one directory. mu serializes changes:
// they are rare, and an operation on one volume must not race another on the same.
type volumes struct {
	dir string
	// reserve is what the node keeps of a partition of total bytes: Reserve, except in tests
	// on hosts whose disk is not the node's alone.
	reserve func(total int64) int64
	mu      sync.Mutex
}

// volume is a volume found on disk.
type volume struct {
	ID    string
	Path  string
	Size  int64
	Block bool
}

func (v *volumes) path(id string, block bool) string {
	if block {
		return filepath.Join(v.dir, id+suffixRaw)
	}
	return filepath.Join(v.dir, id+suffixExt4)
}

// open makes the directory and removes volumes left half-made.
func (v *volumes) open() error {
	if err := os.MkdirAll(v.dir, 0o700); err != nil {
		return fmt.Errorf("local volumes: %w", err)
	}
	partial, err := filepath.Glob(filepath.Join(v.dir, "*"+suffixPartial))
	if err != nil {
		return err
	}
	for _, p := range partial {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("local volumes: remove half-made %s: %w", p, err)
		}
	}
	return nil
}

// lookup finds the volume with this ID, or a NotFound status.
func (v *volumes) lookup(id string) (volume, error) {
	if err := checkVolumeID(id); err != nil {
		return volume{}, err
	}
	for _, block := range []bool{false, true} {
		p := v.path(id, block)
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return volume{}, status.Errorf(codes.Internal, "volume %s: %v", id, err)
		}
		return volume{ID: id, Path: p, Size: st.Size(), Block: block}, nil
	}
	return volume{}, status.Errorf(codes.NotFound, "volume %s: no such volume on this node", quoted(id))
}

// space is the data partition's size and what volumes may still take of it.
func (v *volumes) space() (total, available int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(v.dir, &st); err != nil {
		return 0, 0, status.Errorf(codes.Internal, "free space of %s: %v", v.dir, err)
	}
	total = int64(st.Blocks) * st.Bsize
	return total, max(int64(st.Bavail)*st.Bsize-v.reserve(total), 0), nil
}

// needSpace refuses to allocate more than volumes may take.
func (v *volumes) needSpace(what string, bytes int64) error {
	total, available, err := v.space()
	if err != nil {
		return err
	}
	if bytes > available {
		return status.Errorf(codes.ResourceExhausted, "%s needs %d MiB; this node has %d MiB for volumes (it keeps %d MiB of its data partition for itself)",
			what, bytes>>20, available>>20, v.reserve(total)>>20)
	}
	return nil
}

// create makes a volume, or finds the one made by an earlier call with the same name. It is
// allocated whole and, for a filesystem volume, formatted under a temporary name, then
// renamed into place: a failure leaves nothing behind.
func (v *volumes) create(nv newVolume, r *csi.CapacityRange) (volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	existing, err := v.lookup(nv.ID)
	if err == nil {
		if existing.Block != nv.Block || !fits(existing.Size, r) {
			return volume{}, status.Errorf(codes.AlreadyExists, "volume %s exists with %d bytes (block: %t), unlike this request", nv.ID, existing.Size, existing.Block)
		}
		return existing, nil
	}
	if status.Code(err) != codes.NotFound {
		return volume{}, err
	}
	if err := v.needSpace(fmt.Sprintf("volume %s", nv.ID), nv.Size); err != nil {
		return volume{}, err
	}
	final := v.path(nv.ID, nv.Block)
	tmp := final + suffixPartial
	if err := makeVolumeFile(tmp, nv); err != nil {
		_ = os.Remove(tmp)
		return volume{}, status.Errorf(codes.Internal, "make volume %s: %v", nv.ID, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return volume{}, status.Errorf(codes.Internal, "make volume %s: %v", nv.ID, err)
	}
	if err := syncDir(v.dir); err != nil {
		return volume{}, status.Errorf(codes.Internal, "make volume %s: %v", nv.ID, err)
	}
	return volume{ID: nv.ID, Path: final, Size: nv.Size, Block: nv.Block}, nil
}

// fits tells whether an existing volume's size satisfies a capacity range.
func fits(size int64, r *csi.CapacityRange) bool {
	return size >= r.GetRequiredBytes() && (r.GetLimitBytes() == 0 || size <= r.GetLimitBytes())
}

func makeVolumeFile(path string, nv newVolume) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// Allocated whole, so a volume never finds the partition full under it; the extents are
	// unwritten, so they read as zeros whatever they held before.
	if err := unix.Fallocate(int(f.Fd()), 0, 0, nv.Size); err != nil {
		return fmt.Errorf("allocate %d bytes: %w", nv.Size, err)
	}
	if !nv.Block {
		if err := ext4fs.Format(path, nv.Size, ext4fs.Params{Label: "local-volume"}); err != nil {
			return err
		}
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// delete removes a volume and returns its space. A volume still attached (a pod uses it) is
// refused. Its blocks are released (punched out) before the file goes: the data stays only
// as dm-crypt ciphertext in free space, and new volumes' unwritten extents read as zeros.
// Deleting a volume that does not exist succeeds: the call is safe to retry.
func (v *volumes) delete(id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	vol, err := v.lookup(id)
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	devs, err := loopdev.Find(vol.Path)
	if err != nil {
		return status.Errorf(codes.Internal, "delete volume %s: %v", id, err)
	}
	if len(devs) > 0 {
		return status.Errorf(codes.FailedPrecondition, "delete volume %s: still attached as %s (a pod uses it)", id, devs[0].Path)
	}
	if err := punchOut(vol); err != nil {
		return status.Errorf(codes.Internal, "delete volume %s: %v", id, err)
	}
	if err := os.Remove(vol.Path); err != nil {
		return status.Errorf(codes.Internal, "delete volume %s: %v", id, err)
	}
	return syncDir(v.dir)
}

func punchOut(vol volume) error {
	f, err := os.OpenFile(vol.Path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, vol.Size); err != nil {
		return fmt.Errorf("release its blocks: %w", err)
	}
	return nil
}

// expand grows a volume's file to size bytes (never shrinks it) and returns its size. The
// loop device and the file system follow on the node side (node.go).
func (v *volumes) expand(id string, size int64) (volume, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	vol, err := v.lookup(id)
	if err != nil {
		return volume{}, err
	}
	if size <= vol.Size {
		return vol, nil
	}
	if err := v.needSpace(fmt.Sprintf("growing volume %s by %d MiB", id, (size-vol.Size)>>20), size-vol.Size); err != nil {
		return volume{}, err
	}
	f, err := os.OpenFile(vol.Path, os.O_RDWR, 0)
	if err != nil {
		return volume{}, status.Errorf(codes.Internal, "grow volume %s: %v", id, err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return volume{}, status.Errorf(codes.Internal, "grow volume %s to %d bytes: %v", id, size, err)
	}
	if err := f.Sync(); err != nil {
		return volume{}, status.Errorf(codes.Internal, "grow volume %s: %v", id, err)
	}
	vol.Size = size
	return vol, nil
}

// list returns the IDs of the volumes on this node.
func (v *volumes) list() ([]volume, error) {
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list volumes: %v", err)
	}
	var out []volume
	for _, e := range entries {
		name := e.Name()
		id, block := strings.TrimSuffix(name, suffixExt4), false
		if id == name {
			id, block = strings.TrimSuffix(name, suffixRaw), true
			if id == name {
				continue
			}
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, volume{ID: id, Path: filepath.Join(v.dir, name), Size: info.Size(), Block: block})
	}
	return out, nil
}
