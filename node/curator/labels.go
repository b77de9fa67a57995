package curator

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Label syntax is Kubernetes', so that labels can become Kubernetes node labels unchanged.
var (
	// labelName is a label key's name part, and a non-empty label value.
	labelName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// dnsSubdomain is a label key's optional prefix (RFC 1123 subdomain).
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

const (
	maxLabelNameLength   = 63
	maxLabelPrefixLength = 253
	// maxLabels bounds a node's labels, so one node record cannot grow without limit.
	maxLabels = 128
)

// checkLabelKey accepts "name" or "prefix/name".
func checkLabelKey(key string) error {
	prefix, name := "", key
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			prefix, name = key[:i], key[i+1:]
			if prefix == "" {
				return fmt.Errorf("label key %.80q: empty prefix before '/'", key)
			}
			break
		}
	}
	if prefix != "" && (len(prefix) > maxLabelPrefixLength || !dnsSubdomain.MatchString(prefix)) {
		return fmt.Errorf("label key %.80q: prefix %.80q is not a DNS subdomain of at most %d characters", key, prefix, maxLabelPrefixLength)
	}
	if len(name) == 0 || len(name) > maxLabelNameLength || !labelName.MatchString(name) {
		return fmt.Errorf("label key %.80q: name %.80q must be 1 to %d characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit", key, name, maxLabelNameLength)
	}
	return nil
}

func checkLabelValue(key, value string) error {
	if value == "" {
		return nil
	}
	if len(value) > maxLabelNameLength || !labelName.MatchString(value) {
		return fmt.Errorf("label %.80q: value %.80q must be at most %d characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit", key, value, maxLabelNameLength)
	}
	return nil
}

// nextLabels applies an UpdateNodeLabels request to a node's labels cur and returns the new
// set, or codes.InvalidArgument naming the first label that is wrong.
func nextLabels(nodeID string, cur map[string]string, upsert map[string]string, remove []string) (map[string]string, error) {
	invalid := func(err error) error {
		return status.Errorf(codes.InvalidArgument, "update labels of node %s: %v", nodeID, err)
	}
	if len(upsert) == 0 && len(remove) == 0 {
		return nil, invalid(errors.New("the request sets and removes no label"))
	}
	for _, k := range slices.Sorted(maps.Keys(upsert)) {
		if err := checkLabelKey(k); err != nil {
			return nil, invalid(fmt.Errorf("upsert: %w", err))
		}
		if err := checkLabelValue(k, upsert[k]); err != nil {
			return nil, invalid(fmt.Errorf("upsert: %w", err))
		}
	}
	for _, k := range remove {
		if err := checkLabelKey(k); err != nil {
			return nil, invalid(fmt.Errorf("remove: %w", err))
		}
		if _, both := upsert[k]; both {
			return nil, invalid(fmt.Errorf("label key %q is both upserted and removed", k))
		}
	}
	next := maps.Clone(cur)
	if next == nil {
		next = make(map[string]string)
	}
	maps.Copy(next, upsert)
	for _, k := range remove {
		delete(next, k)
	}
	if len(next) > maxLabels {
		return nil, invalid(fmt.Errorf("the node would have %d labels, more than %d", len(next), maxLabels))
	}
	return next, nil
}
