package workers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
)

// policyTimeout bounds how long a NetworkPolicy change may take to show in traffic: the
// worker's informers, one nftables batch, and kubectl exec under TCG.
const policyTimeout = 2 * time.Minute

// netpolPods are the pods the NetworkPolicy checks use besides the hello Deployment: a client
// in the default namespace on each node, one in a namespace labelled access=yes, and a server
// whose port is named "http", which the last check moves from 8080 to 9090.
func netpolPods(nodes []string) string {
	client := func(ns, name, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {role: client}}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve, -listen, ":8080"]}
---
`, name, ns, node)
	}
	return `apiVersion: v1
kind: Namespace
metadata: {name: trusted, labels: {access: "yes"}}
---
` + client("default", "client-0", nodes[0]) + client("default", "client-1", nodes[1]) + client("trusted", "client-t", nodes[0]) + namedServer(8080)
}

// namedServer is the pod whose named port the policy follows.
func namedServer(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: named, labels: {app: named}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: metropolis.dev/testhttp:v1
    imagePullPolicy: Never
    args: [serve, -listen, ":%d"]
    ports: [{name: http, containerPort: %d}]
`, port, port)
}

const (
	denyIngress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress}
spec:
  podSelector: {matchLabels: {app: hello}}
  policyTypes: [Ingress]
`
	allowTrusted = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-trusted}
spec:
  podSelector: {matchLabels: {app: hello}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {access: "yes"}}}]
`
	allowNamed = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-named}
spec:
  podSelector: {matchLabels: {app: named}}
  ingress:
  - ports: [{port: http}]
`
	denyEgress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
`
	allowDNS = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: dns, protocol: UDP}, {port: dns-tcp, protocol: TCP}]
`
)

// testNetworkPolicy checks NetworkPolicy on the two workers: deny-all ingress blocks a client
// on the other node and on the same node; an allow rule by namespace label lets exactly that
// namespace in; a named-port rule follows a pod whose port number changes; egress deny blocks
// DNS until DNS is allowed; removing the policies restores traffic. hello maps the hello pods
// to their nodes.
func testNetworkPolicy(t *testing.T, k *kubectl.Kubectl, nodes []string, hello map[string]string) {
	must(t, k, netpolPods(nodes), "apply", "-f", "-")
	defer k.Run("", "delete", "--wait=false", "--ignore-not-found", "networkpolicy", "deny-ingress", "allow-trusted", "allow-named", "deny-egress", "allow-dns")
	defer k.Run("", "delete", "--wait=false", "--ignore-not-found", "namespace", "trusted")
	defer k.Run("", "delete", "--wait=false", "--ignore-not-found", "pod", "client-0", "client-1", "named")
	eventually.Pass(t, podTimeout, "the NetworkPolicy test pods Running", func(context.Context) error {
		for _, p := range []string{"client-0", "client-1", "named", "trusted/client-t"} {
			if phase, err := podField(k, p, "{.status.phase}"); err != nil || phase != "Running" {
				return fmt.Errorf("pod %s: %q %v", p, phase, err)
			}
		}
		return nil
	})
	// A hello pod on the first node, so client-0 is beside it and client-1 on the other node.
	var target string
	for p, n := range hello {
		if n == nodes[0] {
			target = p
		}
	}
	if target == "" {
		t.Fatalf("no hello pod on %s: %v", nodes[0], hello)
	}
	ip, err := podField(k, target, "{.status.podIP}")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ip + ":8080/"
	expect := func(what, from, url string, want bool) time.Duration {
		t.Helper()
		return eventually.Pass(t, policyTimeout, what, func(context.Context) error {
			return reaches(k, from, url, want)
		})
	}
	for _, from := range []string{"client-0", "client-1"} {
		expect(from+" reaches "+target+" before any policy", from, url, true)
	}

	must(t, k, denyIngress, "apply", "-f", "-")
	d := expect("deny-all ingress: client-1 (other node) refused", "client-1", url, false)
	t.Logf("NetworkPolicy created → enforced (seen from a pod on the other node): %.1fs", d.Seconds())
	expect("deny-all ingress: client-0 (same node) refused", "client-0", url, false)

	must(t, k, allowTrusted, "apply", "-f", "-")
	expect("allow by namespace label: trusted/client-t let in", "trusted/client-t", url, true)
	expect("allow by namespace label: client-0 (unlabelled namespace) still refused", "client-0", url, false)

	must(t, k, allowNamed, "apply", "-f", "-")
	namedURL := func(port string) string {
		ip, err := podField(k, "named", "{.status.podIP}")
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + ip + ":" + port + "/"
	}
	expect("named port http=8080 allowed", "client-1", namedURL("8080"), true)
	must(t, k, "", "delete", "pod", "named", "--wait=true", "--timeout=2m")
	must(t, k, namedServer(9090), "apply", "-f", "-")
	eventually.Pass(t, podTimeout, "pod named serving on 9090 Running", func(context.Context) error {
		if phase, err := podField(k, "named", "{.status.phase}"); err != nil || phase != "Running" {
			return fmt.Errorf("pod named: %q %v", phase, err)
		}
		return nil
	})
	expect("named port moved to 9090 allowed", "client-1", namedURL("9090"), true)

	must(t, k, denyEgress, "apply", "-f", "-")
	eventually.Pass(t, policyTimeout, "egress deny blocks client-0's DNS", func(context.Context) error {
		return resolves(k, "client-0", false)
	})
	must(t, k, allowDNS, "apply", "-f", "-")
	eventually.Pass(t, policyTimeout, "egress allowed to kube-dns: client-0 resolves again", func(context.Context) error {
		return resolves(k, "client-0", true)
	})
	expect("egress allows only DNS: client-0 cannot reach the named server", "client-0", namedURL("9090"), false)

	must(t, k, "", "delete", "networkpolicy", "deny-ingress", "allow-trusted", "allow-named", "deny-egress", "allow-dns")
	expect("policies removed: client-1 reaches "+target, "client-1", url, true)

	t.Run("ClusterNetworkPolicy tiers around it", func(t *testing.T) {
		testClusterNetworkPolicy(t, k, url, expect)
	})
}

// ClusterNetworkPolicies (policy.networking.k8s.io/v1beta1) of both tiers, about the hello pods.
const (
	adminDenyTrusted = `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: admin-trusted}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: hello}}}}
  ingress:
  - {name: trusted, action: %s, from: [{namespaces: {matchLabels: {access: "yes"}}}]}
