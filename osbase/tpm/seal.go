package tpm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// MaxPayload is the most Seal and SealTo take. The node seals its record of a few KiB (storage
// key half, join key, CA and node certificates, curators; on the first node until its cluster
// exists, the CA's key as well); the bound leaves room for it to grow while keeping the blob
// small.
const MaxPayload = maxField - 16 // the AES-GCM tag shares the ciphertext field

// BootPCRs are the SHA-256 PCRs a sealed blob is bound to: firmware (0), option ROMs (2), boot
// loader, i.e. the unified kernel image with its command line and initramfs (4), Secure Boot
// state (7), and a kernel command line given from outside the image (12: the UKI's stub
// measures a command line that a boot entry's load options would put in place of its own
// there; without it, a boot entry could start the very same UKI with another system
// partition and still unseal).
var BootPCRs = []uint{0, 2, 4, 7, 12}

// keySize is the AES-256 key sealed in the TPM.
const keySize = 32

// Seal encrypts data (at most MaxPayload bytes) so that only this TPM, in the boot state it
// is in now (BootPCRs), can decrypt it, and returns the sealed blob.
func (t *TPM) Seal(data []byte) ([]byte, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxPayload)
	}
	current, err := t.ReadPCRs(BootPCRs)
	if err != nil {
		return nil, err
	}
	return t.SealTo(data, []PCRValues{current})
}

// SealTo encrypts data (at most MaxPayload bytes) so that only this TPM can decrypt it, and
// only while its BootPCRs hold one of chains (1 to 8, each with exactly the BootPCRs' SHA-256
// values), and returns the sealed blob. Before booting into a new system image, the node seals
// to the running boot chain and the new image's predicted one (PredictBootChain), so that the
// blob unseals after the trial boot and after a rollback alike.
func (t *TPM) SealTo(data []byte, chains []PCRValues) ([]byte, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxPayload)
	}
	branches, err := chainBranches(chains)
	if err != nil {
		return nil, err
	}
	policy, err := sealPolicy(branches)
	if err != nil {
		return nil, err
	}
	return t.seal(data, policy, &sealedBlob{
		version:  blobVersion,
		pcrBank:  uint16(tpm2.TPMAlgSHA256),
		pcrMask:  pcrMask(BootPCRs),
		branches: branches,
	})
}

// seal creates a sealed object with authorization policy holding a fresh key, encrypts data
// under that key and returns b, which describes policy, completed with both.
func (t *TPM) seal(data, policy []byte, b *sealedBlob) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("draw sealing key: %w", err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := createSRK(t.t)
	if err != nil {
		return nil, err
	}
	defer s.flush(t.t)
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
	if err := b.checkPolicy(public); err != nil {
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

	key, err := unsealKey(t.t, s, loaded, b)
	if err != nil {
		return nil, err
	}
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

// unsealKey satisfies the loaded object's policy in a policy session, PolicyPCR over b's PCRs
// and then, if b was sealed to several boot chains, PolicyOR of their digests, and unseals the
// key with it. The session is started and flushed here rather than by go-tpm's just-in-time
// policy session, which leaves its session loaded in the TPM when a policy command fails.
func unsealKey(tp transport.TPM, s *srk, loaded *tpm2.LoadResponse, b *sealedBlob) ([]byte, error) {
	session, closeSession, err := tpm2.PolicySession(tp, tpm2.TPMAlgSHA256, 16,
		tpm2.Salted(s.handle, s.public), tpm2.AESEncryption(128, tpm2.EncryptOut))
	if err != nil {
		return nil, fmt.Errorf("TPM: start policy session: %w", err)
	}
	// A failed flush only leaves the session until the resource manager or a reset removes it.
	defer func() { _ = closeSession() }()

	if _, err := (tpm2.PolicyPCR{PolicySession: session.Handle(), Pcrs: pcrSelection(b.pcrMask)}).Execute(tp); err != nil {
		return nil, fmt.Errorf("TPM: PCR policy: %w", err)
	}
	if len(b.branches) >= 2 {
		list := tpm2.TPMLDigest{Digests: make([]tpm2.TPM2BDigest, len(b.branches))}
		for i, d := range b.branches {
			list.Digests[i].Buffer = d
		}
		_, err := tpm2.PolicyOr{PolicySession: session.Handle(), PHashList: list}.Execute(tp)
		// PolicyOR refuses with TPM_RC_VALUE a session whose PCR policy is none of the list.
		if errors.Is(err, tpm2.TPMRCValue) {
			return nil, fmt.Errorf("%w (SHA-256 PCRs %s match none of the %d boot chains it was sealed to)", ErrBootChanged, pcrList(b.pcrMask), len(b.branches))
		}
		if err != nil {
			return nil, fmt.Errorf("TPM: PolicyOR: %w", err)
		}
	}
	unsealed, err := tpm2.Unseal{
		ItemHandle: tpm2.AuthHandle{Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: session},
	}.Execute(tp)
	if errors.Is(err, tpm2.TPMRCPolicyFail) {
		return nil, fmt.Errorf("%w (SHA-256 PCRs %s)", ErrBootChanged, pcrList(b.pcrMask))
	}
	if err != nil {
		return nil, fmt.Errorf("TPM: unseal: %w", err)
	}
	return unsealed.OutData.Buffer, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES: %w", err)
	}
	return cipher.NewGCM(block)
}
