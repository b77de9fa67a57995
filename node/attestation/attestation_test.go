package attestation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"

	"metropolis.dev/metropolis/osbase/tpm"
	"metropolis.dev/metropolis/osbase/tpm/attesttest"
	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// wantRefusal checks that err is a Refusal whose cause says want.
func wantRefusal(t *testing.T, err error, want string) {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || !strings.Contains(r.Cause, want) {
		t.Errorf("got %v, want a refusal saying %q", err, want)
	}
}

func TestEndorsement(t *testing.T) {
	vendor, other := tpmtest.NewVendorCA(t), tpmtest.NewVendorCA(t)
	m := attesttest.New(t, vendor, "firmware 1", "UKI A")
	tpmtest.Manufacture(t, t.TempDir(), other) // makes other's CA certificates
	bare := attesttest.New(t, nil, "firmware 1", "UKI A")
	if m.EK.Certificate == nil || bare.EK.Certificate != nil {
		t.Fatalf("EK certificates: manufactured TPM %v, bare TPM %v; want one and none", m.EK.Certificate != nil, bare.EK.Certificate != nil)
	}
	now := time.Now()
	vendorRoots := []*x509.Certificate{vendor.Root, vendor.Intermediate}
	for _, tc := range []struct {
		name    string
		policy  Policy
		ek      *tpm.Endorsement
		wantErr string // "" to be trusted
	}{
		{"a certificate from a trusted vendor", Policy{EKRoots: vendorRoots}, m.EK, ""},
		{"a certificate from another vendor", Policy{EKRoots: []*x509.Certificate{other.Root, other.Intermediate}}, m.EK, "does not chain to a CA the cluster trusts"},
		{"a certificate and no trusted vendor", Policy{}, m.EK, "the cluster trusts no EK CA"},
		{"a pinned EK without a certificate", Policy{PinnedEKs: [][]byte{EKFingerprint(bare.EK.Public)}}, bare.EK, ""},
		{"an EK without a certificate, not pinned", Policy{EKRoots: vendorRoots, PinnedEKs: [][]byte{EKFingerprint(m.EK.Public)}}, bare.EK, "has no EK certificate"},
		{"a certificate for another EK", Policy{EKRoots: vendorRoots}, &tpm.Endorsement{Public: bare.EK.Public, Certificate: m.EK.Certificate}, "for another key"},
		{"a certificate that does not parse", Policy{EKRoots: vendorRoots}, &tpm.Endorsement{Public: m.EK.Public, Certificate: []byte("junk")}, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEndorsement(tc.policy, tc.ek.Public, tc.ek.Certificate, now)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			wantRefusal(t, err, tc.wantErr)
		})
	}
}

