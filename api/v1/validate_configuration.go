package apb

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Bounds on a configuration, so that one node's or the cluster's record cannot grow without
// limit and every list stays one a person can read.
const (
	maxNTPServers      = 8
	maxNameservers     = 3 // resolv.conf(5) honours three
	maxKubernetesItems = 64
	maxRules           = 64
	maxHostLength      = 253
)

// ValidateNodeConfiguration checks a node's configuration and returns an error naming the
// first wrong field by its proto path (e.g. "kubernetes.taints[1].effect: ..."). An absent
// configuration is valid: the node follows the cluster's defaults.
func ValidateNodeConfiguration(c *NodeConfiguration) error {
	if err := checkNTPServers(c.GetNtpServers()); err != nil {
		return fmt.Errorf("ntp_servers%w", err)
	}
	if err := checkNameservers(c.GetNameservers()); err != nil {
		return fmt.Errorf("nameservers%w", err)
	}
	if err := checkKubernetesNode(c.GetKubernetes()); err != nil {
		return fmt.Errorf("kubernetes.%w", err)
	}
	if err := checkKubelet(c.GetKubelet()); err != nil {
		return fmt.Errorf("kubelet.%w", err)
	}
	if _, _, err := NodeNetworkOf(c.GetNetwork()); err != nil {
		return err
	}
	return nil
}

// ValidateClusterConfiguration checks the cluster's configuration as ValidateNodeConfiguration
// checks a node's.
func ValidateClusterConfiguration(c *ClusterConfiguration) error {
	d := c.GetNodeDefaults()
	if err := checkNTPServers(d.GetNtpServers()); err != nil {
		return fmt.Errorf("node_defaults.ntp_servers%w", err)
	}
	if err := checkNameservers(d.GetNameservers()); err != nil {
		return fmt.Errorf("node_defaults.nameservers%w", err)
	}
	rules := d.GetKubernetesRules()
	if len(rules) > maxRules {
		return fmt.Errorf("node_defaults.kubernetes_rules: %d rules, at most %d", len(rules), maxRules)
	}
	for i, r := range rules {
		if err := checkRule(r); err != nil {
			return fmt.Errorf("node_defaults.kubernetes_rules[%d].%w", i, err)
		}
	}
	return nil
}

// The check* helpers below return errors that continue their field's path: ": reason" for
// the field itself, "[i]: reason" or ".field: reason" inside it.

func checkNTPServers(servers []string) error {
	if len(servers) > maxNTPServers {
		return fmt.Errorf(": %d servers, at most %d", len(servers), maxNTPServers)
	}
	for i, s := range servers {
		if err := checkNTPServer(s); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
		if slices.Index(servers, s) < i {
			return fmt.Errorf("[%d]: %.80q is listed twice", i, s)
		}
	}
	return nil
}

// checkNTPServer accepts an IP address or DNS name, with an optional port.
func checkNTPServer(s string) error {
	if len(s) > maxHostLength+6 {
		return fmt.Errorf("%d bytes, longer than a host name and port (starting %.40q)", len(s), s)
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%.80q: port %.20q is not a number from 1 to 65535", s, port)
		}
		host = h
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" || !addr.IsGlobalUnicast() && !addr.IsPrivate() && !addr.IsLoopback() {
			return fmt.Errorf("%.80q: not an address a server can have", s)
		}
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(strings.TrimSuffix(host, ".")); len(errs) > 0 {
		return fmt.Errorf("%.80q: neither an IP address nor a DNS name: %s", s, errs[0])
	}
	return nil
}

func checkNameservers(servers []string) error {
	if len(servers) > maxNameservers {
		return fmt.Errorf(": %d servers, at most %d (resolv.conf uses no more)", len(servers), maxNameservers)
	}
	for i, s := range servers {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return fmt.Errorf("[%d]: %.80q is not an IP address (a DNS server is given by address)", i, s)
		}
		if !addr.IsGlobalUnicast() && !addr.IsPrivate() && !addr.IsLoopback() {
			return fmt.Errorf("[%d]: %s is not an address a server can have", i, addr)
		}
		if slices.Index(servers, s) < i {
			return fmt.Errorf("[%d]: %s is listed twice", i, addr)
		}
	}
	return nil
}

// systemLabelDomains are label and taint key prefixes the system sets itself (the kubelet,
// Kubernetes controllers, Metropolis): a configuration setting them would fight them.
var systemLabelDomains = []string{"kubernetes.io", "k8s.io", "metropolis.dev"}

// operatorLabelDomains are exceptions operators set by convention.
var operatorLabelDomains = []string{"node-role.kubernetes.io", "node-restriction.kubernetes.io"}

