package image

import (
	"encoding/hex"
	"testing"
)

// TestDataKey pins the derivation: it is part of the disk format, so a change would make every
// existing data partition unreadable.
func TestDataKey(t *testing.T) {
	storage := make([]byte, 32)
	for i := range storage {
		storage[i] = byte(i)
	}
	key, err := dataKey(storage)
	if err != nil {
		t.Fatal(err)
	}
	// Computed independently (Python hmac) from RFC 5869.
	const want = "e841a54e3ca33b603af44e1f08b8deea17247c228e98cf42ce1eafecbaceb36675ba356f97f1c4c2f35d768b755c032ba36caa26be167cec94b39ab10b323211"
	if hex.EncodeToString(key) != want {
		t.Fatalf("dataKey = %x, want %s", key, want)
	}
	if _, err := dataKey(storage[:16]); err == nil {
		t.Error("dataKey accepted a 16 byte storage key")
	}
}
