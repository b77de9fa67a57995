package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func exampleBlob() *sealedBlob {
	return &sealedBlob{
		version:    blobVersion,
		pcrBank:    0x000b,
		pcrMask:    pcrMask(BootPCRs),
		branches:   [][]byte{bytes.Repeat([]byte{1}, sha256.Size), bytes.Repeat([]byte{2}, sha256.Size)},
		srkName:    []byte("srk name"),
		public:     []byte("public part"),
		private:    []byte("private part"),
		nonce:      bytes.Repeat([]byte{7}, nonceSize),
		ciphertext: []byte("ciphertext"),
	}
}

// exampleBlobV1 is exampleBlob in the version 1 format, which had no boot chain digests.
func exampleBlobV1() *sealedBlob {
	b := exampleBlob()
	b.version = blobVersionSingle
	b.branches = nil
	// Version 1 blobs were sealed to PCRs 0, 2, 4 and 7.
	b.pcrMask = pcrMask([]uint{0, 2, 4, 7})
	return b
}

// exampleBlobV1Encoded is exampleBlobV1 as the version 1 encoder (before version 2 existed)
// wrote it: blobs sealed then must still decode.
const exampleBlobV1Encoded = "4d54504d5345414c01000b00000095000873726b206e616d65000b7075626c69632070617274000c707269766174652070617274070707070707070707070707000a63697068657274657874d3c44c615b4799c4a64645072191266e2a15e91083f87fb62cc5ccf93ea6b70c"

// branchCountOffset is where a version 2 blob's boot chain digest count is: after the magic,
// version, PCR bank and PCR mask.
const branchCountOffset = 8 + 1 + 2 + 4

