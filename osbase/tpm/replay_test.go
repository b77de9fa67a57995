package tpm

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

var (
	digestOf  = tpmtest.Digest
	extendAll = tpmtest.ExtendAll
)

const (
	evEFIAction = tpmtest.EvEFIAction
	evSeparator = tpmtest.EvSeparator
)

func TestReplayReplacing(t *testing.T) {
	action := measurement{evEFIAction, digestOf("Calling EFI Application from Boot Option")}
	separator := measurement{evSeparator, digestOf("separator")}
	app := func(name string) measurement { return measurement{evEFIBootServicesApplication, digestOf(name)} }
	hexOf := func(name string) string { return hex.EncodeToString(digestOf(name)) }
	newUKI := digestOf("new UKI")
	for _, tc := range []struct {
		name    string
		events  []measurement
		replace map[string][]byte
		want    []byte // nil: an error saying wantErr
		wantErr string
	}{
		{
			name:    "UKI swapped",
			events:  []measurement{action, separator, app("old UKI")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			want:    extendAll(action.digest, separator.digest, newUKI),
		},
		{
			name:    "uppercase hex",
			events:  []measurement{action, separator, app("old UKI")},
			replace: map[string][]byte{strings.ToUpper(hexOf("old UKI")): newUKI},
			want:    extendAll(action.digest, separator.digest, newUKI),
		},
		{
			name:    "boot manager kept, UKI and the kernel it has the firmware load swapped",
			events:  []measurement{action, separator, app("boot manager"), app("old UKI"), app("old kernel")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI, hexOf("old kernel"): digestOf("new kernel")},
			want:    extendAll(action.digest, separator.digest, digestOf("boot manager"), newUKI, digestOf("new kernel")),
		},
		{
			name:    "started twice, swapped twice",
			events:  []measurement{app("old UKI"), app("old UKI")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			want:    extendAll(newUKI, newUKI),
		},
		{
			name:    "only boot applications are swapped",
			events:  []measurement{{evEFIAction, digestOf("old UKI")}, app("old UKI")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			want:    extendAll(digestOf("old UKI"), newUKI),
		},
		{
			name:    "running UKI not in the log",
			events:  []measurement{action, separator, app("something else")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			wantErr: "the running UKI's measurement is not in the event log: the boot applications measured are [" + hexOf("something else") + "]",
		},
		{
			name:    "running UKI only as another event type",
			events:  []measurement{{evEFIAction, digestOf("old UKI")}},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			wantErr: "not in the event log",
		},
		{
			name:    "empty log",
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			wantErr: "not in the event log",
		},
		{
			name:    "nothing to replace",
			events:  []measurement{app("old UKI")},
			wantErr: "no measurement to replace",
		},
		{
			name:    "key not hex",
			events:  []measurement{app("old UKI")},
			replace: map[string][]byte{"old UKI": newUKI},
			wantErr: `"old UKI" is not a SHA-256 digest in hex`,
		},
		{
			name:    "key not SHA-256",
			events:  []measurement{app("old UKI")},
			replace: map[string][]byte{hexOf("old UKI")[:40]: newUKI},
			wantErr: "is not a SHA-256 digest in hex",
		},
		{
			name:    "replacement not SHA-256",
			events:  []measurement{app("old UKI")},
			replace: map[string][]byte{hexOf("old UKI"): newUKI[:20]},
			wantErr: "is 20 bytes, want a 32-byte SHA-256 digest",
		},
		{
			name:    "event digest not SHA-256",
			events:  []measurement{action, {evEFIBootServicesApplication, make([]byte, 20)}},
			replace: map[string][]byte{hexOf("old UKI"): newUKI},
			wantErr: "event 1's digest is 20 bytes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replayReplacing(tc.events, tc.replace)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("replayReplacing = %x, %v, want an error saying %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("replayReplacing = %x, %v, want %x", got, err, tc.want)
			}
		})
	}
}
