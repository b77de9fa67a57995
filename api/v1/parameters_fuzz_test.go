package apb

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzUnmarshalNodeParameters feeds arbitrary bytes to the protobuf decoder and the validator,
// as a node does with whatever it finds on its ESP. Neither may panic, and parameters that
// decode and validate must encode, decode back equal, and still validate.
func FuzzUnmarshalNodeParameters(f *testing.F) {
	for _, p := range []*NodeParameters{
		validBootstrap(),
		validRegister(f),
		withStatic(validRegister(f), validStatic()),
		{},
		{Network: &NetworkConfig{}},
	} {
		data, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0x0a, 0x00})       // cluster_bootstrap, empty
	f.Add([]byte{0x12, 0x02, 0x0a}) // truncated cluster_register
	f.Add([]byte{0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		var p NodeParameters
		if err := proto.Unmarshal(data, &p); err != nil {
			return
		}
		if err := ValidateNodeParameters(&p); err != nil {
			return
		}
		enc, err := proto.Marshal(&p)
		if err != nil {
			t.Fatalf("valid parameters do not marshal: %v", err)
		}
		var again NodeParameters
		if err := proto.Unmarshal(enc, &again); err != nil {
			t.Fatalf("marshaled parameters do not unmarshal: %v", err)
		}
		if !proto.Equal(&p, &again) {
			t.Fatalf("round trip changed the parameters:\nfirst  %v\nsecond %v", &p, &again)
		}
		if err := ValidateNodeParameters(&again); err != nil {
			t.Fatalf("round-tripped parameters no longer valid: %v", err)
		}
	})
}