func TestCredentialActivation(t *testing.T) {
	a := attesttest.New(t, nil, "firmware 1", "UKI A")
	b := attesttest.New(t, nil, "firmware 1", "UKI A")
	akParams := func(m *attesttest.Machine) attest.AttestationParameters {
		t.Helper()
		_, p, err := m.Attestor.NewAK()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	blob, params, err := a.Attestor.NewAK()
	if err != nil {
		t.Fatal(err)
	}
	secret, cred, err := Challenge(a.EK.Public, params)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Attestor.ActivateCredential(blob, *cred)
	if err != nil {
		t.Fatalf("the TPM holding the EK and AK cannot activate: %v", err)
	}
	if err := CheckActivation(secret, got); err != nil {
		t.Errorf("the recovered secret: %v", err)
	}
	wantRefusal(t, CheckActivation(secret, append([]byte{1}, got[1:]...)), "AK not in that TPM")

	// Another TPM's AK, claimed with this TPM's EK: the credential is encrypted to an EK that
	// TPM does not hold.
	_, cred, err = Challenge(a.EK.Public, akParams(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attestor.ActivateCredential(b.AK, *cred); err == nil {
		t.Error("a TPM activated a credential encrypted to another TPM's EK")
	}
	// An AK that is not a TPM's restricted signing key is refused before any challenge.
	bad := params
	bad.CreateAttestation = append([]byte(nil), bad.CreateAttestation...)
	bad.CreateAttestation[len(bad.CreateAttestation)-1] ^= 1
	_, _, err = Challenge(a.EK.Public, bad)
	wantRefusal(t, err, "AK not in that TPM")
}

func TestVerify(t *testing.T) {
	m := attesttest.New(t, nil, "firmware 1", "UKI A")
	blob, akPub := m.AK, m.AKParams.Public
	nonce := []byte("a fresh nonce of 32 bytes.......")
	ev, err := m.Attestor.Quote(blob, nonce)
	if err != nil {
		t.Fatal(err)
	}
	trusted := [][]byte{tpmtest.Digest("UKI Z"), tpmtest.Digest("UKI A")}
	got, err := Verify(akPub, ev, Expectation{Nonce: nonce, Releases: trusted})
	if err != nil {
		t.Fatalf("the first attestation: %v", err)
	}
	if !bytes.Equal(got.UKI, tpmtest.Digest("UKI A")) || len(got.Firmware) != len(FirmwarePCRs) {
		t.Fatalf("measured UKI %x and %d firmware PCRs, want UKI A's and %d", got.UKI, len(got.Firmware), len(FirmwarePCRs))
	}
	if _, err := Verify(akPub, ev, Expectation{Nonce: nonce, Releases: trusted, Firmware: got.Firmware}); err != nil {
		t.Fatalf("a later attestation with the same firmware: %v", err)
	}

	other := attesttest.New(t, nil, "firmware 2", "UKI A")
	otherEv, err := other.Attestor.Quote(other.AK, nonce)
	if err != nil {
		t.Fatal(err)
	}
	tamperedPCR := *ev
	tamperedPCR.PCRs = maps.Clone(ev.PCRs)
	tamperedPCR.PCRs[4] = bytes.Repeat([]byte{1}, 32)
	otherLog := *ev
	otherLog.EventLog = tpmtest.EventLog(tpmtest.BootEvents("firmware 1", "UKI B"))
	tamperedSig := *ev
	tamperedSig.Signature = append([]byte(nil), ev.Signature...)
	tamperedSig.Signature[len(tamperedSig.Signature)-1] ^= 1
	for _, tc := range []struct {
		name string
		ak   []byte
		ev   *tpm.Evidence
		want Expectation
		err  string
	}{
		{"a replayed quote", akPub, ev, Expectation{Nonce: []byte("the nonce of this attestation..."), Releases: trusted}, "replayed quote"},
		{"an untrusted release", akPub, ev, Expectation{Nonce: nonce, Releases: [][]byte{tpmtest.Digest("UKI B")}}, "untrusted release"},
		{"other firmware", other.AKParams.Public, otherEv, Expectation{Nonce: nonce, Releases: trusted, Firmware: got.Firmware}, "firmware changed: PCR 0"},
		{"another TPM's quote", akPub, otherEv, Expectation{Nonce: nonce, Releases: trusted}, "does not verify with the node's AK"},
		{"a PCR value that was not quoted", akPub, &tamperedPCR, Expectation{Nonce: nonce, Releases: trusted}, "does not verify"},
		{"a bad signature", akPub, &tamperedSig, Expectation{Nonce: nonce, Releases: trusted}, "does not verify"},
		{"another boot's event log", akPub, &otherLog, Expectation{Nonce: nonce, Releases: trusted}, "does not replay"},
		{"no quote", akPub, nil, Expectation{Nonce: nonce, Releases: trusted}, "no quote"},
		{"garbage", akPub, &tpm.Evidence{Quote: []byte("junk")}, Expectation{Nonce: nonce, Releases: trusted}, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.ak, tc.ev, tc.want)
			wantRefusal(t, err, tc.err)
		})
	}
}
