package kmod

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sampleDep is shaped like Debian 6.1's modules.dep for the modules the initramfs loads.
const sampleDep = `kernel/drivers/md/dm-mod.ko:
kernel/drivers/md/dm-bufio.ko:
kernel/drivers/md/dm-verity.ko: kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko kernel/lib/reed_solomon/reed_solomon.ko
kernel/lib/reed_solomon/reed_solomon.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/fs/erofs/erofs.ko:
`

func names(ms []Module) []string {
	var out []string
	for _, m := range ms {
		out = append(out, NormaliseName(m.Path))
	}
	return out
}

func TestLoadOrder(t *testing.T) {
	deps, err := ParseDeps(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		want   []string
		loaded []string
		order  []string
	}{
		{name: "dependencies first, in listed order", want: []string{"dm-verity"},
			order: []string{"dm_bufio", "dm_mod", "reed_solomon", "dm_verity"}},
		{name: "each module once", want: []string{"dm_mod", "dm_verity", "dm-mod"},
			order: []string{"dm_mod", "dm_bufio", "reed_solomon", "dm_verity"}},
		{name: "loaded modules skipped", want: []string{"dm_verity", "erofs"}, loaded: []string{"dm_mod", "erofs"},
			order: []string{"dm_bufio", "reed_solomon", "dm_verity"}},
		{name: "loaded module's dependencies not looked at", want: []string{"virtio_pci"}, loaded: []string{"virtio_pci"}},
		{name: "file name spelling", want: []string{"kernel/fs/erofs/erofs.ko"}, order: []string{"erofs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded := map[string]bool{}
			for _, l := range tc.loaded {
				loaded[l] = true
			}
			got, err := deps.LoadOrder(tc.want, func(n string) bool { return loaded[n] })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tc.order) {
				t.Fatalf("order %v, want %v", names(got), tc.order)
			}
		})
	}
}

func TestLoadOrderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, dep, want, err string
	}{
		{"unknown module", sampleDep, "wireguard", "module wireguard is not in modules.dep"},
		{"missing dependency", "a.ko: b.ko c.ko\nb.ko: c.ko\n", "a", "module c (needed by a -> b) is not in modules.dep"},
		{"cycle", "a.ko: b.ko\nb.ko: c.ko\nc.ko: a.ko\n", "a", "module dependency cycle: a -> b -> c -> a"},
		{"self dependency", "a-b.ko: a_b.ko\n", "a_b", "module dependency cycle: a_b -> a_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps, err := ParseDeps(strings.NewReader(tc.dep))
			if err != nil {
				t.Fatal(err)
			}
			_, err = deps.LoadOrder([]string{tc.want}, nil)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestParseDepsRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"kernel/a.ko kernel/b.ko\n", "line 1: no colon"},
		{"# comment\n\nkernel/a.ko.xz:\n", "line 3: module file \"kernel/a.ko.xz\" does not end in .ko"},
		{"/abs/a.ko:\n", "not a clean path"},
		{"../a.ko:\n", "not a clean path"},
		{"a.ko: ../../b.ko\n", "line 1 (a): dependency: module file \"../../b.ko\" is not a clean path"},
		{"x/a.ko:\ny/a.ko:\n", "line 2: module a listed twice"},
	} {
		_, err := ParseDeps(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDeps(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestLoaderSkipsLoadedAndBuiltin(t *testing.T) {
	dir := t.TempDir()
	sys := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(sampleDep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/fs/erofs/erofs.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(sys, "virtio_pci"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &Loader{Dir: dir, SysModule: sys}
	loaded, err := l.Load("virtio-pci", "erofs")
	if err != nil || len(loaded) != 0 {
		t.Fatalf("Load of loaded and built-in modules = %v, %v; want nothing loaded and no error", loaded, err)
	}
	// A module that would have to be loaded reaches finit_module with the file we name; the
	// file does not exist here, so the error must say which.
	_, err = l.Load("dm_verity")
	if err == nil || !strings.Contains(err.Error(), "dm-bufio.ko") {
		t.Fatalf("Load(dm_verity) = %v, want an error naming dm-bufio.ko", err)
	}
}

func FuzzParseDeps(f *testing.F) {
	f.Add(sampleDep)
	f.Add("a.ko: b.ko\nb.ko:\n")
	f.Add("a.ko: a.ko\n")
	f.Fuzz(func(t *testing.T, s string) {
		deps, err := ParseDeps(strings.NewReader(s))
		if err != nil {
			return
		}
		var all []string
		for name := range deps {
			all = append(all, name)
		}
		order, err := deps.LoadOrder(all, nil)
		if err != nil {
			return
		}
		// Every module appears once, after all it needs.
		pos := map[string]int{}
		for i, m := range order {
			n := NormaliseName(m.Path)
			if _, dup := pos[n]; dup {
				t.Fatalf("%s loaded twice", n)
			}
			pos[n] = i
		}
		for _, m := range order {
			for _, dep := range m.Needs {
				if pos[dep] >= pos[NormaliseName(m.Path)] {
					t.Fatalf("%s ordered before its dependency %s", m.Path, dep)
				}
			}
		}
	})
}

func TestWriteRoundTrip(t *testing.T) {
	deps := Deps{
		"a": {Path: "kernel/a.ko", Needs: []string{"b"}},
		"b": {Path: "kernel/b.ko", Needs: []string{"c"}},
		"c": {Path: "kernel/c.ko"},
	}
	var buf strings.Builder
	if err := deps.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "kernel/a.ko: kernel/c.ko kernel/b.ko\nkernel/b.ko: kernel/c.ko\nkernel/c.ko:\n"
	if buf.String() != want {
		t.Fatalf("Write =\n%s\nwant\n%s", buf.String(), want)
	}
	again, err := ParseDeps(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	order, err := again.LoadOrder([]string{"a"}, nil)
	if err != nil || !reflect.DeepEqual(names(order), []string{"c", "b", "a"}) {
		t.Fatalf("order after round trip: %v, %v", names(order), err)
	}
}

// TestBuildDepsFromKernelPackage reads real modules when a Debian kernel's modules are
// unpacked where the image builder and the smoke test put them (METROPOLIS_TEST_MODULES).
func TestBuildDepsFromKernelPackage(t *testing.T) {
	dir := os.Getenv("METROPOLIS_TEST_MODULES")
	if dir == "" {
		t.Skip("METROPOLIS_TEST_MODULES (an unpacked /lib/modules/RELEASE) not set")
	}
	deps, err := BuildDeps(dir)
	if err != nil {
		t.Fatal(err)
	}
	order, err := deps.LoadOrder([]string{"dm_verity"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(order); got[len(got)-1] != "dm_verity" || !slices.Contains(got, "dm_mod") {
		t.Fatalf("dm_verity load order %v lacks dm_mod", got)
	}
}

func TestSoftDeps(t *testing.T) {
	deps, err := ParseDeps(strings.NewReader(`kernel/fs/erofs/erofs.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/crypto/xts.ko:
kernel/crypto/ecb.ko:
`))
	if err != nil {
		t.Fatal(err)
	}
	soft := `# comment
softdep libcrc32c pre: crc32c_generic crc32c-intel crypto-crc32c post: nothing
softdep xts pre: ecb
softdep ecb pre: xts
softdep unknown pre: ecb
`
	if err := deps.ParseSoftDeps(strings.NewReader(soft)); err != nil {
		t.Fatal(err)
	}
	order, err := deps.LoadOrder([]string{"erofs", "xts"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Soft dependencies first; the alias crypto-crc32c is not a module and is ignored; the soft
	// cycle between xts and ecb is broken, not an error.
	want := []string{"crc32c_generic", "crc32c_intel", "libcrc32c", "erofs", "ecb", "xts"}
	if !reflect.DeepEqual(names(order), want) {
		t.Fatalf("order %v, want %v", names(order), want)
	}
	hard, err := deps.order([]string{"erofs"}, nil, false)
	if err != nil || !reflect.DeepEqual(names(hard), []string{"libcrc32c", "erofs"}) {
		t.Fatalf("hard order %v, %v", names(hard), err)
	}
	if err := deps.ParseSoftDeps(strings.NewReader("pre: x\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("malformed softdep line: %v", err)
	}
}

func FuzzParseSoftDeps(f *testing.F) {
	f.Add("softdep dm_verity pre: dm_mod erofs post: x\n")
	f.Add("softdep dm_mod pre: dm_verity\n")
	f.Fuzz(func(t *testing.T, s string) {
		deps, err := ParseDeps(strings.NewReader(sampleDep))
		if err != nil {
			t.Fatal(err)
		}
		if deps.ParseSoftDeps(strings.NewReader(s)) != nil {
			return
		}
		var all []string
		for name := range deps {
			all = append(all, name)
		}
		// Soft dependencies never make the sample's loadable modules unloadable, and hard
		// dependencies still come first.
		order, err := deps.LoadOrder(all, nil)
		if err != nil {
			t.Fatalf("soft dependencies %q broke the load order: %v", s, err)
		}
		pos := map[string]int{}
		for i, m := range order {
			pos[NormaliseName(m.Path)] = i
		}
		for _, m := range order {
			for _, dep := range m.Needs {
				if pos[dep] >= pos[NormaliseName(m.Path)] {
					t.Fatalf("%s ordered before its dependency %s", m.Path, dep)
				}
			}
		}
	})
}