func checkKubernetesKey(key string) error {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return fmt.Errorf("%.80q: %s", key, errs[0])
	}
	prefix, _, found := strings.Cut(key, "/")
	if !found || slices.Contains(operatorLabelDomains, prefix) {
		return nil
	}
	for _, d := range systemLabelDomains {
		if prefix == d || strings.HasSuffix(prefix, "."+d) {
			return fmt.Errorf("%.80q: the prefix %s belongs to the system; only node-role.kubernetes.io/ and node-restriction.kubernetes.io/ are open to operators", key, d)
		}
	}
	return nil
}

func checkKubernetesNode(k *KubernetesNodeConfiguration) error {
	labels := k.GetLabels()
	if len(labels) > maxKubernetesItems {
		return fmt.Errorf("labels: %d labels, at most %d", len(labels), maxKubernetesItems)
	}
	for _, key := range sortedKeys(labels) {
		if err := checkKubernetesKey(key); err != nil {
			return fmt.Errorf("labels: key %w", err)
		}
		if errs := validation.IsValidLabelValue(labels[key]); len(errs) > 0 {
			return fmt.Errorf("labels[%.80q]: value %.80q: %s", key, labels[key], errs[0])
		}
	}
	taints := k.GetTaints()
	if len(taints) > maxKubernetesItems {
		return fmt.Errorf("taints: %d taints, at most %d", len(taints), maxKubernetesItems)
	}
	seen := make(map[string]int)
	for i, t := range taints {
		if err := checkKubernetesKey(t.GetKey()); err != nil {
			return fmt.Errorf("taints[%d].key: %w", i, err)
		}
		if v := t.GetValue(); v != "" {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return fmt.Errorf("taints[%d].value: %.80q: %s", i, v, errs[0])
			}
		}
		switch t.GetEffect() {
		case "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			return fmt.Errorf("taints[%d].effect: %.40q; want NoSchedule, PreferNoSchedule or NoExecute", i, t.GetEffect())
		}
		id := t.GetKey() + ":" + t.GetEffect()
		if j, dup := seen[id]; dup {
			return fmt.Errorf("taints[%d]: same key and effect as taints[%d] (%s)", i, j, id)
		}
		seen[id] = i
	}
	return nil
}

// Kubelet reservations: the resources --system-reserved takes and the signals --eviction-hard
// takes (the kubelet's own lists, minus those that need features Metropolis does not run).
var (
	reservedResources = []string{"cpu", "memory", "ephemeral-storage", "pid"}
	evictionSignals   = []string{"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree", "pid.available"}
)

func checkKubelet(k *KubeletConfiguration) error {
	for _, name := range sortedKeys(k.GetSystemReserved()) {
		if !slices.Contains(reservedResources, name) {
			return fmt.Errorf("system_reserved: resource %.40q; want one of %s", name, strings.Join(reservedResources, ", "))
		}
		q, err := resource.ParseQuantity(k.GetSystemReserved()[name])
		if err != nil || q.Sign() < 0 {
			return fmt.Errorf("system_reserved[%s]: %.40q is not a quantity of at least zero, e.g. 500m (cpu) or 1Gi (memory)", name, k.GetSystemReserved()[name])
		}
	}
	for _, signal := range sortedKeys(k.GetEvictionHard()) {
		if !slices.Contains(evictionSignals, signal) {
			return fmt.Errorf("eviction_hard: signal %.40q; want one of %s", signal, strings.Join(evictionSignals, ", "))
		}
		if err := checkThreshold(k.GetEvictionHard()[signal]); err != nil {
			return fmt.Errorf("eviction_hard[%s]: %w", signal, err)
		}
	}
	return nil
}

// checkThreshold accepts a quantity ("100Mi") or a percentage ("5%") as the kubelet does.
func checkThreshold(v string) error {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return fmt.Errorf("%.40q is not a percentage from 0%% to 100%%", v)
		}
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() < 0 {
		return fmt.Errorf("%.40q is neither a quantity (e.g. 100Mi) nor a percentage (e.g. 5%%)", v)
	}
	return nil
}

func checkRule(r *KubernetesNodeRule) error {
	sel := r.GetNodeSelector()
	if len(sel) > maxKubernetesItems {
		return fmt.Errorf("node_selector: %d labels, at most %d", len(sel), maxKubernetesItems)
	}
	for _, key := range sortedKeys(sel) {
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return fmt.Errorf("node_selector: key %.80q: %s", key, errs[0])
		}
		if errs := validation.IsValidLabelValue(sel[key]); len(errs) > 0 {
			return fmt.Errorf("node_selector[%.80q]: value %.80q: %s", key, sel[key], errs[0])
		}
	}
	if r.GetKubernetes() == nil {
		return errors.New("kubernetes: a rule must give labels or taints")
	}
	if err := checkKubernetesNode(r.GetKubernetes()); err != nil {
		return fmt.Errorf("kubernetes.%w", err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
