package tpmtest

import (
	"crypto/sha256"
	"encoding/binary"
)

// TCG event types of the made-up boots.
const (
	EvPostCode                   = 0x1
	EvNoAction                   = 0x3
	EvSeparator                  = 0x4
	EvSCRTMVersion               = 0x8
	EvEFIBootServicesApplication = 0x80000003
	EvEFIBootServicesDriver      = 0x80000004
	EvEFIAction                  = 0x80000007
	EvEFIVariableDriverConfig    = 0x800000e0
)

// Spec ID event fields: a PC client platform whose firmware has 64-bit UINTNs.
const (
	specIDEventPlatformClient  = 0
	specIDEventUintnSize64Bits = 2
)

// Event is one measurement of a made-up boot: Measured is what is hashed into the event's
// SHA-256 digest (and what a TPM's PCR is extended with), and the event's data too.
type Event struct {
	PCR      uint
	Type     uint32
	Measured string
}

// Digest is the event's SHA-256 digest.
func (e Event) Digest() []byte { return Digest(e.Measured) }

// Digest is the SHA-256 of s: a made-up measurement.
func Digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// ExtendAll is a reset SHA-256 PCR extended with digests in order.
func ExtendAll(digests ...[]byte) []byte {
	pcr := make([]byte, sha256.Size)
	for _, d := range digests {
		h := sha256.Sum256(append(pcr, d...))
		pcr = h[:]
	}
	return pcr
}

// BootEvents is a made-up firmware's measurements of a boot that starts uki (whose
// Authenticode hash Digest(uki) is) with firmware: PCRs 0, 2 and 7 depend on firmware, PCR 4
// on uki.
func BootEvents(firmware, uki string) []Event {
	return []Event{
		{0, EvSCRTMVersion, firmware},
		{0, EvPostCode, "POST code"},
		{2, EvEFIBootServicesDriver, "option ROM of " + firmware},
		{7, EvEFIVariableDriverConfig, "SecureBoot=1"},
		{4, EvEFIAction, "Calling EFI Application from Boot Option"},
		{0, EvSeparator, "\x00\x00\x00\x00"},
		{2, EvSeparator, "\x00\x00\x00\x00"},
		{4, EvSeparator, "\x00\x00\x00\x00"},
		{7, EvSeparator, "\x00\x00\x00\x00"},
		{4, EvEFIBootServicesApplication, uki},
	}
}

// EventLog encodes events as a firmware's crypto-agile TCG event log with only SHA-256
// digests: a Spec ID event in the SHA-1 log format, then TCG_PCR_EVENT2 entries.
func EventLog(events []Event) []byte {
	le := binary.LittleEndian
	spec := []byte("Spec ID Event03\x00")
	spec = le.AppendUint32(spec, specIDEventPlatformClient)
	spec = append(spec, 0, 2, 0, specIDEventUintnSize64Bits) // version 2.0, errata 0
	spec = le.AppendUint32(spec, 1)                          // one algorithm:
	spec = le.AppendUint16(spec, 0x000b)                     // SHA-256,
	spec = le.AppendUint16(spec, sha256.Size)                // its digest size
	spec = append(spec, 0)                                   // no vendor info

	log := le.AppendUint32(nil, 0)
	log = le.AppendUint32(log, EvNoAction)
	log = append(log, make([]byte, 20)...) // SHA-1 digest, none
	log = le.AppendUint32(log, uint32(len(spec)))
	log = append(log, spec...)
	for _, e := range events {
		log = le.AppendUint32(log, uint32(e.PCR))
		log = le.AppendUint32(log, e.Type)
		log = le.AppendUint32(log, 1) // one digest:
		log = le.AppendUint16(log, 0x000b)
		log = append(log, e.Digest()...)
		log = le.AppendUint32(log, uint32(len(e.Measured)))
		log = append(log, e.Measured...)
	}
	return log
}

// Replayed is the SHA-256 value of each PCR in pcrs after events, computed without a TPM.
func Replayed(events []Event, pcrs []uint) map[uint][]byte {
	digests := map[uint][][]byte{}
	for _, e := range events {
		digests[e.PCR] = append(digests[e.PCR], e.Digest())
	}
	out := map[uint][]byte{}
	for _, p := range pcrs {
		out[p] = ExtendAll(digests[p]...)
	}
	return out
}
