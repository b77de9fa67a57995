package mkimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/google/uuid"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// systemMountPoints are the empty directories of the read-only root where PID 1 mounts
// things. Nothing else but the node binary and modules is on the system partition: no shell,
// no interpreter, nothing an attacker could run.
var systemMountPoints = []string{"proc", "sys", "dev", "run", "tmp", "data", "esp", "etc", "var"}

// stagedFile is a file of the system tree: copied from src, or data, or a symbolic link to
// link.
type stagedFile struct {
	src  string
	data []byte
	link string
	mode os.FileMode
}

// stageSystem lays out the system partition's tree in dir: the given files (keyed by path
// without the leading slash), the system modules with their metadata, and the mount points.
// It returns a digest of the tree (names, modes, contents) from which the erofs UUID is
// derived.
func stageSystem(dir string, files map[string]stagedFile, kernel *kernelTree, modules []moduleInfo) (string, error) {
	modDir := path.Join(layout.ModulesDir[1:], KernelVersion)
	for _, m := range modules {
		files[path.Join(modDir, m.Path)] = stagedFile{src: filepath.Join(kernel.ModulesDir, m.Path), mode: 0o644}
	}
	for name, data := range moduleMetadata(modules) {
		files[path.Join(modDir, name)] = stagedFile{data: data, mode: 0o644}
	}

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	digest := sha256.New()
	for _, mp := range systemMountPoints {
		if err := mkdirMode(filepath.Join(dir, mp)); err != nil {
			return "", err
		}
		fmt.Fprintf(digest, "dir %s\n", mp)
	}
	for _, name := range names {
		f := files[name]
		if f.link != "" {
			if err := os.Symlink(f.link, filepath.Join(dir, name)); err != nil {
				return "", err
			}
			fmt.Fprintf(digest, "link %s %s\n", name, f.link)
			continue
		}
		data := f.data
		if f.src != "" {
			var err error
			if data, err = os.ReadFile(f.src); err != nil {
				return "", fmt.Errorf("system partition file /%s: %w", name, err)
			}
		}
		dst := filepath.Join(dir, name)
		for d := filepath.Dir(dst); d != dir; d = filepath.Dir(d) {
			if err := mkdirMode(d); err != nil {
				return "", err
			}
		}
		if err := os.WriteFile(dst, data, f.mode); err != nil {
			return "", err
		}
		// WriteFile's mode passes through the umask; the image must not depend on it.
		if err := os.Chmod(dst, f.mode); err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(digest, "file %s %o %x\n", name, f.mode, sum)
	}
	return hex.EncodeToString(digest.Sum(nil)), nil
}

func mkdirMode(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// erofsUUIDNamespace makes the erofs UUID a function of the tree's digest.
var erofsUUIDNamespace = uuid.MustParse("0d6c1f8e-5a43-4f7e-8c39-2b1e7a9d4c60")

// makeErofs writes the erofs image of dir to out. Every input of mkfs.erofs that could vary
// is fixed: timestamps (-T), owners (--all-root), xattrs (off: the host's SELinux labels must
// not leak in), UUID (from the tree's digest). lz4hc: the best compressor this erofs-utils has
// and one the kernel decompresses fast.
func makeErofs(ctx context.Context, dir, treeDigest, out string) error {
	fsUUID := uuid.NewSHA1(erofsUUIDNamespace, []byte(treeDigest))
	_, err := run(ctx, "", nil, "mkfs.erofs", "--quiet", "-zlz4hc",
		"-T"+strconv.FormatInt(sourceDateEpoch, 10), "-U"+fsUUID.String(),
		"--all-root", "-x-1", out, dir)
	if err != nil {
		return fmt.Errorf("making the erofs system image: %w", err)
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	if st.Size()%layout.VerityBlockSize != 0 {
		// erofs writes whole 4 KiB blocks; pad if a future version does not, so verity covers
		// every byte.
		if err := os.Truncate(out, (st.Size()/layout.VerityBlockSize+1)*layout.VerityBlockSize); err != nil {
			return err
		}
	}
	return nil
}

var rootHashLine = regexp.MustCompile(`(?m)^Root hash:\s+([0-9a-f]{64})\s*$`)

// appendVerity appends a dm-verity hash tree (no superblock, SHA-256, VerityBlockSize blocks)
// to the erofs image at path and returns its parameters. The salt is the image's SHA-256, so
// the same image always gets the same tree and root hash, and no two images share a salt.
func appendVerity(ctx context.Context, path string) (layout.Verity, error) {
	f, err := os.Open(path)
	if err != nil {
		return layout.Verity{}, err
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return layout.Verity{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	v := layout.Verity{
		DataBlocks: uint64(size) / layout.VerityBlockSize,
		Salt:       h.Sum(nil),
	}
	v.HashStartBlock = v.DataBlocks
	bs := strconv.Itoa(layout.VerityBlockSize)
	out, err := run(ctx, "", nil, "veritysetup", "format", "--no-superblock", "--hash=sha256",
		"--data-block-size="+bs, "--hash-block-size="+bs,
		"--data-blocks="+strconv.FormatUint(v.DataBlocks, 10),
		"--hash-offset="+strconv.FormatUint(v.HashStartBlock*layout.VerityBlockSize, 10),
		"--salt="+hex.EncodeToString(v.Salt), path, path)
	if err != nil {
		return layout.Verity{}, fmt.Errorf("building the verity hash tree: %w", err)
	}
	m := rootHashLine.FindSubmatch(out)
	if m == nil {
		return layout.Verity{}, fmt.Errorf("veritysetup format printed no root hash:\n%s", bytes.TrimSpace(out))
	}
	if v.RootHash, err = hex.DecodeString(string(m[1])); err != nil {
		return layout.Verity{}, err
	}
	return v, nil
}

// VerifySystemImage checks a system partition image (erofs followed by its hash tree) against
// verity parameters with `veritysetup verify`, which reads plain files without device-mapper.
func VerifySystemImage(ctx context.Context, path string, v layout.Verity) error {
	bs := strconv.Itoa(layout.VerityBlockSize)
	_, err := run(ctx, "", nil, "veritysetup", "verify", "--no-superblock", "--hash=sha256",
		"--data-block-size="+bs, "--hash-block-size="+bs,
		"--data-blocks="+strconv.FormatUint(v.DataBlocks, 10),
		"--hash-offset="+strconv.FormatUint(v.HashStartBlock*layout.VerityBlockSize, 10),
		"--salt="+hex.EncodeToString(v.Salt), path, path, hex.EncodeToString(v.RootHash))
	if err != nil {
		return fmt.Errorf("system image %s does not match its verity root hash: %w", path, err)
	}
	return nil
}
