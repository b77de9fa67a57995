package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "metropolis.dev/metropolis"

func TestCheck(t *testing.T) {
	pkg := func(path string, imports ...string) Package {
		return Package{Path: module + "/" + path, Imports: imports}
	}
	for _, tc := range []struct {
		name string
		pkg  Package
		want string // "" for no violation
	}{
		{"down a layer", pkg("node/core", module+"/osbase/supervisor", module+"/api/v1"), ""},
		{"own directory", pkg("node/core", module+"/node/rpc"), ""},
		{"outside the module", pkg("osbase/netconfig", "github.com/vishvananda/netlink"), ""},
		{"osbase up to api", pkg("osbase/netconfig", module+"/api/v1"), "api is a higher layer than osbase"},
		{"osbase up to node", pkg("osbase/devicemapper", module+"/node/platform/image/layout"), "node is a higher layer than osbase"},
		{"node up to build", pkg("node/nodemgmt", module+"/build/ociimage"), "build is a higher layer than node"},
		{"launch sideways to metroctl", pkg("launch/grow", module+"/metroctl/config"), ""},
		{"metroctl sideways to launch", pkg("metroctl/cli", module+"/launch/qemu"), "metroctl and launch are the same layer and metroctl may not import launch"},
		{"metroctl sideways to build", pkg("metroctl/cli", module+"/build/mkimage"), "may not import build"},
		{"cmd down to launch", pkg("cmd/metroctl", module+"/launch/launchcmd"), ""},
		{"test sideways to cmd", pkg("test/e2e", module+"/cmd/metroctl"), "test and cmd are the same layer"},
		{"unknown directory", pkg("tools/x", module+"/osbase/supervisor"), "tools is in no layer"},
		{"Kubernetes outside cmd/kube", Package{Path: module + "/node/kubernetes", Deps: []string{"k8s.io/client-go/kubernetes", "k8s.io/kubernetes/pkg/apis/core"}}, "only cmd/kube links upstream Kubernetes"},
		{"client-go is not upstream Kubernetes", Package{Path: module + "/node/kubernetes", Deps: []string{"k8s.io/client-go/kubernetes", "k8s.io/kubernetes-sigs/x"}}, ""},
		{"Kubernetes in cmd/kube", Package{Path: module + "/cmd/kube", Deps: []string{"k8s.io/kubernetes/cmd/kubelet/app"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(module, []Package{tc.pkg})
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("violations %v, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].String(), tc.want)):
				t.Errorf("violations %v, want one saying %q", got, tc.want)
			}
		})
	}
}

// TestRepositoryKeepsTheOrder checks every package of the module, with its tests' imports, as
// `go list` sees them on this platform.
func TestRepositoryKeepsTheOrder(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command("go", "list", "-e", "-deps=false", "-json=ImportPath,Imports,TestImports,XTestImports,Deps,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs, err := decodeList(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list found only %d packages of %s; is the test running inside the module?", len(pkgs), module)
	}
	for _, v := range Check(module, pkgs) {
		t.Errorf("%s", v)
	}
}

// decodeList reads the stream of JSON objects `go list -json` writes.
func decodeList(out []byte) ([]Package, error) {
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Deps                               []string
			Error                              *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		if p.Error != nil {
			return nil, errors.New("go list: " + p.ImportPath + ": " + p.Error.Err)
		}
		imports := append(append(p.Imports, p.TestImports...), p.XTestImports...)
		pkgs = append(pkgs, Package{Path: p.ImportPath, Imports: imports, Deps: p.Deps})
	}
}
