package curator

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-attestation/attest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/osbase/tpm"
)

// TPM attestation of nodes (docs/attestation.md).
//
// The cluster's policy (ClusterRecord.attestation_policy) says whether attestation is required,
// which EK CAs are trusted and which releases. A node with a TPM sends its EK and a new AK at
// registration and is challenged; at commit it proves its TPM recovered the challenge's secret
// and quotes its boot with a nonce derived from that secret; at every later join it quotes its
// boot with a nonce from GetJoinNonce. With attestation required, any failure gets the node
// nothing (no certificate, no storage key half) and is kept in its record for the operator.
// The decisions are the pure functions below; node/attestation does the cryptography.

// commitNoncePrefix makes the commit's nonce: SHA-256 of it and the challenge secret, which
// only the node's TPM could recover and which is fresh for every registration.
const commitNoncePrefix = "metropolis commit "

// CommitNonce is the nonce of the quote a node sends with CommitNode, from the secret its TPM
// recovered at registration.
func CommitNonce(secret []byte) []byte {
	h := sha256.Sum256(append([]byte(commitNoncePrefix), secret...))
	return h[:]
}

// errAttestation wraps a refusal as the error a node gets.
func errAttestation(step, id string, err error) error {
	var r *attestation.Refusal
	if errors.As(err, &r) {
		return nodeError(codes.PermissionDenied, step, id, "attestation refused: %s", r.Cause)
	}
	return nodeError(codes.Internal, step, id, "attestation: %v", err)
}

func attestationRequired(p *apb.AttestationPolicy) bool { return p.GetRequired() }

// verifierPolicy is the cluster policy p in node/attestation's terms, with the node's own
// pinned EK if it was pinned.
func verifierPolicy(p *apb.AttestationPolicy, rec *cpb.NodeAttestationRecord) (attestation.Policy, error) {
	var out attestation.Policy
	for i, der := range p.GetEkCaCertificates() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return out, fmt.Errorf("attestation policy: EK CA certificate %d: %w", i, err)
		}
		out.EKRoots = append(out.EKRoots, c)
	}
	out.Releases = p.GetTrustedReleases()
	if rec.GetStatus().GetEkPinned() {
		out.PinnedEKs = append(out.PinnedEKs, attestation.EKFingerprint(rec.GetEkPublic()))
	}
	return out, nil
}

// CheckAttestationPolicy checks a policy given at bootstrap: CA certificates that parse,
// releases that are SHA-256 hashes.
func CheckAttestationPolicy(p *apb.AttestationPolicy) error {
	if _, err := verifierPolicy(p, nil); err != nil {
		return err
	}
	for i, r := range p.GetTrustedReleases() {
		if len(r) != sha256.Size {
			return fmt.Errorf("attestation policy: trusted release %d: %d bytes, want a SHA-256 (%d)", i, len(r), sha256.Size)
		}
	}
	return nil
}

// registerAttestation decides what RegisterNode records of the node's TPM id, given its
// existing record (nil if none) and whether the cluster requires attestation. It returns the
// record to keep and the credential challenge to send, or nothing for a node without a TPM
// where none is required.
func registerAttestation(step, nodeID string, existing *cpb.NodeAttestationRecord, id *cpb.TPMIdentity, required bool) (*cpb.NodeAttestationRecord, *attest.EncryptedCredential, error) {
	if id == nil {
		if required {
			return nil, nil, nodeError(codes.PermissionDenied, step, nodeID,
				"attestation refused: the cluster requires TPM attestation and the node sent no TPM (it has none, or runs a release without attestation)")
		}
		return nil, nil, nil
	}
	if existing != nil && !bytes.Equal(existing.GetEkPublic(), id.GetEkPublic()) {
		return nil, nil, nodeError(codes.PermissionDenied, step, nodeID, "attestation refused: the node registered before with another TPM (endorsement key %x…)",
			attestation.EKFingerprint(existing.GetEkPublic())[:8])
	}
	ak := attest.AttestationParameters{
		Public: id.GetAk().GetPublic(), CreateData: id.GetAk().GetCreateData(),
		CreateAttestation: id.GetAk().GetCreateAttestation(), CreateSignature: id.GetAk().GetCreateSignature(),
	}
	secret, cred, err := attestation.Challenge(id.GetEkPublic(), ak)
	if err != nil {
		return nil, nil, errAttestation(step, nodeID, err)
	}
	sum := sha256.Sum256(secret)
	rec := &cpb.NodeAttestationRecord{
		EkPublic: id.GetEkPublic(), EkCertificate: id.GetEkCertificate(), AkPublic: ak.Public,
		ChallengeSecretSha256: sum[:],
		Status:                &apb.NodeAttestation{EkFingerprint: attestation.EKFingerprint(id.GetEkPublic())},
	}
	if c, err := attest.ParseEKCertificate(id.GetEkCertificate()); err == nil && len(id.GetEkCertificate()) > 0 {
		rec.Status.EkCertificateIssuer = c.Issuer.String()
	}
	return rec, cred, nil
}

