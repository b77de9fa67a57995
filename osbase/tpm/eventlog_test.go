package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
)

// TCG event types of the made-up boots below.
const (
	evPostCode                = 0x1
	evNoAction                = 0x3
	evSeparator               = 0x4
	evSCRTMVersion            = 0x8
	evEFIBootServicesDriver   = 0x80000004
	evEFIAction               = 0x80000007
	evEFIVariableDriverConfig = 0x800000e0
)

// Spec ID event fields: a PC client platform whose firmware has 64-bit UINTNs.
const (
	specIDEventPlatformClient  = 0
	specIDEventUintnSize64Bits = 2
)

// testEvent is one measurement of a made-up boot: measured is what is hashed into the event's
// SHA-256 digest (and what ExtendPCR takes), and the event's data too.
type testEvent struct {
	pcr      uint
	typ      uint32
	measured string
}

func (e testEvent) digest() []byte { return digestOf(e.measured) }

// bootEvents is a made-up firmware's measurements of a boot that starts uki.
func bootEvents(uki string) []testEvent {
	return []testEvent{
		{0, evSCRTMVersion, "firmware 1.0"},
		{0, evPostCode, "POST code"},
		{2, evEFIBootServicesDriver, "option ROM"},
		{7, evEFIVariableDriverConfig, "SecureBoot=1"},
		{4, evEFIAction, "Calling EFI Application from Boot Option"},
		{0, evSeparator, "\x00\x00\x00\x00"},
		{2, evSeparator, "\x00\x00\x00\x00"},
		{4, evSeparator, "\x00\x00\x00\x00"},
		{7, evSeparator, "\x00\x00\x00\x00"},
		{4, evEFIBootServicesApplication, uki},
	}
}

// eventLog encodes events as a firmware's crypto-agile TCG event log with only SHA-256
// digests: a Spec ID event in the SHA-1 log format, then TCG_PCR_EVENT2 entries.
func eventLog(events []testEvent) []byte {
	le := binary.LittleEndian
	spec := []byte("Spec ID Event03\x00")
	spec = le.AppendUint32(spec, specIDEventPlatformClient)
	spec = append(spec, 0, 2, 0, specIDEventUintnSize64Bits) // version 2.0, errata 0
	spec = le.AppendUint32(spec, 1)                          // one algorithm:
	spec = le.AppendUint16(spec, 0x000b)                     // SHA-256,
	spec = le.AppendUint16(spec, sha256.Size)                // its digest size
	spec = append(spec, 0)                                   // no vendor info

	log := le.AppendUint32(nil, 0)
	log = le.AppendUint32(log, evNoAction)
	log = append(log, make([]byte, 20)...) // SHA-1 digest, none
	log = le.AppendUint32(log, uint32(len(spec)))
	log = append(log, spec...)
	for _, e := range events {
		log = le.AppendUint32(log, uint32(e.pcr))
		log = le.AppendUint32(log, e.typ)
		log = le.AppendUint32(log, 1) // one digest:
		log = le.AppendUint16(log, 0x000b)
		log = append(log, e.digest()...)
		log = le.AppendUint32(log, uint32(len(e.measured)))
		log = append(log, e.measured...)
	}
	return log
}

// replayedPCRs are the BootPCRs' values after events, computed without a TPM.
func replayedPCRs(events []testEvent) PCRValues {
	digests := map[uint][][]byte{}
	for _, e := range events {
		digests[e.pcr] = append(digests[e.pcr], e.digest())
	}
	out := PCRValues{}
	for _, p := range BootPCRs {
		out[p] = extendAll(digests[p]...)
	}
	return out
}

// boot measures events into the TPM, as firmware would, and returns their event log.
func boot(t *testing.T, tp *TPM, events []testEvent) []byte {
	t.Helper()
	for _, e := range events {
		if err := tp.ExtendPCR(e.pcr, []byte(e.measured)); err != nil {
			t.Fatal(err)
		}
	}
	return eventLog(events)
}

// replaceUKI maps the measurement of UKI from to that of to.
func replaceUKI(from, to string) map[string][]byte {
	return map[string][]byte{hex.EncodeToString(digestOf(from)): digestOf(to)}
}

