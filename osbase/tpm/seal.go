package tpm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// MaxPayload is the most Seal takes. The node seals its record of a few KiB (storage key half,
// join key, CA and node certificates, curators; on the first node until its cluster exists,
// the CA's key as well); the bound leaves room for it to grow while keeping the blob small.
const MaxPayload = maxField - 16 // the AES-GCM tag shares the ciphertext field

// BootPCRs are the SHA-256 PCRs a sealed blob is bound to: firmware (0), option ROMs (2), boot
// loader, i.e. the unified kernel image with its command line and initramfs (4), Secure Boot
// state (7).
var BootPCRs = []uint{0, 2, 4, 7}

// keySize is the AES-256 key sealed in the TPM.
const keySize = 32

// Seal encrypts data (at most MaxPayload bytes) so that only this TPM, in the boot state it
// is in now (BootPCRs), can decrypt it, and returns the sealed blob.
func (t *TPM) Seal(data []byte) ([]byte, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxPayload)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("draw sealing key: %w", err)
	}
	b := &sealedBlob{pcrBank: uint16(tpm2.TPMAlgSHA256), pcrMask: pcrMask(BootPCRs)}

	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := createSRK(t.t)
	if err != nil {
		return nil, err
	}
	defer s.flush(t.t)
	policy, err := pcrPolicyDigest(t.t, pcrSelection(b.pcrMask))
	if err != nil {
		return nil, err
	}
	created, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{
			Handle: s.handle,
			Name:   s.name,
			// Salted with the SRK and encrypting the first command parameter: the key.
			Auth: tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Salted(s.handle, s.public), tpm2.AESEncryption(128, tpm2.EncryptIn)),
		},
		InSensitive: tpm2.TPM2BSensitiveCreate{
			Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: key}),
			},
		},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:    tpm2.TPMAlgKeyedHash,
			NameAlg: tpm2.TPMAlgSHA256,
			// No UserWithAuth: only the PCR policy authorizes Unseal.
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true},
			AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
		}),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("TPM: create sealed object: %w", err)
	}
	b.srkName = s.name.Buffer
	b.public = tpm2.Marshal(created.OutPublic)
	b.private = tpm2.Marshal(created.OutPrivate)

	b.nonce = make([]byte, nonceSize)
	if _, err := rand.Read(b.nonce); err != nil {
		return nil, fmt.Errorf("draw nonce: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	b.ciphertext = aead.Seal(nil, b.nonce, data, b.header())
	if err := b.check(); err != nil {
		return nil, err
	}
	return b.encode(), nil
}

// Unseal returns the data sealed in blob. Its errors wrap ErrDamaged, ErrDifferentTPM or
// ErrBootChanged for those causes.
func (t *TPM) Unseal(blob []byte) ([]byte, error) {
	b, header, err := decodeBlob(blob)
	if err != nil {
		return nil, err
	}
	if b.pcrBank != uint16(tpm2.TPMAlgSHA256) {
		return nil, fmt.Errorf("%w: PCR bank 0x%04x, want SHA-256 (0x%04x)", ErrDamaged, b.pcrBank, uint16(tpm2.TPMAlgSHA256))
	}
	public, private, err := b.sealedObject()
	if err != nil {
		return nil, err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := createSRK(t.t)
	if err != nil {
		return nil, err
	}
	defer s.flush(t.t)
	if !bytes.Equal(s.name.Buffer, b.srkName) {
		return nil, fmt.Errorf("%w: its storage root key is %x, this TPM's is %x", ErrDifferentTPM, b.srkName, s.name.Buffer)
	}
	loaded, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *private,
		InPublic:     *public,
	}.Execute(t.t)
	if errors.Is(err, tpm2.TPMRCIntegrity) {
		return nil, fmt.Errorf("%w: TPM: load sealed object: %w", ErrDifferentTPM, err)
	}
	if err != nil {
		return nil, fmt.Errorf("TPM: load sealed object: %w", err)
	}
	defer flush(t.t, loaded.ObjectHandle)

	selection := pcrSelection(b.pcrMask)
	unsealed, err := tpm2.Unseal{
		ItemHandle: tpm2.AuthHandle{
			Handle: loaded.ObjectHandle,
			Name:   loaded.Name,
			Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tp transport.TPM, session tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
				_, err := tpm2.PolicyPCR{PolicySession: session, Pcrs: selection}.Execute(tp)
				return err
			}, tpm2.Salted(s.handle, s.public), tpm2.AESEncryption(128, tpm2.EncryptOut)),
		},
	}.Execute(t.t)
	if errors.Is(err, tpm2.TPMRCPolicyFail) {
		return nil, fmt.Errorf("%w (SHA-256 PCRs %s)", ErrBootChanged, pcrList(b.pcrMask))
	}
	if err != nil {
		return nil, fmt.Errorf("TPM: unseal: %w", err)
	}
	key := unsealed.OutData.Buffer
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: the TPM unsealed a %d-byte key, want %d", ErrDamaged, len(key), keySize)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	data, err := aead.Open(nil, b.nonce, b.ciphertext, header)
	if err != nil {
		return nil, fmt.Errorf("%w: payload does not decrypt: %w", ErrDamaged, err)
	}
	return data, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES: %w", err)
	}
	return cipher.NewGCM(block)
}

// pcrPolicyDigest returns the digest of TPM2_PolicyPCR over selection's current values,
// computed by the TPM in a trial session.
func pcrPolicyDigest(t transport.TPM, selection tpm2.TPMLPCRSelection) ([]byte, error) {
	session, closeSession, err := tpm2.PolicySession(t, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
	if err != nil {
		return nil, fmt.Errorf("TPM: start trial policy session: %w", err)
	}
	// Flushing a trial session only frees a TPM slot; the digest is already ours.
	defer func() { _ = closeSession() }()
	if _, err := (tpm2.PolicyPCR{PolicySession: session.Handle(), Pcrs: selection}).Execute(t); err != nil {
		return nil, fmt.Errorf("TPM: PCR policy: %w", err)
	}
	digest, err := tpm2.PolicyGetDigest{PolicySession: session.Handle()}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM: get policy digest: %w", err)
	}
	return digest.PolicyDigest.Buffer, nil
}

// pcrMask turns PCR indices (below 32) into a bit mask.
func pcrMask(pcrs []uint) uint32 {
	var mask uint32
	for _, p := range pcrs {
		mask |= 1 << p
	}
	return mask
}

// pcrIndices lists the PCRs set in mask.
func pcrIndices(mask uint32) []uint {
	var out []uint
	for i := uint(0); i < 32; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// pcrList formats mask as "0,2,4,7".
func pcrList(mask uint32) string {
	var parts []string
	for _, p := range pcrIndices(mask) {
		parts = append(parts, strconv.FormatUint(uint64(p), 10))
	}
	return strings.Join(parts, ",")
}

func pcrSelection(mask uint32) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(pcrIndices(mask)...),
	}}}
}