// approveAttestation decides what ApproveNode does with the node's TPM record rec: it pins the
// EK if the operator gave its fingerprint pin (which must be the node's), and with attestation
// required it refuses a TPM the policy does not trust, saying how to pin it.
func approveAttestation(nodeID string, rec *cpb.NodeAttestationRecord, pin []byte, p *apb.AttestationPolicy, now time.Time) (*cpb.NodeAttestationRecord, error) {
	const step = "approve"
	if len(pin) > 0 {
		if rec == nil {
			return nil, nodeError(codes.FailedPrecondition, step, nodeID, "pin_ek_fingerprint: the node sent no TPM, so there is no EK to pin")
		}
		fp := attestation.EKFingerprint(rec.GetEkPublic())
		if !bytes.Equal(pin, fp) {
			return nil, nodeError(codes.FailedPrecondition, step, nodeID, "pin_ek_fingerprint %x… is not the node's EK fingerprint %x: check the machine", shortBytes(pin), fp)
		}
		next := proto.Clone(rec).(*cpb.NodeAttestationRecord)
		next.Status.EkPinned = true
		return next, nil
	}
	if !attestationRequired(p) {
		return rec, nil
	}
	if rec == nil {
		return nil, nodeError(codes.FailedPrecondition, step, nodeID, "the cluster requires TPM attestation and the node sent no TPM")
	}
	vp, err := verifierPolicy(p, rec)
	if err != nil {
		return nil, nodeError(codes.Internal, step, nodeID, "%v", err)
	}
	if err := attestation.CheckEndorsement(vp, rec.GetEkPublic(), rec.GetEkCertificate(), now); err != nil {
		return nil, nodeError(codes.FailedPrecondition, step, nodeID, "%v; to trust this TPM, check its EK fingerprint %x on the machine and approve with it (metroctl approve --pin-ek)",
			err, attestation.EKFingerprint(rec.GetEkPublic()))
	}
	return rec, nil
}

