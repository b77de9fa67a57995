package attestation

import "fmt"

// Refusal is a verdict against the machine: its TPM, its key or its boot is not trusted.
type Refusal struct {
	// Cause is what was refused, for the node's record and the operator.
	Cause string
}

func (r *Refusal) Error() string { return r.Cause }

func refuse(format string, args ...any) error {
	return &Refusal{Cause: fmt.Sprintf(format, args...)}
}
