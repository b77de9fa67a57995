package identity

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// NodeIDPrefix starts every node ID, so that IDs are recognisable in logs and DNS names.
	NodeIDPrefix = "metropolis-"
	// nodeIDKeyBytes is how many leading public key bytes go into a node ID; see the package
	// documentation for why 8.
	nodeIDKeyBytes = 8
	// NodeIDLength is the length of every valid node ID in bytes.
	NodeIDLength = len(NodeIDPrefix) + 2*nodeIDKeyBytes
)

// NodeID returns the ID of the node owning pub. It panics if pub is not an ed25519 public key of
// the right length, as that is a programming error: keys from outside are checked when parsed.
func NodeID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("identity.NodeID: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize))
	}
	return NodeIDPrefix + hex.EncodeToString(pub[:nodeIDKeyBytes])
}

// ValidateNodeID checks that id has the form of a node ID, and says what is wrong if not. It
// cannot say whether a node with that ID exists: that is the curator's registry's job.
func ValidateNodeID(id string) error {
	rest, ok := strings.CutPrefix(id, NodeIDPrefix)
	if !ok {
		return fmt.Errorf("node ID %.40q: does not start with %q", id, NodeIDPrefix)
	}
	if len(rest) != 2*nodeIDKeyBytes {
		return fmt.Errorf("node ID %.40q: want %d hex digits after %q, got %d characters", id, 2*nodeIDKeyBytes, NodeIDPrefix, len(rest))
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("node ID %.40q: character %q at position %d is not a lowercase hex digit", id, c, len(NodeIDPrefix)+i)
		}
	}
	return nil
}
