package logtree

import (
	"fmt"
	"strings"
)

// DN is the distinguished name of a log source: a dotted path such as
// "root.consensus.etcd". It mirrors the supervisor tree, so a runnable's logs
// are found under the same name an operator sees in the node's status. The
// empty DN is the root of the tree: it is never written to by a runnable, but
// reading it WithChildren returns every log on the node.
type DN string

// maxDNPartLength bounds one part of a DN so a runaway name (say, built from
// untrusted input) cannot bloat every entry and every API response.
const maxDNPartLength = 128

// Validate returns nil if the DN is the empty root DN or a dotted path of
// non-empty parts made only of ASCII letters, digits, '-' and '_'.
func (d DN) Validate() error {
	if d == "" {
		return nil
	}
	for i, part := range strings.Split(string(d), ".") {
		if err := ValidateName(part); err != nil {
			return fmt.Errorf("DN %.64q: part %d: %w", string(d), i, err)
		}
	}
	return nil
}

// ValidateName checks one part of a DN (such as a runnable's name): it must be
// non-empty, at most 128 bytes, and made of ASCII letters, digits, '-' and '_'.
// Dots are rejected because they separate parts.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty")
	}
	if len(name) > maxDNPartLength {
		return fmt.Errorf("name %.16q... is %d bytes long, at most %d allowed", name, len(name), maxDNPartLength)
	}
	for i, r := range name {
		if !isNameRune(r) {
			return fmt.Errorf("name %.64q: character %q at byte %d is not allowed (only letters, digits, '-' and '_')", name, r, i)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '-' || r == '_':
		return true
	}
	return false
}

// Parts returns the DN split into its parts, or nil for the root DN. The DN
// must be valid.
func (d DN) Parts() []string {
	if d == "" {
		return nil
	}
	return strings.Split(string(d), ".")
}

// Name returns the last part of the DN ("etcd" for "root.consensus.etcd"), or
// "" for the root DN.
func (d DN) Name() string {
	i := strings.LastIndexByte(string(d), '.')
	return string(d[i+1:])
}

// Parent returns the DN one level up. ok is false for the root DN, which has
// no parent. The parent of a single-part DN is the root DN.
func (d DN) Parent() (parent DN, ok bool) {
	if d == "" {
		return "", false
	}
	i := strings.LastIndexByte(string(d), '.')
	if i < 0 {
		return "", true
	}
	return d[:i], true
}

// Child returns the DN of the child called name, or an error if name is not a
// valid DN part.
func (d DN) Child(name string) (DN, error) {
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("child of %.64q: %w", string(d), err)
	}
	if d == "" {
		return DN(name), nil
	}
	return d + "." + DN(name), nil
}

// IsAncestorOf reports whether d is a strict ancestor of other: "root" is an
// ancestor of "root.a" and "root.a.b", but not of "root" or "rootx". The root
// DN is an ancestor of every non-root DN.
func (d DN) IsAncestorOf(other DN) bool {
	if d == "" {
		return other != ""
	}
	return len(other) > len(d) && strings.HasPrefix(string(other), string(d)) && other[len(d)] == '.'
}

// Contains reports whether other is d itself or one of its descendants, which
// is the set of entries a reader of d WithChildren sees.
func (d DN) Contains(other DN) bool {
	return d == other || d.IsAncestorOf(other)
}
