package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func mustGenerate(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestKeysRoundTripThroughEveryEncoding(t *testing.T) {
	pub, priv := mustGenerate(t)

	privPEM, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	gotPriv, err := ParsePrivateKeyPEM(privPEM)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("private key PEM round trip: %v, equal=%v", err, gotPriv.Equal(priv))
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("private key PEM starts with %q, want a PRIVATE KEY block", privPEM[:30])
	}

	pubPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	gotPub, err := ParsePublicKeyPEM(pubPEM)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("public key PEM round trip: %v, equal=%v", err, gotPub.Equal(pub))
	}

	// The encodings are the standard ones, readable by crypto/x509 (and so by OpenSSL).
	privDER, _ := MarshalPrivateKeyDER(priv)
	if k, err := x509.ParsePKCS8PrivateKey(privDER); err != nil || !priv.Equal(k) {
		t.Errorf("crypto/x509 cannot read our PKCS#8: %v", err)
	}
	pubDER, _ := MarshalPublicKeyDER(pub)
	if k, err := x509.ParsePKIXPublicKey(pubDER); err != nil || !pub.Equal(k) {
		t.Errorf("crypto/x509 cannot read our PKIX: %v", err)
	}
}

func TestParseKeysRejectsBadInputWithAClearError(t *testing.T) {
	pub, priv := mustGenerate(t)
	privPEM, _ := MarshalPrivateKeyPEM(priv)
	pubPEM, _ := MarshalPublicKeyPEM(pub)
	privDER, _ := MarshalPrivateKeyDER(priv)

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPrivDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	cases := []struct {
		name    string
		parse   func([]byte) error
		input   []byte
		wantErr string
	}{
		{"private: empty input has no PEM block", parsePriv, nil, `no PEM block found (want "PRIVATE KEY")`},
		{"private: a public key PEM is the wrong type", parsePriv, pubPEM, `PEM block type is "PUBLIC KEY", want "PRIVATE KEY"`},
		{"private: an ECDSA key is the wrong algorithm", parsePriv, pemOf("PRIVATE KEY", ecPrivDER), "key algorithm is *ecdsa.PrivateKey, want ed25519"},
		{"private: a second PEM block is trailing data", parsePriv, append(append([]byte{}, privPEM...), privPEM...), `trailing data after the "PRIVATE KEY" PEM block`},
		{"private: text before the block is rejected", parsePriv, append([]byte("hello\n"), privPEM...), "data before"},
		{"private: bytes after the DER are trailing data", parsePriv, pemOf("PRIVATE KEY", append(append([]byte{}, privDER...), 0)), "1 bytes of trailing data after the DER structure"},
		{"private: garbage DER is not DER", parsePriv, pemOf("PRIVATE KEY", []byte("garbage")), "parse private key: not DER"},
		{"private: an encrypted-looking PEM is refused", parsePriv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: privDER}), "has headers"},
		{"public: a private key PEM is the wrong type", parsePub, privPEM, `PEM block type is "PRIVATE KEY", want "PUBLIC KEY"`},
		{"public: an ECDSA key is the wrong algorithm", parsePub, pemOf("PUBLIC KEY", ecPubDER), "key algorithm is *ecdsa.PublicKey, want ed25519"},
		{"public: garbage DER is not PKIX", parsePub, pemOf("PUBLIC KEY", []byte{0x30, 0x00}), "parse public key: not PKIX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(c.input)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func parsePriv(b []byte) error { _, err := ParsePrivateKeyPEM(b); return err }
func parsePub(b []byte) error  { _, err := ParsePublicKeyPEM(b); return err }

func TestMarshalRejectsMalformedKeys(t *testing.T) {
	_, priv := mustGenerate(t)
	tampered := append(ed25519.PrivateKey{}, priv...)
	tampered[40] ^= 1 // the public half no longer matches the seed

	cases := []struct {
		name    string
		marshal func() error
		wantErr string
	}{
		{"short public key", func() error { _, err := MarshalPublicKeyDER(make(ed25519.PublicKey, 12)); return err }, "want 32 bytes, got 12"},
		{"short private key", func() error { _, err := MarshalPrivateKeyDER(make(ed25519.PrivateKey, 32)); return err }, "want 64 bytes, got 32"},
		{"private key with a mismatched public half", func() error { _, err := MarshalPrivateKeyPEM(tampered); return err }, "public half does not match the seed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.marshal(); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
