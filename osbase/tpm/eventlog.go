package tpm

import (
	"crypto"
	"fmt"
	"maps"
	"os"

	"github.com/google/go-attestation/attest"
)

// eventLogPath is where the kernel exposes the firmware's TCG event log.
const eventLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"

// bootLoaderPCR is the PCR the firmware measures the UEFI applications it starts into.
const bootLoaderPCR = 4

// ReadEventLog returns the firmware's TCG event log (the measurements that produced the PCRs'
// values at boot), which the kernel exposes in securityfs.
func ReadEventLog() ([]byte, error) {
	log, err := os.ReadFile(eventLogPath)
	if err != nil {
		return nil, fmt.Errorf("read the TPM event log (securityfs must be mounted on /sys/kernel/security): %w", err)
	}
	return log, nil
}

// PredictBootChain predicts the BootPCRs' values after booting other UEFI applications than
// this boot did: the next boot of a new unified kernel image. current are the BootPCRs' values
// now (ReadPCRs), eventLog the firmware's log of this boot (ReadEventLog), and replace maps the
// SHA-256 Authenticode hash (hex) of each application to be swapped, the running UKI's, to
// that of its successor.
//
// The log must replay to current, so that it is this boot's. PCR 4 is then replayed from the
// log's SHA-256 digests with every EV_EFI_BOOT_SERVICES_APPLICATION measurement in replace
// swapped; at least one must be. PCRs 0, 2 and 7 (firmware, option ROMs, Secure Boot state) are
// predicted unchanged. The prediction holds only if the new image is started the same way and
// measures nothing else into PCR 4: a UKI whose stub has the firmware load and measure the
// kernel inside it needs that kernel's hash swapped too.
func PredictBootChain(eventLog []byte, current PCRValues, replace map[string][]byte) (PCRValues, error) {
	if err := checkChain(current); err != nil {
		return nil, fmt.Errorf("current PCR values: %w", err)
	}
	log, err := attest.ParseEventLog(eventLog)
	if err != nil {
		return nil, fmt.Errorf("parse the TPM event log: %w", err)
	}
	var pcrs []attest.PCR
	for _, p := range BootPCRs {
		pcrs = append(pcrs, attest.PCR{Index: int(p), Digest: current[p], DigestAlg: crypto.SHA256})
	}
	events, err := log.Verify(pcrs)
	if err != nil {
		return nil, fmt.Errorf("the TPM event log does not replay to the TPM's PCRs: %w", err)
	}
	// Verify returns the events it replayed, in log order, with their SHA-256 digests.
	var replay []measurement
	for _, e := range events {
		if e.Index == bootLoaderPCR {
			replay = append(replay, measurement{eventType: uint32(e.Type), digest: e.Digest})
		}
	}
	predicted, err := replayReplacing(replay, replace)
	if err != nil {
		return nil, fmt.Errorf("predict PCR %d: %w", bootLoaderPCR, err)
	}
	out := maps.Clone(current)
	out[bootLoaderPCR] = predicted
	return out, nil
}