// withChecksum replaces data's last 32 bytes with the SHA-256 of the rest, so that a test
// reaches the field parser.
func withChecksum(data []byte) []byte {
	body := data[:len(data)-sha256.Size]
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func TestBlobRoundTrip(t *testing.T) {
	for _, want := range []*sealedBlob{exampleBlob(), exampleBlobV1()} {
		if err := want.check(); err != nil {
			t.Fatalf("version %d example: check: %v", want.version, err)
		}
		got, header, err := decodeBlob(want.encode())
		if err != nil {
			t.Fatalf("version %d: decodeBlob: %v", want.version, err)
		}
		if !bytes.Equal(header, want.header()) {
			t.Errorf("version %d: header differs", want.version)
		}
		if got.version != want.version || got.pcrBank != want.pcrBank || got.pcrMask != want.pcrMask ||
			!slices.EqualFunc(got.branches, want.branches, bytes.Equal) || !bytes.Equal(got.srkName, want.srkName) ||
			!bytes.Equal(got.public, want.public) || !bytes.Equal(got.private, want.private) ||
			!bytes.Equal(got.nonce, want.nonce) || !bytes.Equal(got.ciphertext, want.ciphertext) {
			t.Errorf("version %d: decoded %+v, want %+v", want.version, got, want)
		}
	}
}

// TestBlobV1Unchanged checks that version 1 blobs are still encoded, and so decoded, as before
// version 2 existed.
func TestBlobV1Unchanged(t *testing.T) {
	if got := hex.EncodeToString(exampleBlobV1().encode()); got != exampleBlobV1Encoded {
		t.Errorf("version 1 encoding is\n%s, was\n%s", got, exampleBlobV1Encoded)
	}
	old, err := hex.DecodeString(exampleBlobV1Encoded)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := decodeBlob(old)
	if err != nil {
		t.Fatalf("decodeBlob(version 1 blob): %v", err)
	}
	if b.version != blobVersionSingle || b.branches != nil {
		t.Errorf("decoded version %d with %d boot chain digests, want version 1 and none", b.version, len(b.branches))
	}
}

// withBranchCount returns a version 2 encoding of exampleBlob with its digest count set to n
// and a valid checksum.
func withBranchCount(n byte) []byte {
	data := exampleBlob().encode()
	data[branchCountOffset] = n
	return withChecksum(data)
}

func TestDecodeBlobErrors(t *testing.T) {
	good := exampleBlob().encode()
	wrongVersion := bytes.Clone(good)
	wrongVersion[len(blobMagic)] = 3
	longField := exampleBlob()
	longField.public = make([]byte, maxField+1)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "does not start with"},
		{"other magic", append([]byte("NOTSEALD"), good[8:]...), "does not start with"},
		{"magic only", blobMagic, "truncated after the magic"},
		{"newer version", wrongVersion, "version 3, this code reads versions 1 and 2"},
		{"version 0", withChecksum(append([]byte("MTPMSEAL\x00"), good[9:]...)), "version 0, this code"},
		{"too short for a checksum", append(bytes.Clone(blobMagic), 1, 0, 0), "too short"},
		{"checksum wrong", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1), "checksum mismatch"},
		{"truncated field", withChecksum(append(bytes.Clone(good[:20]), make([]byte, sha256.Size)...)), "truncated in"},
		{"truncated before the digest count", withChecksum(append(bytes.Clone(good[:branchCountOffset]), make([]byte, sha256.Size)...)), "truncated in branch count"},
		{"truncated in a digest", withChecksum(append(bytes.Clone(good[:branchCountOffset+1+sha256.Size+5]), make([]byte, sha256.Size)...)), "truncated in boot chain digest 1"},
		{"no boot chain digests", withBranchCount(0), "0 boot chain digests, want 1 to 8"},
		{"too many boot chain digests", withBranchCount(9), "9 boot chain digests, want 1 to 8"},
		// The count says 1, so the second digest is read as the SRK name's length (514) and more.
		{"fewer digests than there are", withBranchCount(1), "truncated in srk name"},
		{"trailing bytes", withChecksum(append(bytes.Clone(good[:len(good)-sha256.Size]), make([]byte, 1+sha256.Size)...)), "unexpected bytes"},
		{"field over the limit", withChecksum(longField.encode()), "more than 16384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeBlob(tc.data)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("decodeBlob = %v, want ErrDamaged", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestBlobCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(b *sealedBlob)
		want   string
	}{
		{"unknown version", func(b *sealedBlob) { b.version = 3 }, "version 3 is unknown"},
		{"version 1 with digests", func(b *sealedBlob) { b.version = blobVersionSingle }, "cannot record boot chain digests"},
		{"version 2 without digests", func(b *sealedBlob) { b.branches = nil }, "0 boot chain digests"},
		{"nine digests", func(b *sealedBlob) { b.branches = slices.Repeat(b.branches[:1], 9) }, "9 boot chain digests"},
		{"short digest", func(b *sealedBlob) { b.branches[1] = b.branches[1][:20] }, "boot chain digest 1 is 20 bytes"},
		{"field over the limit", func(b *sealedBlob) { b.ciphertext = make([]byte, maxField+1) }, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := exampleBlob()
			tc.modify(b)
			err := b.check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestPCRList(t *testing.T) {
	if got := pcrList(pcrMask(BootPCRs)); got != "0,2,4,7,12" {
		t.Errorf("pcrList(BootPCRs) = %q, want 0,2,4,7,12", got)
	}
}

func TestOpenWithoutTPM(t *testing.T) {
	saved := devicePaths
	t.Cleanup(func() { devicePaths = saved })
	devicePaths = []string{filepath.Join(t.TempDir(), "tpmrm0")}
	if _, err := Open(); !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open without a device = %v, want ErrNoTPM", err)
	}
}

// FuzzDecodeBlob feeds arbitrary files to the decoder, both as they are and with a valid
// checksum (so that the field parser is reached). It must never panic, must wrap ErrDamaged
// on failure, and what it accepts must pass check and encode back to the same bytes.
func FuzzDecodeBlob(f *testing.F) {
	f.Add(exampleBlob().encode())
	f.Add(exampleBlobV1().encode())
	f.Add(withBranchCount(8))
	f.Add([]byte("MTPMSEAL\x01"))
	f.Add([]byte("MTPMSEAL\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		inputs := [][]byte{data}
		if len(data) >= sha256.Size {
			inputs = append(inputs, withChecksum(data))
		}
		for _, in := range inputs {
			b, _, err := decodeBlob(in)
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("decodeBlob error %v does not wrap ErrDamaged", err)
				}
				continue
			}
			if err := b.check(); err != nil {
				t.Fatalf("decoded blob fails check: %v", err)
			}
			if got := b.encode(); !bytes.Equal(got, in) {
				t.Fatalf("decoded blob encodes to %x, not the input %x", got, in)
			}
			if _, _, err := b.sealedObject(); err != nil && !errors.Is(err, ErrDamaged) {
				t.Fatalf("sealedObject error %v does not wrap ErrDamaged", err)
			}
		}
	})
}

func TestSealedChains(t *testing.T) {
	v2 := exampleBlob()
	for _, tc := range []struct {
		name string
		blob []byte
		want int
	}{
		{"version 1", exampleBlobV1().encode(), 1},
		{"version 2", v2.encode(), len(v2.branches)},
	} {
		if got, err := SealedChains(tc.blob); err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := SealedChains([]byte("not a blob")); err == nil {
		t.Error("a damaged blob has chains")
	}
}
