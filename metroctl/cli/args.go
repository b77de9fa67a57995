package cli

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// role is a node role as named on the command line.
type role int

const (
	roleConsensusMember role = iota + 1
	roleKubernetesController
	roleKubernetesWorker
)

func (r role) String() string {
	switch r {
	case roleConsensusMember:
		return "ConsensusMember"
	case roleKubernetesController:
		return "KubernetesController"
	case roleKubernetesWorker:
		return "KubernetesWorker"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// roleNames lists the names a person may type, first the canonical ones.
var roleNames = []string{"ConsensusMember", "KubernetesController", "KubernetesWorker", "consensus", "controller", "worker"}

// parseRole reads a role name, ignoring case, '-' and '_', in long ("ConsensusMember",
// "kubernetes-worker") or short form ("consensus", "controller", "worker").
func parseRole(s string) (role, error) {
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	switch norm {
	case "consensusmember", "consensus":
		return roleConsensusMember, nil
	case "kubernetescontroller", "controller":
		return roleKubernetesController, nil
	case "kubernetesworker", "worker":
		return roleKubernetesWorker, nil
	}
	return 0, fmt.Errorf("unknown role %q (want ConsensusMember, KubernetesController or KubernetesWorker, or consensus, controller, worker)", s)
}

// rolesUpdate builds the request that grants (grant=true) or revokes the given roles.
func rolesUpdate(nodeID string, roleArgs []string, grant bool) (*apb.UpdateNodeRolesRequest, []role, error) {
	req := &apb.UpdateNodeRolesRequest{NodeId: nodeID}
	var roles []role
	for _, a := range roleArgs {
		r, err := parseRole(a)
		if err != nil {
			return nil, nil, err
		}
		switch r {
		case roleConsensusMember:
			req.ConsensusMember = &grant
		case roleKubernetesController:
			req.KubernetesController = &grant
		case roleKubernetesWorker:
			req.KubernetesWorker = &grant
		}
		roles = append(roles, r)
	}
	return req, roles, nil
}

// parseNodeState reads a node state: NEW, STANDBY, UP or DECOMMISSIONED, in any case, with or
// without the NODE_STATE_ prefix of the API.
func parseNodeState(s string) (apb.NodeState, error) {
	name := "NODE_STATE_" + strings.TrimPrefix(strings.ToUpper(s), "NODE_STATE_")
	v, ok := apb.NodeState_value[name]
	if !ok || apb.NodeState(v) == apb.NodeState_NODE_STATE_UNSPECIFIED {
		return 0, fmt.Errorf("unknown node state %q (want NEW, STANDBY, UP or DECOMMISSIONED)", s)
	}
	return apb.NodeState(v), nil
}

// parseSeverity reads a minimum log severity: INFO, WARNING, ERROR or FATAL in any case, or
// their first letter.
func parseSeverity(s string) (apb.LogSeverity, error) {
	up := strings.ToUpper(s)
	for v, name := range apb.LogSeverity_name {
		short := strings.TrimPrefix(name, "LOG_SEVERITY_")
		if v == 0 {
			continue
		}
		if up == short || up == name || up == short[:1] {
			return apb.LogSeverity(v), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want INFO, WARNING, ERROR or FATAL)", s)
}

var (
	// labelNameRE is Kubernetes' qualified name part: alphanumerics, '-', '_', '.', starting
	// and ending alphanumeric.
	labelNameRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// dnsSubdomainRE is a lowercase DNS subdomain (RFC 1123).
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// validateLabelKey checks Kubernetes label key syntax: an optional DNS subdomain prefix of at
// most 253 characters and '/', then a name of at most 63 characters.
func validateLabelKey(key string) error {
	name := key
	if prefix, rest, found := strings.Cut(key, "/"); found {
		if prefix == "" || len(prefix) > 253 || !dnsSubdomainRE.MatchString(prefix) {
			return fmt.Errorf("label key %q: prefix %q is not a lowercase DNS subdomain of at most 253 characters", key, prefix)
		}
		name = rest
	}
	if len(name) == 0 || len(name) > 63 || !labelNameRE.MatchString(name) {
		return fmt.Errorf("label key %q: name %q must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", key, name)
	}
	return nil
}

// validateLabelValue checks Kubernetes label value syntax: empty, or a name of at most 63
// characters.
func validateLabelValue(key, value string) error {
	if value == "" {
		return nil
	}
	if len(value) > 63 || !labelNameRE.MatchString(value) {
		return fmt.Errorf("label %q: value %q must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", key, value)
	}
	return nil
}

// parseLabelArgs reads kubectl-style label arguments: "key=value" sets a label, "key-"
// removes one.
func parseLabelArgs(args []string) (upsert map[string]string, remove []string, err error) {
	upsert = make(map[string]string)
	removing := make(map[string]bool)
	for _, a := range args {
		if key, value, found := strings.Cut(a, "="); found {
			if err := validateLabelKey(key); err != nil {
				return nil, nil, err
			}
			if err := validateLabelValue(key, value); err != nil {
				return nil, nil, err
			}
			if old, dup := upsert[key]; dup && old != value {
				return nil, nil, fmt.Errorf("label %q is given two values (%q and %q)", key, old, value)
			}
			upsert[key] = value
			continue
		}
		key, found := strings.CutSuffix(a, "-")
		if !found {
			return nil, nil, fmt.Errorf("label argument %q: want key=value to set or key- to remove", a)
		}
		if err := validateLabelKey(key); err != nil {
			return nil, nil, err
		}
		if !removing[key] {
			remove = append(remove, key)
			removing[key] = true
		}
	}
	for _, key := range remove {
		if _, both := upsert[key]; both {
			return nil, nil, fmt.Errorf("label %q is both set and removed", key)
		}
	}
	return upsert, remove, nil
}

// parsePublicKey reads a node public key given as 64 hex digits, as base64 of its 32 bytes,
// or as the name of a PEM file ("PUBLIC KEY").
func parsePublicKey(s string) (ed25519.PublicKey, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	data, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("public key %q: neither 64 hex digits, nor base64 of 32 bytes, nor a readable PEM file", s)
	}
	pub, err := identity.ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %w", s, err)
	}
	return pub, nil
}

// normalizeFingerprint brings a SHA-256 fingerprint into pki.Fingerprint's form (uppercase
// hex pairs joined by ':'), accepting lowercase, missing colons and a "SHA256:" prefix.
func normalizeFingerprint(s string) (string, error) {
	h := strings.ToUpper(strings.TrimSpace(s))
	h = strings.TrimPrefix(strings.TrimPrefix(h, "SHA256:"), "SHA256=")
	h = strings.NewReplacer(":", "", " ", "").Replace(h)
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("fingerprint %q: want the 32-byte SHA-256 as hex pairs like AB:CD:EF", s)
	}
	pairs := make([]string, len(b))
	for i, x := range b {
		pairs[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(pairs, ":"), nil
}
