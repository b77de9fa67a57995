package workers

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
)

// The host has no 802.1Q module, so it cannot have a VLAN link of its own. vlanPing speaks
// the VLAN by hand instead, on the node's tap: it asks for the node's VLAN address by ARP in a
// tagged frame, sends a tagged ICMP echo request to it, and waits for the tagged reply. The
// kernel's VLAN link on the node is what answers both.

// vlanPing pings to over VLAN vlan on tap, from the made-up address from, and returns the
// round trip of the echo.
func vlanPing(tap string, vlan uint16, from, to net.IP, timeout time.Duration) (time.Duration, error) {
	// The host's kernel takes the tag off received frames into metadata (whatever modules it
	// has); OptAddVLANHeader puts it back in the frames read.
	h, err := afpacket.NewTPacket(afpacket.OptInterface(tap), afpacket.OptPollTimeout(100*time.Millisecond), afpacket.OptAddVLANHeader(true))
	if err != nil {
		return 0, fmt.Errorf("packet socket on %s: %w", tap, err)
	}
	defer h.Close()
	own := make(net.HardwareAddr, 6)
	if _, err := rand.Read(own); err != nil {
		return 0, err
	}
	own[0] = own[0]&0xfe | 0x02 // unicast, locally administered
	p := &vlanPeer{h: h, vlan: vlan, mac: own, ip: from.To4()}

	deadline := time.Now().Add(timeout)
	var nodeMAC net.HardwareAddr
	for nodeMAC == nil {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no ARP answer for %s on VLAN %d within %v", to, vlan, timeout)
		}
		if err := p.send(layers.EthernetBroadcast, layers.EthernetTypeARP, &layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: own, SourceProtAddress: p.ip,
			DstHwAddress: make([]byte, 6), DstProtAddress: to.To4(),
		}); err != nil {
			return 0, err
		}
		nodeMAC, err = p.await(time.Now().Add(2*time.Second), func(pkt gopacket.Packet) bool {
			arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
			return ok && arp.Operation == layers.ARPReply && bytes.Equal(arp.SourceProtAddress, to.To4())
		})
		if err != nil {
			return 0, err
		}
	}
	sent := time.Now()
	if err := p.send(nodeMAC, layers.EthernetTypeIPv4,
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: p.ip, DstIP: to.To4()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x4d50, Seq: 1},
		gopacket.Payload("metropolis VLAN test")); err != nil {
		return 0, err
	}
	got, err := p.await(deadline, func(pkt gopacket.Packet) bool {
		icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		return ok && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoReply && icmp.Id == 0x4d50
	})
	if err != nil {
		return 0, err
	}
	if got == nil {
		return 0, fmt.Errorf("no echo reply from %s on VLAN %d within %v", to, vlan, timeout)
	}
	return time.Since(sent), nil
}

// vlanPeer is the made-up machine on the VLAN.
type vlanPeer struct {
	h    *afpacket.TPacket
	vlan uint16
	mac  net.HardwareAddr
	ip   net.IP
}

// send sends payload to dst in a frame tagged with the peer's VLAN.
func (p *vlanPeer) send(dst net.HardwareAddr, inner layers.EthernetType, payload ...gopacket.SerializableLayer) error {
	buf := gopacket.NewSerializeBuffer()
	all := append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: p.mac, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: p.vlan, Type: inner},
	}, payload...)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		return err
	}
	return p.h.WritePacketData(buf.Bytes())
}

// await reads frames tagged with the peer's VLAN until one matches, answering the node's ARP
// requests for the peer's address on the way; it returns the matching frame's source, or nil
// at the deadline. A frame on the VLAN that the node sent untagged never matches.
func (p *vlanPeer) await(deadline time.Time, match func(gopacket.Packet) bool) (net.HardwareAddr, error) {
	for time.Now().Before(deadline) {
		data, _, err := p.h.ReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		tag, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		if !ok || tag.VLANIdentifier != p.vlan {
			continue
		}
		eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok && arp.Operation == layers.ARPRequest && bytes.Equal(arp.DstProtAddress, p.ip) {
			if err := p.send(eth.SrcMAC, layers.EthernetTypeARP, &layers.ARP{
				AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPReply, SourceHwAddress: p.mac, SourceProtAddress: p.ip,
				DstHwAddress: arp.SourceHwAddress, DstProtAddress: arp.SourceProtAddress,
			}); err != nil {
				return nil, err
			}
			continue
		}
		if match(pkt) {
			return eth.SrcMAC, nil
		}
	}
	return nil, nil
}
