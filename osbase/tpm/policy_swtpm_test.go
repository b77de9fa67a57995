package tpm

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// trialPolicyDigest returns the policy digest the TPM computes in a trial session for
// TPM2_PolicyPCR over selection's current values, followed by TPM2_PolicyOR over orBranches
// if there are any.
func trialPolicyDigest(t *testing.T, tp *TPM, selection tpm2.TPMLPCRSelection, orBranches [][]byte) []byte {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	session, closeSession, err := tpm2.PolicySession(tp.t, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
	if err != nil {
		t.Fatalf("TPM: start trial policy session: %v", err)
	}
	defer func() { _ = closeSession() }()
	if _, err := (tpm2.PolicyPCR{PolicySession: session.Handle(), Pcrs: selection}).Execute(tp.t); err != nil {
		t.Fatalf("TPM: PolicyPCR: %v", err)
	}
	if len(orBranches) > 0 {
		list := tpm2.TPMLDigest{}
		for _, d := range orBranches {
			list.Digests = append(list.Digests, tpm2.TPM2BDigest{Buffer: d})
		}
		if _, err := (tpm2.PolicyOr{PolicySession: session.Handle(), PHashList: list}).Execute(tp.t); err != nil {
			t.Fatalf("TPM: PolicyOR: %v", err)
		}
	}
	digest, err := tpm2.PolicyGetDigest{PolicySession: session.Handle()}.Execute(tp.t)
	if err != nil {
		t.Fatalf("TPM: get policy digest: %v", err)
	}
	return digest.PolicyDigest.Buffer
}

// extendBootPCRs gives the boot PCRs values other than their reset values, as a boot would.
func extendBootPCRs(t *testing.T, tp *TPM) {
	t.Helper()
	for _, p := range BootPCRs {
		if err := tp.ExtendPCR(p, []byte{byte(p), 'b', 'o', 'o', 't'}); err != nil {
			t.Fatal(err)
		}
	}
}

// allPCRs is every PCR of a PC client TPM, more than one TPM2_PCRRead returns.
func allPCRs() []uint {
	var out []uint
	for p := uint(0); p < pcrCount; p++ {
		out = append(out, p)
	}
	return out
}

func TestPolicyPCRDigestMatchesTPM(t *testing.T) {
	tp := startSWTPM(t)
	extendBootPCRs(t, tp)
	for _, pcrs := range [][]uint{BootPCRs, {4}, allPCRs()} {
		values, err := tp.ReadPCRs(pcrs)
		if err != nil {
			t.Fatalf("ReadPCRs: %v", err)
		}
		got, err := PolicyPCRDigest(values, pcrs)
		if err != nil {
			t.Fatalf("PolicyPCRDigest(PCRs %s): %v", pcrList(pcrMask(pcrs)), err)
		}
		if want := trialPolicyDigest(t, tp, pcrSelection(pcrMask(pcrs)), nil); !bytes.Equal(got, want) {
			t.Errorf("PolicyPCRDigest(PCRs %s) = %x, the TPM computes %x", pcrList(pcrMask(pcrs)), got, want)
		}
	}
}

func TestPolicyORDigestMatchesTPM(t *testing.T) {
	tp := startSWTPM(t)
	extendBootPCRs(t, tp)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	here, err := PolicyPCRDigest(current, BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	var others [][]byte
	for i := range 7 {
		other := maps.Clone(current)
		other[4] = bytes.Repeat([]byte{byte(i)}, sha256.Size)
		d, err := PolicyPCRDigest(other, BootPCRs)
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, d)
	}
	for _, branches := range [][][]byte{
		{here, others[0]},
		{others[0], here},
		{others[0], others[1], others[2], others[3], others[4], here, others[5], others[6]},
	} {
		got, err := PolicyORDigest(branches)
		if err != nil {
			t.Fatalf("PolicyORDigest(%d branches): %v", len(branches), err)
		}
		if want := trialPolicyDigest(t, tp, pcrSelection(pcrMask(BootPCRs)), branches); !bytes.Equal(got, want) {
			t.Errorf("PolicyORDigest(%d branches) = %x, the TPM computes %x", len(branches), got, want)
		}
	}
}

func TestReadPCRs(t *testing.T) {
	tp := startSWTPM(t)
	if err := tp.ExtendPCR(9, []byte("measured")); err != nil {
		t.Fatal(err)
	}
	all, err := tp.ReadPCRs(allPCRs())
	if err != nil {
		t.Fatalf("ReadPCRs(all): %v", err)
	}
	if len(all) != pcrCount {
		t.Fatalf("ReadPCRs(all) returned %d PCRs, want %d", len(all), pcrCount)
	}
	measured := sha256.Sum256([]byte("measured"))
	want9 := sha256.Sum256(append(make([]byte, sha256.Size), measured[:]...))
	if !bytes.Equal(all[9], want9[:]) {
		t.Errorf("PCR 9 is %x, want %x", all[9], want9)
	}
	for p, v := range all {
		one, err := tp.ReadPCR(p)
		if err != nil {
			t.Fatalf("ReadPCR(%d): %v", p, err)
		}
		if !bytes.Equal(one, v) {
			t.Errorf("PCR %d: ReadPCRs gave %x, ReadPCR %x", p, v, one)
		}
	}
	if _, err := tp.ReadPCRs([]uint{0, 24}); err == nil {
		t.Errorf("ReadPCRs(PCR 24) succeeded, want an error")
	}
	if got, err := tp.ReadPCRs(nil); err != nil || len(got) != 0 {
		t.Errorf("ReadPCRs(none) = %v, %v, want nothing", got, err)
	}
}