func shortBytes(b []byte) []byte {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

// attest decides one attestation of the node with TPM record rec: its EK must be trusted, and
// its quote ev must carry nonce and show a trusted release and the node's firmware. It
// returns the record to keep: updated with what the quote showed, or with the refusal, which
// is also returned. With attestation not required it accepts anything and records nothing
// new.
func attestNode(rec *cpb.NodeAttestationRecord, p *apb.AttestationPolicy, ev *cpb.TPMEvidence, nonce []byte, now time.Time) (*cpb.NodeAttestationRecord, error) {
	if !attestationRequired(p) {
		return rec, nil
	}
	next := proto.Clone(rec).(*cpb.NodeAttestationRecord)
	if next.Status == nil {
		next.Status = &apb.NodeAttestation{}
	}
	m, err := verifyNode(rec, p, ev, nonce, now)
	if err != nil {
		return refused(rec, err, now), err
	}
	if next.Firmware == nil {
		next.Firmware = map[int32][]byte{}
		for i, v := range m.Firmware {
			next.Firmware[int32(i)] = v
		}
	}
	next.Status.Uki = m.UKI
	next.Status.LastAttested = timestamppb.New(now)
	next.Status.LastRefusal = ""
	next.Status.LastRefused = nil
	return next, nil
}

func verifyNode(rec *cpb.NodeAttestationRecord, p *apb.AttestationPolicy, ev *cpb.TPMEvidence, nonce []byte, now time.Time) (*attestation.Measurements, error) {
	vp, err := verifierPolicy(p, rec)
	if err != nil {
		return nil, err
	}
	if err := attestation.CheckEndorsement(vp, rec.GetEkPublic(), rec.GetEkCertificate(), now); err != nil {
		return nil, err
	}
	if !rec.GetActivated() {
		return nil, &attestation.Refusal{Cause: "AK not in that TPM: the node has not proven that its TPM holds its attestation key"}
	}
	if ev == nil {
		return nil, &attestation.Refusal{Cause: "no quote: the node sent no evidence of its boot"}
	}
	want := attestation.Expectation{Nonce: nonce, Releases: vp.Releases}
	if rec.GetFirmware() != nil {
		want.Firmware = map[int][]byte{}
		for i, v := range rec.GetFirmware() {
			want.Firmware[int(i)] = v
		}
	}
	return attestation.Verify(rec.GetAkPublic(), evidenceFromProto(ev), want)
}

func evidenceFromProto(ev *cpb.TPMEvidence) *tpm.Evidence {
	out := &tpm.Evidence{Quote: ev.GetQuote(), Signature: ev.GetSignature(), EventLog: ev.GetEventLog(), PCRs: map[int][]byte{}}
	for i, v := range ev.GetPcrs() {
		out.PCRs[int(i)] = v
	}
	return out
}

// EvidenceToProto is a quote as the curator API carries it.
func EvidenceToProto(ev *tpm.Evidence) *cpb.TPMEvidence {
	out := &cpb.TPMEvidence{Quote: ev.Quote, Signature: ev.Signature, EventLog: ev.EventLog, Pcrs: map[int32][]byte{}}
	for i, v := range ev.PCRs {
		out.Pcrs[int32(i)] = v
	}
	return out
}

// activate checks, at commit, that the node's TPM recovered the registration challenge's
// secret, which proves the AK lives in the TPM holding the EK.
func activate(rec *cpb.NodeAttestationRecord, secret []byte) (*cpb.NodeAttestationRecord, error) {
	sum := sha256.Sum256(secret)
	if err := attestation.CheckActivation(rec.GetChallengeSecretSha256(), sum[:]); err != nil {
		return nil, err
	}
	if rec.GetActivated() {
		return rec, nil
	}
	next := proto.Clone(rec).(*cpb.NodeAttestationRecord)
	next.Activated = true
	return next, nil
}

// refused is rec with the refusal err recorded at now.
func refused(rec *cpb.NodeAttestationRecord, err error, now time.Time) *cpb.NodeAttestationRecord {
	next := proto.Clone(rec).(*cpb.NodeAttestationRecord)
	if next.Status == nil {
		next.Status = &apb.NodeAttestation{}
	}
	next.Status.LastRefusal = err.Error()
	next.Status.LastRefused = timestamppb.New(now)
	return next
}

// trustRelease is the cluster record c with release uki trusted; unchanged if it was.
func trustRelease(c *cpb.ClusterRecord, uki []byte) (*cpb.ClusterRecord, bool) {
	for _, r := range c.GetAttestationPolicy().GetTrustedReleases() {
		if bytes.Equal(r, uki) {
			return c, false
		}
	}
	next := proto.Clone(c).(*cpb.ClusterRecord)
	if next.AttestationPolicy == nil {
		next.AttestationPolicy = &apb.AttestationPolicy{}
	}
	next.AttestationPolicy.TrustedReleases = append(next.AttestationPolicy.TrustedReleases, uki)
	return next, true
}

// attestCredential is a registration's credential as go-attestation takes it.
func attestCredential(c *cpb.EncryptedCredential) attest.EncryptedCredential {
	return attest.EncryptedCredential{Credential: c.GetCredential(), Secret: c.GetSecret()}
}
