package platform

import "context"

// Storage is the node's data partition and the small sealed record that unlocks it. The record
// lives outside the data partition (on the image: the ESP) because the node needs it before the
// data is readable; the platform protects it (on the image: sealed to the TPM under a policy
// covering the boot chain).
//
// The node calls, at every start, exactly one of Create (first start: no record yet) or Unlock
// (every later start), before it touches StateDir.
type Storage interface {
	// ReadSealed returns the record's plaintext, or nil if the node has none (it never
	// started storage). A record the platform cannot open (a different TPM, a changed boot
	// chain, a damaged file) is an error saying which.
	ReadSealed() ([]byte, error)
	// WriteSealed protects and stores the record, replacing any earlier one atomically.
	WriteSealed(record []byte) error
	// Create makes new storage protected by key (32 bytes) and makes StateDir available.
	// Data an earlier, unfinished first start left behind is lost.
	Create(ctx context.Context, key []byte) error
	// Unlock makes existing storage protected by key available at StateDir. A key that does
	// not open it is an error saying so; nothing stored is changed.
	Unlock(ctx context.Context, key []byte) error
}
