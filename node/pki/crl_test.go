package pki

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestRevocationList(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	now := time.Now()
	revoked := []Revoked{{Serial: big.NewInt(42), RevokedAt: now}, {Serial: new(big.Int).Lsh(big.NewInt(1), 127), RevokedAt: now}}
	der, err := ca.RevocationList(revoked, 7, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := VerifyRevocationList(der, ca.Certificate())
	if err != nil {
		t.Fatalf("the CA's own list: %v", err)
	}
	if crl.Number.Uint64() != 7 || len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("list number %v with %d entries, want 7 with 2", crl.Number, len(crl.RevokedCertificateEntries))
	}
	for i, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(revoked[i].Serial) != 0 {
			t.Errorf("entry %d: serial %v, want %v", i, e.SerialNumber, revoked[i].Serial)
		}
	}
	if empty, err := ca.RevocationList(nil, 1, now, now.Add(time.Hour)); err != nil {
		t.Errorf("an empty list: %v", err)
	} else if _, err := VerifyRevocationList(empty, ca.Certificate()); err != nil {
		t.Errorf("an empty list does not verify: %v", err)
	}

	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"another CA's list", mustList(t, other, now), "cluster"},
		{"a tampered list", tamper(der), "revocation list"},
		{"not a list", []byte("-----BEGIN X509 CRL-----"), "revocation list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyRevocationList(tc.der, ca.Certificate()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := ca.RevocationList([]Revoked{{Serial: big.NewInt(0)}}, 1, now, now.Add(time.Hour)); err == nil {
		t.Error("a zero serial was accepted")
	}
	if _, err := ca.RevocationList(nil, 1, now, now); err == nil {
		t.Error("a list with no validity was accepted")
	}
}

func mustList(t *testing.T, ca *CA, now time.Time) []byte {
	der, err := ca.RevocationList(nil, 1, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// tamper flips a bit in the signature, at the end of the DER.
func tamper(der []byte) []byte {
	out := append([]byte(nil), der...)
	out[len(out)-1] ^= 1
	return out
}
