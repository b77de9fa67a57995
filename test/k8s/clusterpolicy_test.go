package k8s

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
)

// testClusterNetworkPolicyAPI checks that the controller installed the
// ClusterNetworkPolicy definition (policy.networking.k8s.io): a policy is
// taken and read back, and one with an unknown tier or no rule peers is
// refused with the field named. Enforcement is the workers' test.
func testClusterNetworkPolicyAPI(t *testing.T, c *cluster) {
	write := func(name, body string) string {
		// Not under t.TempDir: kubectl -f splits paths at commas, which the test's name has.
		dir, err := os.MkdirTemp("", "cnp")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	policy := func(name, tier, from string) string {
		return fmt.Sprintf(`apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: %s}
spec:
  tier: %s
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: %s}
`, name, tier, from)
	}
	good := write("good", policy("deny-untrusted", "Admin", `[{namespaces: {matchLabels: {trust: "no"}}}]`))
	eventually.Pass(t, time.Minute, "the ClusterNetworkPolicy definition established", func(context.Context) error {
		_, err := c.kubectl("create", "-f", good)
		return err
	})
	if got := c.mustKubectl("get", "clusternetworkpolicy", "deny-untrusted", "-o", "jsonpath={.spec.tier}/{.spec.ingress[0].action}"); got != "Admin/Deny" {
		t.Errorf("the policy read back as %q, want Admin/Deny", got)
	}
	for _, tc := range []struct{ name, body, field string }{
		{"bad-tier", policy("bad-tier", "Developer", `[{namespaces: {}}]`), "spec.tier"},
		{"no-peers", policy("no-peers", "Baseline", `[]`), "spec.ingress[0].from"},
	} {
		out, err := c.kubectl("create", "-f", write(tc.name, tc.body))
		if err == nil || !strings.Contains(fmt.Sprint(out, err), tc.field) {
			t.Errorf("%s: kubectl create = %q, %v; want a refusal naming %s", tc.name, out, err, tc.field)
		}
	}
	c.mustKubectl("delete", "clusternetworkpolicy", "deny-untrusted")
}
