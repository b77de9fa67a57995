package mkimage

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseModinfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		section string
		path    string
		want    moduleInfo
	}{
		{
			name:    "dashes become underscores",
			section: "license=GPL\x00depends=reed_solomon,dm-mod,dm-bufio\x00name=dm_verity\x00",
			path:    "kernel/drivers/md/dm-verity.ko",
			want: moduleInfo{Name: "dm_verity", Path: "kernel/drivers/md/dm-verity.ko",
				Depends: []string{"reed_solomon", "dm_mod", "dm_bufio"}},
		},
		{
			name:    "softdep and aliases",
			section: "softdep=pre: crypto-crc32c post: foo\x00alias=fs-ext4\x00alias=ext3\x00depends=\x00name=ext4",
			path:    "kernel/fs/ext4/ext4.ko",
			want: moduleInfo{Name: "ext4", Path: "kernel/fs/ext4/ext4.ko",
				SoftPre: []string{"crypto-crc32c"}, Aliases: []string{"fs-ext4", "ext3"}},
		},
		{
			name:    "no name field: from the file",
			section: "depends=\x00garbage\x00\x00",
			path:    "kernel/fs/nls/nls_iso8859-1.ko",
			want:    moduleInfo{Name: "nls_iso8859_1", Path: "kernel/fs/nls/nls_iso8859-1.ko"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseModinfo([]byte(tc.section), tc.path)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("depends=a,b-c\x00softdep=pre: x post: y\x00alias=z*\x00name=m"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info := parseModinfo(data, "kernel/x.ko")
		if info.Name == "" || strings.Contains(info.Name, "-") {
			t.Fatalf("bad name %q", info.Name)
		}
		for _, d := range info.Depends {
			if d == "" || strings.Contains(d, "-") {
				t.Fatalf("bad dependency %q", d)
			}
		}
	})
}

// testIndex is a small kernel: a needs b (which needs c) and softly an alias of d; e is built in.
func testIndex() *moduleIndex {
	return &moduleIndex{
		modules: map[string]moduleInfo{
			"a": {Name: "a", Path: "kernel/a.ko", Depends: []string{"b", "e"}, SoftPre: []string{"crypto-d", "crypto-builtin"}},
			"b": {Name: "b", Path: "kernel/b.ko", Depends: []string{"c"}},
			"c": {Name: "c", Path: "kernel/c.ko"},
			"d": {Name: "d", Path: "kernel/d.ko", Aliases: []string{"crypto-d"}},
			"x": {Name: "x", Path: "kernel/x.ko"},
		},
		builtin: map[string]bool{"e": true},
	}
}

func TestResolve(t *testing.T) {
	idx := testIndex()
	got, err := idx.resolve([]string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("resolved %v, want %v", names, want)
	}
	if _, err := idx.resolve([]string{"nonexistent"}); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("unknown module: got error %v, want one naming it", err)
	}
	if _, err := idx.resolve([]string{"e"}); err != nil {
		t.Fatalf("built-in module: %v", err)
	}
}

func TestModuleMetadata(t *testing.T) {
	set, err := testIndex().resolve([]string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	md := moduleMetadata(set)
	// Users before dependencies: a loader walks the list backwards (c, then b, then a).
	wantDep := "kernel/a.ko: kernel/b.ko kernel/c.ko\nkernel/b.ko: kernel/c.ko\nkernel/c.ko:\nkernel/d.ko:\n"
	if got := string(md["modules.dep"]); got != wantDep {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", got, wantDep)
	}
	if got, want := string(md["modules.softdep"]), "softdep a pre: d\n"; got != want {
		t.Errorf("modules.softdep %q, want %q", got, want)
	}
	if got, want := string(md["modules.alias"]), "alias crypto-d d\n"; got != want {
		t.Errorf("modules.alias %q, want %q", got, want)
	}
}
