package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// The sealed blob's binary layout (integers big-endian, "bytes16" is a 2-byte length followed
// by that many bytes):
//
//	magic       8 bytes  "MTPMSEAL"
//	version     1 byte   2 (1: written before blobs could be sealed to several boot chains)
//	pcr bank    2 bytes  TPM algorithm ID of the PCR bank (SHA-256: 0x000B)
//	pcr mask    4 bytes  bit i set: PCR i is in the policy
//	branches    version 2 only: 1 byte N (1 to 8), then N 32-byte digests: the PolicyPCR
//	                     digest of each boot chain sealed to. The object's policy is the one
//	                     digest (N = 1) or PolicyOR of them all; version 1 means N = 1 and
//	                     does not record it.
//	srk name    bytes16  TPM name of the storage root key the object was created under
//	public      bytes16  the sealed object's TPM2B_PUBLIC, as the TPM returned it
//	private     bytes16  the sealed object's TPM2B_PRIVATE, as the TPM returned it
//	nonce       12 bytes AES-GCM nonce
//	ciphertext  bytes16  AES-256-GCM of the payload, with everything before the nonce as
//	                     additional data
//	checksum    32 bytes SHA-256 of everything before it
var blobMagic = []byte("MTPMSEAL")

const (
	// blobVersion is the version Seal and SealTo write; decodeBlob reads it and
	// blobVersionSingle.
	blobVersion       = 2
	blobVersionSingle = 1
	nonceSize         = 12
	// maxField bounds every length-prefixed field (the ciphertext is the largest: the payload
	// and its tag); nothing a TPM returns for a sealed object comes close, and it keeps a
	// damaged length from meaning much.
	maxField = 16 << 10
)

// sealedBlob is a decoded sealed blob.
type sealedBlob struct {
	version byte
	pcrBank uint16
	pcrMask uint32
	// branches are the PolicyPCR digests of the boot chains sealed to (version 2; nil in
	// version 1).
	branches   [][]byte
	srkName    []byte
	public     []byte
	private    []byte
	nonce      []byte
	ciphertext []byte
}

// header returns the encoding of everything before the nonce: the AES-GCM additional data.
func (b *sealedBlob) header() []byte {
	var buf bytes.Buffer
	buf.Write(blobMagic)
	buf.WriteByte(b.version)
	buf.Write(binary.BigEndian.AppendUint16(nil, b.pcrBank))
	buf.Write(binary.BigEndian.AppendUint32(nil, b.pcrMask))
	if b.version != blobVersionSingle {
		buf.WriteByte(byte(len(b.branches)))
		for _, d := range b.branches {
			buf.Write(d)
		}
	}
	for _, field := range [][]byte{b.srkName, b.public, b.private} {
		buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(field))))
		buf.Write(field)
	}
	return buf.Bytes()
}

// encode returns the blob's binary form. The blob must pass check.
func (b *sealedBlob) encode() []byte {
	out := b.header()
	out = append(out, b.nonce...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.ciphertext)))
	out = append(out, b.ciphertext...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

// decodeBlob parses data and returns the blob and its header (the AES-GCM additional data).
// Every error wraps ErrDamaged.
func decodeBlob(data []byte) (*sealedBlob, []byte, error) {
	if len(data) < len(blobMagic) || !bytes.Equal(data[:len(blobMagic)], blobMagic) {
		return nil, nil, fmt.Errorf("%w: it does not start with %q", ErrDamaged, blobMagic)
	}
	if len(data) < len(blobMagic)+1 {
		return nil, nil, fmt.Errorf("%w: truncated after the magic", ErrDamaged)
	}
	version := data[len(blobMagic)]
	if version != blobVersion && version != blobVersionSingle {
		return nil, nil, fmt.Errorf("%w: version %d, this code reads versions %d and %d", ErrDamaged, version, blobVersionSingle, blobVersion)
	}
	if len(data) < sha256.Size {
		return nil, nil, fmt.Errorf("%w: %d bytes is too short", ErrDamaged, len(data))
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch (truncated, or changed after sealing)", ErrDamaged)
	}

	r := &reader{data: body, off: len(blobMagic) + 1}
	b := sealedBlob{version: version}
	b.pcrBank = r.uint16("pcr bank")
	b.pcrMask = r.uint32("pcr mask")
	if version != blobVersionSingle {
		b.branches = r.branches()
	}
	b.srkName = r.bytes16("srk name")
	b.public = r.bytes16("public")
	b.private = r.bytes16("private")
	headerEnd := r.off
	b.nonce = r.fixed("nonce", nonceSize)
	b.ciphertext = r.bytes16("ciphertext")
	if r.err == nil && r.off != len(body) {
		r.err = fmt.Errorf("%d unexpected bytes after the ciphertext", len(body)-r.off)
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrDamaged, r.err)
	}
	return &b, body[:headerEnd], nil
}

