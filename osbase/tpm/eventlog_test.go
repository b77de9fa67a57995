package tpm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"

	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// bootEvents is a made-up firmware's measurements of a boot that starts uki.
func bootEvents(uki string) []tpmtest.Event { return tpmtest.BootEvents("firmware 1.0", uki) }

func eventLog(events []tpmtest.Event) []byte { return tpmtest.EventLog(events) }

// replayedPCRs are the BootPCRs' values after events, computed without a TPM.
func replayedPCRs(events []tpmtest.Event) PCRValues { return tpmtest.Replayed(events, BootPCRs) }

// boot measures events into the TPM, as firmware would, and returns their event log.
func boot(t *testing.T, tp *TPM, events []tpmtest.Event) []byte {
	t.Helper()
	for _, e := range events {
		if err := tp.ExtendPCR(e.PCR, []byte(e.Measured)); err != nil {
			t.Fatal(err)
		}
	}
	return tpmtest.EventLog(events)
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
	state := tpmtest.TempDir(t)
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
