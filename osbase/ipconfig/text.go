package ipconfig

// Text and ExtraText are also how a checked configuration is written down again (a node keeps
// its network that way for its next boot, osbase/netconfig): Text and ParseStatic, and
// ExtraText and ParseExtra, are each other's inverse for every checked value.

// Text writes s as a person would, for ParseStatic to read back.
func (s *Static) Text() Text {
	t := Text{}
	if s.HardwareAddress != nil {
		t.HardwareAddress = s.HardwareAddress.String()
	}
	for _, a := range s.Addresses {
		t.Addresses = append(t.Addresses, a.String())
	}
	for _, g := range s.Gateways {
		t.Gateways = append(t.Gateways, g.String())
	}
	for _, n := range s.Nameservers {
		t.Nameservers = append(t.Nameservers, n.String())
	}
	return t
}

// Text writes e as a person would, for ParseExtra to read back.
func (e *Extra) Text() ExtraText {
	t := ExtraText{MTU: uint32(e.MTU)}
	if e.Bond != nil {
		b := e.Bond.Text()
		t.Bond = &b
	}
	for _, v := range e.VLANs {
		vt := VLANText{ID: uint32(v.ID), MTU: uint32(v.MTU)}
		for _, a := range v.Addresses {
			vt.Addresses = append(vt.Addresses, a.String())
		}
		t.VLANs = append(t.VLANs, vt)
	}
	for _, r := range e.Routes {
		t.Routes = append(t.Routes, RouteText{Destination: r.Destination.String(), Gateway: r.Gateway.String()})
	}
	return t
}