// reader reads big-endian fields from data; after the first error it returns zero values and
// keeps that error.
type reader struct {
	data []byte
	off  int
	err  error
}

func (r *reader) fixed(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.data)-r.off < n {
		r.err = fmt.Errorf("truncated in %s", field)
		return nil
	}
	out := r.data[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) uint16(field string) uint16 {
	if b := r.fixed(field, 2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) uint32(field string) uint32 {
	if b := r.fixed(field, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// branches reads the count and the boot chains' policy digests.
func (r *reader) branches() [][]byte {
	n := r.fixed("branch count", 1)
	if n == nil {
		return nil
	}
	if n[0] < 1 || n[0] > maxBranches {
		r.err = fmt.Errorf("%d boot chain digests, want 1 to %d", n[0], maxBranches)
		return nil
	}
	out := make([][]byte, n[0])
	for i := range out {
		out[i] = r.fixed(fmt.Sprintf("boot chain digest %d", i), sha256.Size)
	}
	return out
}

func (r *reader) bytes16(field string) []byte {
	n := int(r.uint16(field + " length"))
	if r.err == nil && n > maxField {
		r.err = fmt.Errorf("%s is %d bytes, more than %d", field, n, maxField)
		return nil
	}
	return r.fixed(field, n)
}

// check guards encode's preconditions: a known version with branches to match, and fields
// that fit their length prefixes.
func (b *sealedBlob) check() error {
	switch b.version {
	case blobVersionSingle:
		if len(b.branches) != 0 {
			return fmt.Errorf("a version %d blob cannot record boot chain digests", b.version)
		}
	case blobVersion:
		if len(b.branches) < 1 || len(b.branches) > maxBranches {
			return fmt.Errorf("%d boot chain digests for a sealed blob, want 1 to %d", len(b.branches), maxBranches)
		}
		for i, d := range b.branches {
			if len(d) != sha256.Size {
				return fmt.Errorf("boot chain digest %d is %d bytes, want %d", i, len(d), sha256.Size)
			}
		}
	default:
		return fmt.Errorf("sealed blob version %d is unknown", b.version)
	}
	for _, field := range [][]byte{b.srkName, b.public, b.private, b.ciphertext} {
		if len(field) > maxField {
			return fmt.Errorf("field of %d bytes too large for a sealed blob (at most %d)", len(field), maxField)
		}
	}
	return nil
}

// sealedObject parses the sealed object's public and private parts.
func (b *sealedBlob) sealedObject() (*tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	public, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b.public)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: sealed object's public part: %w", ErrDamaged, err)
	}
	if _, err := public.Contents(); err != nil {
		return nil, nil, fmt.Errorf("%w: sealed object's public part: %w", ErrDamaged, err)
	}
	private, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](b.private)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: sealed object's private part: %w", ErrDamaged, err)
	}
	return public, private, nil
}

// checkPolicy checks that b's boot chain digests give the sealed object's policy, so that a
// blob whose list does not belong to its object is reported as damaged, not as a changed boot
// chain. A version 1 blob has no list.
func (b *sealedBlob) checkPolicy(public *tpm2.TPM2BPublic) error {
	if b.version == blobVersionSingle {
		return nil
	}
	contents, err := public.Contents()
	if err != nil {
		return fmt.Errorf("%w: sealed object's public part: %w", ErrDamaged, err)
	}
	want, err := sealPolicy(b.branches)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if !bytes.Equal(want, contents.AuthPolicy.Buffer) {
		return fmt.Errorf("%w: its %d boot chain digests do not give the sealed object's policy", ErrDamaged, len(b.branches))
	}
	return nil
}

// SealedChains says how many boot chains blob opens under (1 for a version 1 blob), so a
// caller can tell a record that still opens under chains it no longer wants.
func SealedChains(blob []byte) (int, error) {
	b, _, err := decodeBlob(blob)
	if err != nil {
		return 0, err
	}
	if len(b.branches) == 0 {
		return 1, nil
	}
	return len(b.branches), nil
}
