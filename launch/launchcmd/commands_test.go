package launchcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"metropolis.dev/metropolis/metroctl/cli"
	"metropolis.dev/metropolis/metroctl/config"
)

// testEnv is a metroctl configuration directory and metroctl with these commands added, as
// cmd/metroctl builds it on Linux.
type testEnv struct {
	t     *testing.T
	dir   string
	store *config.Store
}

type runResult struct {
	code           int
	stdout, stderr string
}

func newTestEnv(t *testing.T) *testEnv {
	dir := t.TempDir()
	return &testEnv{t: t, dir: dir, store: config.NewStore(dir)}
}

func (e *testEnv) run(args ...string) runResult {
	var stdout, stderr bytes.Buffer
	app := cli.NewApp()
	app.Stdin, app.Stdout, app.Stderr = strings.NewReader(""), &stdout, &stderr
	app.Getenv = func(k string) string {
		if k == "METROCTL_CONFIG_DIR" {
			return e.dir
		}
		return ""
	}
	app.ClusterCommands = Commands
	code := app.Run(context.Background(), args)
	return runResult{code, stdout.String(), stderr.String()}
}

// TestLaunchRefusesBadArguments checks the errors that come before anything is started.
func TestLaunchRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"VMs without an image", nil, "no node image given"},
		{"an image that does not exist", []string{"--image", "/nonexistent/disk.img"}, "node image: stat /nonexistent/disk.img"},
		{"--hosted with --image", []string{"--hosted", "--image", "disk.img"}, "[hosted image] were all set"},
		{"--hosted with --memory", []string{"--hosted", "--memory", "512"}, "[hosted memory] were all set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			r := e.run(append([]string{"cluster", "launch", "--name", "vms"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want a failure saying %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// TestDestroyTellsClusterKindsApart: a directory holding a QEMU cluster's record is destroyed
// as one (here one whose VMs and network are long gone), an empty one is no cluster at all.
func TestDestroyTellsClusterKindsApart(t *testing.T) {
	e := newTestEnv(t)
	dir := clusterDir(e.store, "vms")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	record := `{"name":"vms","image":"/img/disk.img","network":{"Name":"vmsgone","Subnet":"10.77.0.0/24","Nodes":0},
"machine":{"cpus":2,"memory_mib":2048,"disk_size":1,"firmware_code":"/c","firmware_vars":"/v"},
"nodes":[{"address":"10.77.0.2","mac":"52:54:00:70:80:01"}]}`
	if err := os.WriteFile(filepath.Join(dir, "qemu-cluster.json"), []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("cluster", "destroy", "--name", "vms"); r.code != 0 || !strings.Contains(r.stdout, `Destroyed cluster "vms"`) {
		t.Fatalf("destroy: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still exists", dir)
	}
	if r := e.run("cluster", "destroy", "--name", "vms"); r.code == 0 || !strings.Contains(r.stderr, `no local cluster "vms"`) {
		t.Errorf("second destroy: exit %d, stderr %q; want no local cluster", r.code, r.stderr)
	}
}
