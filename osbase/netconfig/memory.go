package netconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"

	"metropolis.dev/metropolis/osbase/atomicfile"
	"metropolis.dev/metropolis/osbase/ipconfig"
)

// The network's memory. An intent marked Keep is the node's lasting configuration (what its
// cluster stores for it, not a trial): SetIntent writes it to Config.MemoryPath, and New
// starts from it. So a node whose network was changed while it ran boots with that network,
// not with the one its boot parameters name, which may no longer be its own (an address moved
// elsewhere, a subnet gone). An intent that asks for nothing beyond the boot network removes
// the file.

// maxMemorySize bounds the file read back: a network of the most VLANs and routes
// ipconfig takes is a few kilobytes.
const maxMemorySize = 64 << 10

// rememberedNetwork is the file's content: the intent, written as a person would (ipconfig's Text
// forms), so that reading it back runs the same checks as the configuration did. Fields are
// only ever added: a release reads the file an older one wrote. One written by a newer release
// with a field this one does not know is refused, and the boot parameters' network used.
type rememberedNetwork struct {
	BootUplink  bool               `json:"bootUplink,omitempty"`
	Static      *ipconfig.Text     `json:"static,omitempty"`
	Extra       ipconfig.ExtraText `json:"extra"`
	Nameservers []string           `json:"nameservers,omitempty"`
}

// bootOnly says whether i asks for nothing beyond the boot network.
func bootOnly(i *Intent) bool {
	return i.BootUplink && i.Extra.MTU == 0 && len(i.Extra.VLANs) == 0 && len(i.Extra.Routes) == 0 && i.Extra.Bond == nil && len(i.Nameservers) == 0
}

// encodeMemory writes i down.
func encodeMemory(i *Intent) ([]byte, error) {
	m := rememberedNetwork{BootUplink: i.BootUplink, Extra: i.Extra.Text()}
	if !i.BootUplink && i.Static != nil {
		t := i.Static.Text()
		m.Static = &t
	}
	for _, n := range i.Nameservers {
		m.Nameservers = append(m.Nameservers, n.String())
	}
	return json.MarshalIndent(m, "", "  ")
}

// parseMemory reads an intent written by encodeMemory, checking it as a configuration is
// checked; boot is the boot network's static uplink (nil: DHCP), whose addresses the routes'
// gateways are checked against when the intent keeps the boot uplink. Errors name the field.
func parseMemory(data []byte, boot *ipconfig.Static) (*Intent, error) {
	if len(data) > maxMemorySize {
		return nil, fmt.Errorf("%d bytes, at most %d", len(data), maxMemorySize)
	}
	var m rememberedNetwork
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a remembered network: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a remembered network: data after its end")
	}
	i := &Intent{BootUplink: m.BootUplink}
	uplink := boot
	if !m.BootUplink && m.Static != nil {
		s, err := ipconfig.ParseStatic(*m.Static)
		if err != nil {
			return nil, fmt.Errorf("static.%w", err)
		}
		i.Static, uplink = s, s
	}
	if !m.BootUplink && m.Static == nil {
		uplink = nil // DHCP
	}
	var addresses []netip.Prefix
	if uplink != nil {
		addresses = uplink.Addresses
	}
	extra, err := ipconfig.ParseExtra(m.Extra, addresses)
	if err != nil {
		return nil, fmt.Errorf("extra.%w", err)
	}
	i.Extra = *extra
	if i.Static != nil {
		if err := ipconfig.CheckBondUplink(extra.Bond, i.Static.HardwareAddress); err != nil {
			return nil, fmt.Errorf("static.hardware_address: %w", err)
		}
	}
	for j, n := range m.Nameservers {
		addr, err := netip.ParseAddr(n)
		if err != nil {
			return nil, fmt.Errorf("nameservers[%d]: %w", j, err)
		}
		if err := ipconfig.CheckUnicast(addr); err != nil {
			return nil, fmt.Errorf("nameservers[%d]: %w", j, err)
		}
		i.Nameservers = append(i.Nameservers, addr)
	}
	return i, nil
}

// readMemory returns the intent remembered at path: nil if there is none, an error naming
// the file and the field if it cannot be used.
func readMemory(path string, boot *ipconfig.Static) (*Intent, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMemorySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	i, err := parseMemory(data, boot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return i, nil
}

// remember keeps i at path for the next boot, or removes the file if i asks for nothing
// beyond the boot network. It writes only what changed.
func remember(path string, i *Intent) error {
	if bootOnly(i) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := encodeMemory(i)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return atomicfile.Write(path, data, 0o600)
}
