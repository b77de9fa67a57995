package main

import (
	"reflect"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
	mountutils "k8s.io/mount-utils"
)

// kubeletMount is one mount as the kubelet asks mount-utils for it.
type kubeletMount struct {
	source, target, fsType string
	options, mountFlags    []string
	// statfsOptions are what mount-utils reads from the bind source with statfs(2) and
	// adds to the remount step of a bind (ro, nosuid, nodev, noexec, the atime family).
	statfsOptions []string
}

// upstreamArgs are the mount command lines mount-utils runs for m: one, or two for a bind
// (the bind, then the bind remount), built by mount-utils' own functions so that a change
// upstream shows here.
func (m kubeletMount) upstreamArgs() [][]string {
	bind, bindOpts, bindRemountOpts, _ := mountutils.MakeBindOptsSensitive(m.options, nil)
	if !bind {
		args, _ := mountutils.MakeMountArgsSensitiveWithMountFlags(m.source, m.target, m.fsType, m.options, nil, m.mountFlags)
		return [][]string{args}
	}
	first, _ := mountutils.MakeMountArgsSensitiveWithMountFlags(m.source, m.target, m.fsType, bindOpts, nil, m.mountFlags)
	second, _ := mountutils.MakeMountArgsSensitiveWithMountFlags(m.source, m.target, m.fsType, append(bindRemountOpts, m.statfsOptions...), nil, m.mountFlags)
	return [][]string{first, second}
}

