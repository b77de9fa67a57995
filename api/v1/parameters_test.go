package apb

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestNodeParametersRoundTrip checks that parameters survive the wire form unchanged, as they
// do when metroctl writes them to a node's ESP and the node reads them back.
func TestNodeParametersRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		params *NodeParameters
	}{
		{"bootstrap", validBootstrap()},
		{"register", validRegister(t)},
		{"register with static network", withStatic(validRegister(t), validStatic())},
		{"bootstrap with DHCP", func() *NodeParameters {
			p := validBootstrap()
			p.Network = &NetworkConfig{Mode: &NetworkConfig_Dhcp{Dhcp: &NetworkConfig_DhcpMode{}}}
			return p
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := proto.Marshal(c.params)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got NodeParameters
			if err := proto.Unmarshal(data, &got); err != nil {
				t.Fatalf("unmarshal of marshaled parameters: %v", err)
			}
			if !proto.Equal(&got, c.params) {
				t.Fatalf("round trip changed the parameters:\ngot  %v\nwant %v", &got, c.params)
			}
			if err := ValidateNodeParameters(&got); err != nil {
				t.Fatalf("round-tripped parameters no longer valid: %v", err)
			}
		})
	}
}

// TestNodeParametersWithBothClustersKeepsTheLast documents the wire rule the validator cannot
// see past: a message that sets both oneof members decodes to the last one.
func TestNodeParametersWithBothClustersKeepsTheLast(t *testing.T) {
	bootstrap, err := proto.Marshal(validBootstrap())
	if err != nil {
		t.Fatal(err)
	}
	register, err := proto.Marshal(validRegister(t))
	if err != nil {
		t.Fatal(err)
	}
	var got NodeParameters
	if err := proto.Unmarshal(append(bootstrap, register...), &got); err != nil {
		t.Fatal(err)
	}
	if got.GetClusterRegister() == nil || got.GetClusterBootstrap() != nil {
		t.Fatalf("decoded %v, want only cluster_register (the last one on the wire)", &got)
	}
}