`
	baselineDenyAll = `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: baseline-deny}
spec:
  tier: Baseline
  priority: 0
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: hello}}}}
  ingress:
  - {name: all, action: Deny, from: [{namespaces: {}}]}
`
	allowDefault = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-default}
spec:
  podSelector: {matchLabels: {app: hello}}
  ingress:
  - from: [{podSelector: {}}]
`
)

// testClusterNetworkPolicy checks the tiers on the workers with the NetworkPolicy test's pods:
// an Admin deny refuses a namespace a NetworkPolicy lets in, and a Pass hands the decision
// back to the NetworkPolicy; a Baseline deny refuses pods no NetworkPolicy selects, and a
// NetworkPolicy overrides it. url is a hello pod's.
func testClusterNetworkPolicy(t *testing.T, k *kubectl.Kubectl, url string, expect func(what, from, url string, want bool) time.Duration) {
	defer k.Run("", "delete", "--wait=false", "--ignore-not-found", "networkpolicy", "allow-trusted", "allow-default")
	defer k.Run("", "delete", "--wait=false", "--ignore-not-found", "clusternetworkpolicy", "admin-trusted", "baseline-deny")

	must(t, k, allowTrusted, "apply", "-f", "-")
	expect("a NetworkPolicy lets trusted/client-t in", "trusted/client-t", url, true)
	must(t, k, fmt.Sprintf(adminDenyTrusted, "Deny"), "apply", "-f", "-")
	d := expect("an Admin deny refuses trusted/client-t, which the NetworkPolicy lets in", "trusted/client-t", url, false)
	t.Logf("ClusterNetworkPolicy created → enforced: %.1fs", d.Seconds())
	must(t, k, fmt.Sprintf(adminDenyTrusted, "Pass"), "apply", "-f", "-")
	expect("an Admin pass hands trusted/client-t back to the NetworkPolicy", "trusted/client-t", url, true)
	expect("an Admin pass: the NetworkPolicy still refuses client-1", "client-1", url, false)

	must(t, k, "", "delete", "networkpolicy", "allow-trusted")
	must(t, k, "", "delete", "clusternetworkpolicy", "admin-trusted")
	must(t, k, baselineDenyAll, "apply", "-f", "-")
	expect("a Baseline deny refuses client-1 where no NetworkPolicy selects", "client-1", url, false)
	must(t, k, allowDefault, "apply", "-f", "-")
	expect("a NetworkPolicy overrides the Baseline: client-1 let in", "client-1", url, true)
	expect("the NetworkPolicy, not the Baseline, refuses trusted/client-t", "trusted/client-t", url, false)

	must(t, k, "", "delete", "networkpolicy", "allow-default")
	must(t, k, "", "delete", "clusternetworkpolicy", "baseline-deny")
	expect("all policies removed: trusted/client-t reaches the hello pod", "trusted/client-t", url, true)
}

// reaches checks whether pod from (NAMESPACE/NAME, or NAME in default) gets an answer from url.
func reaches(k *kubectl.Kubectl, from, url string, want bool) error {
	ns, name := splitPod(from)
	out, err := k.Run("", "exec", "-n", ns, name, "--", "/testhttp", "get", "-timeout", "3s", url)
	if err != nil && strings.Contains(err.Error(), "unable to upgrade connection") {
		return fmt.Errorf("kubectl exec into %s failed: %v", from, err) // not an answer either way
	}
	switch {
	case want && err != nil:
		return fmt.Errorf("%s → %s refused, want an answer: %v", from, url, err)
	case !want && err == nil:
		return fmt.Errorf("%s → %s answered, want refused: %q", from, url, out)
	}
	return nil
}

// resolves checks whether pod from can look up the hello Service's name.
func resolves(k *kubectl.Kubectl, from string, want bool) error {
	ns, name := splitPod(from)
	out, err := k.Run("", "exec", "-n", ns, name, "--", "/testhttp", "resolve", "-timeout", "3s", "hello.default.svc.cluster.local")
	switch {
	case want && err != nil:
		return fmt.Errorf("%s cannot resolve, want an address: %v", from, err)
	case !want && err == nil:
		return fmt.Errorf("%s resolved %q, want the lookup refused", from, strings.TrimSpace(out))
	}
	return nil
}

func podField(k *kubectl.Kubectl, pod, jsonpath string) (string, error) {
	ns, name := splitPod(pod)
	out, err := k.Run("", "get", "pod", "-n", ns, name, "-o", "jsonpath="+jsonpath)
	return strings.TrimSpace(out), err
}

func splitPod(p string) (namespace, name string) {
	if ns, name, ok := strings.Cut(p, "/"); ok {
		return ns, name
	}
	return "default", p
}
