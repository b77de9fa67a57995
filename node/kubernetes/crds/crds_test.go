package crds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopiesMatchTheModules checks each copied definition against the one in
// the module version go.mod pins; after a version bump, copy it again.
func TestCopiesMatchTheModules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to find the module")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/network-policy-api").Output()
	if err != nil {
		t.Fatalf("go list -m sigs.k8s.io/network-policy-api: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	upstream := filepath.Join(dir, "config/crd/standard/policy.networking.k8s.io_clusternetworkpolicies.yaml")
	want, err := os.ReadFile(upstream)
	if err != nil {
		t.Fatalf("the pinned module has no definition where it used to (%v): find it and update this test", err)
	}
	if !bytes.Equal(clusterNetworkPoliciesYAML, want) {
		t.Fatalf("clusternetworkpolicies.yaml differs from the pinned module's: cp %s node/kubernetes/crds/clusternetworkpolicies.yaml", upstream)
	}
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Name != "clusternetworkpolicies.policy.networking.k8s.io" || all[0].Channel != "standard" || all[0].Version == "" {
		t.Fatalf("parsed %q channel %q version %q", all[0].Name, all[0].Channel, all[0].Version)
	}
}

func TestDecide(t *testing.T) {
	ours := CRD{Version: "v0.3.0", Channel: "standard"}
	for _, tc := range []struct {
		name             string
		installed        bool
		version, channel string
		want             Action
		reason           string
	}{
		{"none installed", false, "", "", Create, ""},
		{"the same", true, "v0.3.0", "standard", Keep, ""},
		{"an older release's", true, "v0.2.1", "standard", Replace, ""},
		{"a newer release's", true, "v0.4.0", "standard", Keep, "newer than ours"},
		{"the experimental channel", true, "v0.3.0", "experimental", Keep, `the "experimental" channel`},
		{"no version", true, "", "standard", Keep, "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Decide(ours, tc.installed, tc.version, tc.channel)
			if got != tc.want || !strings.Contains(reason, tc.reason) || (tc.reason == "") != (reason == "") {
				t.Errorf("Decide = %v %q, want %v with %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}