func TestPredictBootChain(t *testing.T) {
	current := replayedPCRs(bootEvents("UKI A"))
	missing := maps.Clone(current)
	delete(missing, 7)
	for _, tc := range []struct {
		name    string
		log     []byte
		current PCRValues
		replace map[string][]byte
		want    PCRValues // nil: an error saying wantErr
		wantErr string
	}{
		{
			name:    "next UKI",
			log:     eventLog(bootEvents("UKI A")),
			current: current,
			replace: replaceUKI("UKI A", "UKI B"),
			want:    replayedPCRs(bootEvents("UKI B")),
		},
		{
			name:    "garbage",
			log:     []byte("this is not an event log"),
			current: current,
			replace: replaceUKI("UKI A", "UKI B"),
			wantErr: "parse the TPM event log",
		},
		{
			name:    "empty",
			current: current,
			replace: replaceUKI("UKI A", "UKI B"),
			wantErr: "parse the TPM event log",
		},
		{
			name:    "another boot's log",
			log:     eventLog(bootEvents("UKI C")),
			current: current,
			replace: replaceUKI("UKI A", "UKI B"),
			wantErr: "the TPM event log does not replay to the TPM's PCRs",
		},
		{
			name:    "running UKI not measured",
			log:     eventLog(bootEvents("UKI A")),
			current: current,
			replace: replaceUKI("UKI C", "UKI B"),
			wantErr: "predict PCR 4: the running UKI's measurement is not in the event log",
		},
		{
			name:    "current PCRs incomplete",
			log:     eventLog(bootEvents("UKI A")),
			current: missing,
			replace: replaceUKI("UKI A", "UKI B"),
			wantErr: "current PCR values: no value for PCR 7",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PredictBootChain(tc.log, tc.current, tc.replace)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("PredictBootChain = %x, %v, want an error saying %q", got, err, tc.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("PredictBootChain: %v", err)
			}
			if !maps.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("PredictBootChain = %x, want %x", got, tc.want)
			}
		})
	}
	if bytes.Equal(current[4], replayedPCRs(bootEvents("UKI B"))[4]) {
		t.Fatalf("the made-up boots of UKI A and UKI B give the same PCR 4")
	}
}

// TestPredictBootChainOnTPM runs an A/B update on a software TPM: booted with UKI A, the blob
// is sealed to this boot and the one PredictBootChain predicts for UKI B; the TPM is then
// rebooted with UKI B (the trial boot), with UKI A (a rollback) and with UKI C (neither).
func TestPredictBootChainOnTPM(t *testing.T) {
	state := t.TempDir()
	tp, stop := startSWTPMWithState(t, state)
	log := boot(t, tp, bootEvents("UKI A"))
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	predicted, err := PredictBootChain(log, current, replaceUKI("UKI A", "UKI B"))
	if err != nil {
		t.Fatalf("PredictBootChain: %v", err)
	}
	blob, err := tp.SealTo(payload, []PCRValues{current, predicted})
	if err != nil {
		t.Fatalf("SealTo: %v", err)
	}
	stop()

	for _, tc := range []struct {
		uki     string
		unseals bool
	}{
		{"UKI B", true},
		{"UKI A", true},
		{"UKI C", false},
	} {
		tp, stop := startSWTPMWithState(t, state)
		boot(t, tp, bootEvents(tc.uki))
		if tc.uki == "UKI B" {
			now, err := tp.ReadPCRs(BootPCRs)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(now, predicted, bytes.Equal) {
				t.Errorf("booted with UKI B, the PCRs are %x, PredictBootChain said %x", now, predicted)
			}
		}
		got, err := tp.Unseal(blob)
		switch {
		case tc.unseals && err != nil:
			t.Errorf("Unseal booted with %s: %v", tc.uki, err)
		case tc.unseals && !bytes.Equal(got, payload):
			t.Errorf("Unseal booted with %s returned other data", tc.uki)
		case !tc.unseals && !errors.Is(err, ErrBootChanged):
			t.Errorf("Unseal booted with %s = %v, want ErrBootChanged", tc.uki, err)
		}
		stop()
	}
}
