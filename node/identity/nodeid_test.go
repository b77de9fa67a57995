package identity

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestNodeIDIsPrefixAndHexOfTheKeyStart(t *testing.T) {
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	for i := range pub {
		pub[i] = byte(i * 17)
	}
	const want = "metropolis-0011223344556677"
	if got := NodeID(pub); got != want {
		t.Fatalf("NodeID = %q, want %q", got, want)
	}
	if len(want) != NodeIDLength {
		t.Fatalf("NodeIDLength = %d, but a real ID has %d bytes", NodeIDLength, len(want))
	}
}

func TestNodeIDOfGeneratedKeysIsValidAndDistinct(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		pub, _, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		id := NodeID(pub)
		if err := ValidateNodeID(id); err != nil {
			t.Fatalf("ValidateNodeID(NodeID(key)) = %v, want nil", err)
		}
		if seen[id] {
			t.Fatalf("two generated keys share node ID %s", id)
		}
		seen[id] = true
	}
}

func TestValidateNodeID(t *testing.T) {
	cases := []struct {
		name    string
		id      string
		wantErr string // empty: valid
	}{
		{"well-formed ID is valid", "metropolis-0123456789abcdef", ""},
		{"missing prefix is rejected", "node-0123456789abcdef", `does not start with "metropolis-"`},
		{"empty string is rejected", "", "does not start with"},
		{"too short is rejected", "metropolis-0123", "want 16 hex digits"},
		{"too long is rejected", "metropolis-0123456789abcdef00", "want 16 hex digits"},
		{"uppercase hex is rejected", "metropolis-0123456789ABCDEF", "'A' at position 21 is not a lowercase hex digit"},
		{"non-hex is rejected", "metropolis-0123456789abcdeg", "'g' at position 26"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateNodeID(c.id)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("ValidateNodeID(%q) = %v, want nil", c.id, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("ValidateNodeID(%q) = %v, want error containing %q", c.id, err, c.wantErr)
			}
		})
	}
}

func TestNodeIDPanicsOnAMalformedKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NodeID of a 12-byte key did not panic")
		}
	}()
	NodeID(make(ed25519.PublicKey, 12))
}
