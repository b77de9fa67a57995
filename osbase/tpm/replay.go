package tpm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// evEFIBootServicesApplication is the TCG event type EV_EFI_BOOT_SERVICES_APPLICATION: the
// firmware measuring (the Authenticode hash of) a UEFI application it starts, such as the
// unified kernel image, into PCR 4.
const evEFIBootServicesApplication = 0x80000003

// measurement is one event of a PCR's log: its TCG event type and SHA-256 digest.
type measurement struct {
	eventType uint32
	digest    []byte
}

// replayReplacing returns the SHA-256 PCR value events give when extended in order into a
// reset (all-zero) PCR, with the digest of every EV_EFI_BOOT_SERVICES_APPLICATION event that is
// a key of replace (hex) swapped for its value: the PCR as it would be if the firmware started
// those applications instead. At least one event must be swapped: otherwise the caller's idea
// of what is running is wrong, and the prediction would be only the current value.
func replayReplacing(events []measurement, replace map[string][]byte) ([]byte, error) {
	swap, err := replacements(replace)
	if err != nil {
		return nil, err
	}
	pcr := make([]byte, sha256.Size)
	var apps []string
	replaced := 0
	for i, e := range events {
		if len(e.digest) != sha256.Size {
			return nil, fmt.Errorf("event %d's digest is %d bytes, want %d (SHA-256)", i, len(e.digest), sha256.Size)
		}
		d := e.digest
		if e.eventType == evEFIBootServicesApplication {
			apps = append(apps, hex.EncodeToString(d))
			if to, ok := swap[hex.EncodeToString(d)]; ok {
				d = to
				replaced++
			}
		}
		h := sha256.New()
		h.Write(pcr)
		h.Write(d)
		pcr = h.Sum(nil)
	}
	if replaced == 0 {
		return nil, fmt.Errorf("the running UKI's measurement is not in the event log: the boot applications measured are [%s]", strings.Join(apps, " "))
	}
	return pcr, nil
}

// replacements checks replace (SHA-256 digest in hex to SHA-256 digest) and returns it keyed by
// lowercase hex, as replayReplacing looks digests up.
func replacements(replace map[string][]byte) (map[string][]byte, error) {
	if len(replace) == 0 {
		return nil, fmt.Errorf("no measurement to replace")
	}
	out := make(map[string][]byte, len(replace))
	for from, to := range replace {
		if b, err := hex.DecodeString(from); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("measurement to replace %q is not a SHA-256 digest in hex", from)
		}
		if len(to) != sha256.Size {
			return nil, fmt.Errorf("replacement for %s is %d bytes, want a %d-byte SHA-256 digest", from, len(to), sha256.Size)
		}
		out[strings.ToLower(from)] = to
	}
	return out, nil
}
