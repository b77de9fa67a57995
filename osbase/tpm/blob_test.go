package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func exampleBlob() *sealedBlob {
	return &sealedBlob{
		pcrBank:    0x000b,
		pcrMask:    pcrMask(BootPCRs),
		srkName:    []byte("srk name"),
		public:     []byte("public part"),
		private:    []byte("private part"),
		nonce:      bytes.Repeat([]byte{7}, nonceSize),
		ciphertext: []byte("ciphertext"),
	}
}

// withChecksum replaces data's last 32 bytes with the SHA-256 of the rest, so that a test
// reaches the field parser.
func withChecksum(data []byte) []byte {
	body := data[:len(data)-sha256.Size]
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func TestBlobRoundTrip(t *testing.T) {
	want := exampleBlob()
	got, header, err := decodeBlob(want.encode())
	if err != nil {
		t.Fatalf("decodeBlob: %v", err)
	}
	if !bytes.Equal(header, want.header()) {
		t.Errorf("header differs")
	}
	if got.pcrBank != want.pcrBank || got.pcrMask != want.pcrMask || !bytes.Equal(got.srkName, want.srkName) ||
		!bytes.Equal(got.public, want.public) || !bytes.Equal(got.private, want.private) ||
		!bytes.Equal(got.nonce, want.nonce) || !bytes.Equal(got.ciphertext, want.ciphertext) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

func TestDecodeBlobErrors(t *testing.T) {
	good := exampleBlob().encode()
	wrongVersion := bytes.Clone(good)
	wrongVersion[len(blobMagic)] = 2
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
		{"newer version", wrongVersion, "version 2, this code reads version 1"},
		{"too short for a checksum", append(bytes.Clone(blobMagic), 1, 0, 0), "too short"},
		{"checksum wrong", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1), "checksum mismatch"},
		{"truncated field", withChecksum(append(bytes.Clone(good[:20]), make([]byte, sha256.Size)...)), "truncated in"},
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

func TestPCRList(t *testing.T) {
	if got := pcrList(pcrMask(BootPCRs)); got != "0,2,4,7" {
		t.Errorf("pcrList(BootPCRs) = %q, want 0,2,4,7", got)
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
// on failure, and what it accepts must encode back to the same bytes.
func FuzzDecodeBlob(f *testing.F) {
	f.Add(exampleBlob().encode())
	f.Add([]byte("MTPMSEAL\x01"))
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
			if got := b.encode(); !bytes.Equal(got, in) {
				t.Fatalf("decoded blob encodes to %x, not the input %x", got, in)
			}
			if _, _, err := b.sealedObject(); err != nil && !errors.Is(err, ErrDamaged) {
				t.Fatalf("sealedObject error %v does not wrap ErrDamaged", err)
			}
		}
	})
}
