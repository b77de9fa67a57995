package identity

import (
	"crypto/ed25519"
	"testing"
)

// FuzzParsePrivateKeyPEM checks that no input makes the private key parser panic, and that any
// key it accepts is a well-formed key that survives a marshal/parse round trip unchanged.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	_, priv, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := MarshalPrivateKeyPEM(priv)
	pub, _ := MarshalPublicKeyPEM(priv.Public().(ed25519.PublicKey))
	f.Add(good)
	f.Add(pub)
	f.Add(append(append([]byte{}, good...), good...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKeyPEM(data)
		if err != nil {
			return
		}
		again, err := MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatalf("accepted key does not marshal: %v", err)
		}
		back, err := ParsePrivateKeyPEM(again)
		if err != nil || !back.Equal(key) {
			t.Fatalf("re-encoded key does not parse back equal: %v", err)
		}
	})
}