// TestPlanKubeletMounts runs the mounts the kubelet makes (emptyDir, secrets and projected
// tokens on tmpfs, hugepages, subPath and local-volume binds, block volumes, formatted
// disks) through mount-utils' argument builders and checks the mount(2) calls they become.
func TestPlanKubeletMounts(t *testing.T) {
	const dir = "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/v"
	for _, tc := range []struct {
		name     string
		mount    kubeletMount
		wantArgs [][]string
		want     []mountCall
	}{{
		name:     "emptyDir medium Memory (also secrets, projected tokens)",
		mount:    kubeletMount{source: "tmpfs", target: dir, fsType: "tmpfs", options: []string{"size=1073741824"}},
		wantArgs: [][]string{{"-t", "tmpfs", "-o", "size=1073741824", "tmpfs", dir}},
		want:     []mountCall{{Source: "tmpfs", Target: dir, FSType: "tmpfs", Data: "size=1073741824"}},
	}, {
		name:     "tmpfs noswap probe",
		mount:    kubeletMount{source: "tmpfs", target: "/tmp/t", fsType: "tmpfs", options: []string{"noswap"}},
		wantArgs: [][]string{{"-t", "tmpfs", "-o", "noswap", "tmpfs", "/tmp/t"}},
		want:     []mountCall{{Source: "tmpfs", Target: "/tmp/t", FSType: "tmpfs", Data: "noswap"}},
	}, {
		name:     "emptyDir resize",
		mount:    kubeletMount{source: "tmpfs", target: dir, fsType: "tmpfs", options: []string{"remount", "size=2048"}},
		wantArgs: [][]string{{"-t", "tmpfs", "-o", "remount,size=2048", "tmpfs", dir}},
		want:     []mountCall{{Source: "tmpfs", Target: dir, FSType: "tmpfs", Flags: unix.MS_REMOUNT, Data: "size=2048"}},
	}, {
		name:     "hugepages",
		mount:    kubeletMount{source: "nodev", target: dir, fsType: "hugetlbfs", options: []string{"pagesize=2Mi"}},
		wantArgs: [][]string{{"-t", "hugetlbfs", "-o", "pagesize=2Mi", "nodev", dir}},
		want:     []mountCall{{Source: "nodev", Target: dir, FSType: "hugetlbfs", Data: "pagesize=2Mi"}},
	}, {
		name: "subPath bind of an open fd",
		mount: kubeletMount{source: "/proc/42/fd/7", target: "/s", options: []string{"bind"},
			mountFlags: []string{"--no-canonicalize"}, statfsOptions: []string{"relatime"}},
		wantArgs: [][]string{
			{"--no-canonicalize", "-o", "bind", "/proc/42/fd/7", "/s"},
			{"--no-canonicalize", "-o", "bind,remount,relatime", "/proc/42/fd/7", "/s"},
		},
		want: []mountCall{
			{Source: "/proc/42/fd/7", Target: "/s", Flags: unix.MS_BIND},
			{Source: "/proc/42/fd/7", Target: "/s", Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RELATIME},
		},
	}, {
		name: "read-only local volume bind",
		mount: kubeletMount{source: "/mnt/disks/a", target: "/p", options: []string{"bind", "ro"},
			statfsOptions: []string{"nosuid", "nodev"}},
		wantArgs: [][]string{
			{"-o", "bind", "/mnt/disks/a", "/p"},
			{"-o", "bind,remount,ro,nosuid,nodev", "/mnt/disks/a", "/p"},
		},
		want: []mountCall{
			{Source: "/mnt/disks/a", Target: "/p", Flags: unix.MS_BIND},
			{Source: "/mnt/disks/a", Target: "/p", Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV},
		},
	}, {
		name:     "bind carrying _netdev and a filesystem type",
		mount:    kubeletMount{source: "/g", target: "/p", fsType: "ext4", options: []string{"bind", "_netdev"}},
		wantArgs: [][]string{{"-t", "ext4", "-o", "bind,_netdev", "/g", "/p"}, {"-t", "ext4", "-o", "bind,remount,_netdev", "/g", "/p"}},
		want: []mountCall{
			{Source: "/g", Target: "/p", Flags: unix.MS_BIND},
			{Source: "/g", Target: "/p", Flags: unix.MS_REMOUNT | unix.MS_BIND},
		},
	}, {
		name:     "block volume: bind of a device node",
		mount:    kubeletMount{source: "/dev/loop3", target: "/dev/link", options: []string{"bind"}},
		wantArgs: [][]string{{"-o", "bind", "/dev/loop3", "/dev/link"}, {"-o", "bind,remount", "/dev/loop3", "/dev/link"}},
		want: []mountCall{
			{Source: "/dev/loop3", Target: "/dev/link", Flags: unix.MS_BIND},
			{Source: "/dev/loop3", Target: "/dev/link", Flags: unix.MS_REMOUNT | unix.MS_BIND},
		},
	}, {
		name:     "formatted disk mounted read-only (defaults after ro keeps ro)",
		mount:    kubeletMount{source: "/dev/vdb", target: "/g", fsType: "ext4", options: []string{"ro", "defaults"}},
		wantArgs: [][]string{{"-t", "ext4", "-o", "ro,defaults", "/dev/vdb", "/g"}},
		want:     []mountCall{{Source: "/dev/vdb", Target: "/g", FSType: "ext4", Flags: unix.MS_RDONLY}},
	}, {
		name:     "formatted disk with filesystem options",
		mount:    kubeletMount{source: "/dev/vdb", target: "/g", fsType: "ext4", options: []string{"discard", "noatime", "defaults"}},
		wantArgs: [][]string{{"-t", "ext4", "-o", "discard,noatime,defaults", "/dev/vdb", "/g"}},
		want:     []mountCall{{Source: "/dev/vdb", Target: "/g", FSType: "ext4", Flags: unix.MS_NOATIME, Data: "discard"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			gotArgs := tc.mount.upstreamArgs()
			if !reflect.DeepEqual(gotArgs, tc.wantArgs) {
				t.Fatalf("mount-utils now builds %q, this table expects %q: check the new form is supported", gotArgs, tc.wantArgs)
			}
			var got []mountCall
			for _, args := range gotArgs {
				got = append(got, planArgs(t, args)...)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls:\n got  %v\n want %v", got, tc.want)
			}
		})
	}
}

func planArgs(t *testing.T, args []string) []mountCall {
	t.Helper()
	req, err := parseMountArgs(args)
	if err != nil {
		t.Fatalf("parseMountArgs(%q): %v", args, err)
	}
	p, err := planMount(req)
	if err != nil {
		t.Fatalf("planMount(%q): %v", args, err)
	}
	return p.Calls
}

// TestPlanOtherForms covers the forms people use that mount-utils does not build.
func TestPlanOtherForms(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		want        []mountCall
		wantIgnored string
	}{{
		name: "--bind",
		args: []string{"--bind", "/a", "/b"},
		want: []mountCall{{Source: "/a", Target: "/b", Flags: unix.MS_BIND}},
	}, {
		name: "read-only bind in one command",
		args: []string{"-o", "bind,ro", "/a", "/b"},
		want: []mountCall{
			{Source: "/a", Target: "/b", Flags: unix.MS_BIND},
			{Source: "/a", Target: "/b", Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY},
		},
	}, {
		name: "recursive read-only bind: MS_REC only on the bind",
		args: []string{"--rbind", "-o", "ro,noexec", "/a", "/b"},
		want: []mountCall{
			{Source: "/a", Target: "/b", Flags: unix.MS_BIND | unix.MS_REC},
			{Source: "/a", Target: "/b", Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOEXEC},
		},
	}, {
		name:        "filesystem options on a bind are ignored, as by the kernel",
		args:        []string{"-o", "bind,discard", "/a", "/b"},
		want:        []mountCall{{Source: "/a", Target: "/b", Flags: unix.MS_BIND}},
		wantIgnored: "discard",
	}, {
		name: "propagation change",
		args: []string{"--make-rshared", "/var/lib/kubelet"},
		want: []mountCall{{Source: "none", Target: "/var/lib/kubelet", Flags: unix.MS_SHARED | unix.MS_REC}},
	}, {
		name: "propagation words as options, each its own call",
		args: []string{"-o", "rprivate,shared", "/m"},
		want: []mountCall{
			{Source: "none", Target: "/m", Flags: unix.MS_PRIVATE | unix.MS_REC},
			{Source: "none", Target: "/m", Flags: unix.MS_SHARED},
		},
	}, {
		name: "tmpfs, then its propagation",
		args: []string{"-t", "tmpfs", "-o", "nosuid,nodev,mode=0755,rshared", "tmpfs", "/run/x"},
		want: []mountCall{
			{Source: "tmpfs", Target: "/run/x", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755"},
			{Source: "none", Target: "/run/x", Flags: unix.MS_SHARED | unix.MS_REC},
		},
	}, {
		name: "remount read-only with only the target",
		args: []string{"-o", "remount,ro", "/m"},
		want: []mountCall{{Source: "none", Target: "/m", Flags: unix.MS_REMOUNT | unix.MS_RDONLY}},
	}, {
		name: "options, type and positionals in another order, two -o",
		args: []string{"tmpfs", "-o", "size=1m", "/m", "-t", "tmpfs", "-o", "x-kubelet,mode=700", "-c"},
		want: []mountCall{{Source: "tmpfs", Target: "/m", FSType: "tmpfs", Data: "size=1m,mode=700"}},
	}, {
		name: "quoted SELinux context keeps its comma",
		args: []string{"-t", "tmpfs", "-o", `context="system_u:object_r:container_file_t:s0:c1,c2",size=1m`, "tmpfs", "/m"},
		want: []mountCall{{Source: "tmpfs", Target: "/m", FSType: "tmpfs", Data: `context="system_u:object_r:container_file_t:s0:c1,c2",size=1m`}},
	}, {
		name: "-- ends the options",
		args: []string{"-t", "tmpfs", "--", "tmpfs", "-dir"},
		want: []mountCall{{Source: "tmpfs", Target: "-dir", FSType: "tmpfs"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseMountArgs(tc.args)
			if err != nil {
				t.Fatalf("parseMountArgs(%q): %v", tc.args, err)
			}
			p, err := planMount(req)
			if err != nil {
				t.Fatalf("planMount(%q): %v", tc.args, err)
			}
			if !slices.Equal(p.Calls, tc.want) {
				t.Errorf("calls:\n got  %v\n want %v", p.Calls, tc.want)
			}
			if p.Ignored != tc.wantIgnored {
				t.Errorf("ignored options: got %q, want %q", p.Ignored, tc.wantIgnored)
			}
		})
	}
}
