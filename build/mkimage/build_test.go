package mkimage

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update/bundle"
)

// TestBuild builds the image twice (the kernel package is cached in out/cache across runs)
// with a small stand-in for both node programs, and checks what a node and an attacker see.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two disk images")
	}
	ctx := context.Background()
	src, err := FindSourceDir(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "testinit")
	if err := goBuild(ctx, src, "./build/mkimage/testdata/testinit", bin); err != nil {
		t.Fatal(err)
	}
	params := []byte("test node parameters")
	signingKey, releaseKey, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	build := func() *Result {
		out := t.TempDir()
		res, err := Build(ctx, Options{
			OutDir: out, SourceDir: src, InitBinary: bin, NodeBinary: bin,
			Parameters: params, DiskSize: MinimumDiskSize(), Progress: testWriter{t},
			Version: "1.2.3-test", ReleaseKeys: [][]byte{releaseKey},
			BundlePath: filepath.Join(out, "bundle"), SigningKey: signingKey,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := build(), build()

	t.Run("reproducible", func(t *testing.T) {
		ha, hb := imageSHA256(t, a.ImagePath), imageSHA256(t, b.ImagePath)
		if ha != hb {
			for _, p := range [][2]string{{a.InitramfsPath, b.InitramfsPath}, {a.SystemImagePath, b.SystemImagePath}, {a.UKIPath, b.UKIPath}} {
				t.Logf("%s: %s vs %s", filepath.Base(p[0]), sha256File(t, p[0]), sha256File(t, p[1]))
			}
			t.Fatalf("two builds of the same inputs differ: %s vs %s", ha, hb)
		}
		t.Logf("image SHA-256 %s", ha)
		if ba, bb := sha256File(t, filepath.Join(filepath.Dir(a.ImagePath), "bundle")), sha256File(t, filepath.Join(filepath.Dir(b.ImagePath), "bundle")); ba != bb {
			t.Errorf("two builds of the same inputs give different bundles: %s vs %s", ba, bb)
		}
	})

	t.Run("bundle reads back under the release key", func(t *testing.T) {
		pub, err := bundle.ParsePublicKey(releaseKey)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(filepath.Dir(a.ImagePath), "bundle"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := bundle.Open(f, []ed25519.PublicKey{pub})
		if err != nil {
			t.Fatal(err)
		}
		m := r.Manifest()
		if m.Version != "1.2.3-test" || m.SystemVerity != a.Verity.String() || m.KernelVersion != KernelVersion {
			t.Errorf("manifest says version %q, verity %s, kernel %s; built %s, %s", m.Version, m.SystemVerity, m.KernelVersion, a.Verity, KernelVersion)
		}
		for _, want := range []string{bundle.PartUKI, bundle.PartSystem} { // the manifest's order
			p, pr, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != want {
				t.Errorf("part %s where %s belongs", p.Name, want)
			}
			if _, err := io.Copy(io.Discard, pr); err != nil {
				t.Errorf("part %s: %v", p.Name, err)
			}
		}
		if _, _, err := r.Next(); err != io.EOF {
			t.Errorf("after the last part: %v, want io.EOF", err)
		}
		if bytes.Contains(mustRead(t, a.SystemImagePath), signingKey[40:80]) || bytes.Contains(mustRead(t, a.UKIPath), signingKey[40:80]) {
			t.Error("the release's private key is in the image")
		}
	})

	t.Run("no shell in the initramfs", func(t *testing.T) {
		entries, err := ReadInitramfs(a.InitramfsPath)
		if err != nil {
			t.Fatal(err)
		}
		var sawInit, sawModule bool
		for _, e := range entries {
			switch e.Mode & modeTypeMask {
			case modeDir:
			case modeCharDev:
				if e.Name != "dev/console" {
					t.Errorf("unexpected device node %s", e.Name)
				}
			case modeRegular:
				checkNotAProgram(t, "initramfs", e.Name)
				switch {
				case e.Name == "init":
					sawInit = true
				case isModuleFile(e.Name):
					sawModule = sawModule || strings.HasSuffix(e.Name, "/dm-verity.ko")
				default:
					t.Errorf("initramfs holds %s: neither /init, a module nor module metadata", e.Name)
				}
			default:
				t.Errorf("initramfs entry %s has mode %o: only files, directories and /dev/console belong there", e.Name, e.Mode)
			}
		}
		if !sawInit || !sawModule {
			t.Errorf("initramfs lacks /init (%v) or dm-verity.ko (%v)", sawInit, sawModule)
		}
	})

	t.Run("no shell in the system partition", func(t *testing.T) {
		dir := t.TempDir()
		erofs := filepath.Join(t.TempDir(), "erofs.img")
		copyPrefix(t, a.SystemImagePath, erofs, a.ErofsSize)
		if out, err := exec.Command("fsck.erofs", "--extract="+dir, erofs).CombinedOutput(); err != nil {
			t.Fatalf("fsck.erofs --extract: %v\n%s", err, out)
		}
		var sawNode bool
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			switch {
			case info.IsDir():
			case info.Mode().IsRegular():
				checkNotAProgram(t, "system partition", rel)
				switch {
				case "/"+rel == layout.SystemNodeBinary:
					sawNode = true
				case "/"+rel == layout.SystemKubeBinary, isModuleFile(rel):
				case "/"+rel == layout.SystemVersionPath:
					if data, _ := os.ReadFile(p); string(data) != "1.2.3-test\n" {
						t.Errorf("%s holds %q, want the version built", layout.SystemVersionPath, data)
					}
				case strings.HasPrefix("/"+rel, layout.SystemReleaseKeysDir+"/"):
					if data, _ := os.ReadFile(p); !bytes.Equal(data, releaseKey) {
						t.Errorf("/%s is not the release key given", rel)
					}
				default:
					t.Errorf("system partition holds /%s: neither our binaries, a module nor module metadata", rel)
				}
			default:
				t.Errorf("system partition holds /%s of mode %v: only files and directories belong there", rel, info.Mode())
			}
			return nil
		})
		if !sawNode {
			t.Errorf("system partition lacks %s", layout.SystemNodeBinary)
		}
		for _, mp := range systemMountPoints {
			if st, err := os.Stat(filepath.Join(dir, mp)); err != nil || !st.IsDir() {
				t.Errorf("system partition lacks mount point /%s", mp)
			}
		}
	})

	t.Run("UKI carries the verity parameters", func(t *testing.T) {
		cmdline, err := ReadUKICmdline(a.UKIPath)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := layout.CmdlineValue(cmdline, layout.VerityCmdlineKey)
		if !ok {
			t.Fatalf("UKI command line %q has no %s", cmdline, layout.VerityCmdlineKey)
		}
		parsed, err := layout.ParseVerity(v)
		if err != nil {
			t.Fatal(err)
		}
		if parsed.String() != a.Verity.String() || cmdline != a.Cmdline {
			t.Fatalf("UKI command line %q does not carry the built verity %s", cmdline, a.Verity)
		}
		if int64(parsed.DataBlocks)*layout.VerityBlockSize != a.ErofsSize {
			t.Errorf("verity covers %d blocks, erofs is %d bytes", parsed.DataBlocks, a.ErofsSize)
		}
	})

	t.Run("verity verifies, and catches a changed byte", func(t *testing.T) {
		if err := VerifySystemImage(ctx, a.SystemImagePath, a.Verity); err != nil {
			t.Fatal(err)
		}
		tampered := filepath.Join(t.TempDir(), "system.img")
		copyPrefix(t, a.SystemImagePath, tampered, a.SystemSize)
		f, err := os.OpenFile(tampered, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		// A byte in the middle of the erofs image: the node binary's data or metadata.
		if _, err := f.WriteAt([]byte{0x5a}, a.ErofsSize/2); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := VerifySystemImage(ctx, tampered, a.Verity); err == nil {
			t.Fatal("a changed system image still verifies")
		}
	})

	t.Run("disk layout", func(t *testing.T) {
		f, err := os.Open(a.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		table, err := gpt.Read(f, layout.SectorSize, layout.SectorSize)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			name string
			typ  string
			off  int64
			size int64
		}{
			{layout.NameESP, layout.TypeESP.String(), a.Partitions.ESPOffset, layout.ESPSize},
			{layout.NameSystemA, layout.TypeSystem.String(), a.Partitions.SystemAOffset, layout.SystemSize},
			{layout.NameSystemB, layout.TypeSystem.String(), a.Partitions.SystemBOffset, layout.SystemSize},
		}
		var parts []*gpt.Partition
		for _, p := range table.Partitions {
			if p.Type != gpt.Unused {
				parts = append(parts, p)
			}
		}
		if len(parts) != len(want) {
			t.Fatalf("%d partitions, want %d", len(parts), len(want))
		}
		guids := map[string]bool{}
		for i, w := range want {
			p := parts[i]
			if p.Name != w.name || !strings.EqualFold(string(p.Type), w.typ) || p.GetStart() != w.off || p.GetSize() != w.size {
				t.Errorf("partition %d: %s %s at %d, %d bytes; want %s %s at %d, %d bytes", i+1, p.Name, p.Type, p.GetStart(), p.GetSize(), w.name, w.typ, w.off, w.size)
			}
			guids[p.GUID] = true
		}
		if len(guids) != 3 {
			t.Errorf("partition GUIDs are not distinct: %v", guids)
		}
		st, _ := f.Stat()
		if free := st.Size() - a.Partitions.DataOffset; free < layout.MinimumDataSize {
			t.Errorf("%d bytes free for the data partition, want at least %d", free, layout.MinimumDataSize)
		}
		sysA := make([]byte, 4096)
		sysImg := make([]byte, 4096)
		f.ReadAt(sysA, a.Partitions.SystemAOffset)
		img, _ := os.Open(a.SystemImagePath)
		img.ReadAt(sysImg, 0)
		img.Close()
		if !bytes.Equal(sysA, sysImg) {
			t.Error("system A does not start with the system image")
		}
	})

	t.Run("ESP holds the UKI and parameters", func(t *testing.T) {
		f, err := os.Open(a.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fs, err := fat32.Read(file.New(f, true), layout.ESPSize, a.Partitions.ESPOffset, layout.SectorSize)
		if err != nil {
			t.Fatal(err)
		}
		uki, _ := os.ReadFile(a.UKIPath)
		for p, want := range map[string][]byte{layout.ESPBootPath: uki, layout.ESPParametersPath: params} {
			r, err := fs.OpenFile(p, os.O_RDONLY)
			if err != nil {
				t.Fatalf("ESP %s: %v", p, err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("ESP %s: %d bytes, not the %d bytes built", p, len(got), len(want))
			}
		}
	})
}

// checkNotAProgram fails if name is a shell, a multi-call binary or an interpreter.
func checkNotAProgram(t *testing.T, where, name string) {
	t.Helper()
	base := path.Base(name)
	switch base {
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox",
		"awk", "gawk", "mawk", "node", "env":
		t.Errorf("%s holds %s", where, name)
	}
	for _, prefix := range []string{"python", "perl", "lua", "ruby", "php", "tclsh", "wish"} {
		if strings.HasPrefix(base, prefix) {
			t.Errorf("%s holds %s, an interpreter", where, name)
		}
	}
}

// isModuleFile reports whether name is a module or module metadata of our kernel.
func isModuleFile(name string) bool {
	dir := path.Join(layout.ModulesDir[1:], KernelVersion) + "/"
	if !strings.HasPrefix(name, dir) {
		return false
	}
	rel := strings.TrimPrefix(name, dir)
	return (strings.HasPrefix(rel, "kernel/") && strings.HasSuffix(rel, ".ko")) ||
		rel == "modules.dep" || rel == "modules.softdep" || rel == "modules.alias"
}

func mustRead(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sha256File(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func copyPrefix(t *testing.T, src, dst string, n int64) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func imageSHA256(t *testing.T, p string) string {
	sum, err := ImageSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
