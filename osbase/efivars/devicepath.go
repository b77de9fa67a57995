package efivars

import (
	"encoding/binary"
	"fmt"
)

// Device path node types and subtypes (UEFI specification 10.3).
const (
	typeMedia       = 0x04
	subtypeHardDisk = 0x01
	subtypeFilePath = 0x04

	typeEnd          = 0x7f
	subtypeEndEntire = 0xff

	nodeHeaderLen = 4
)

// DevicePath is an EFI_DEVICE_PATH_PROTOCOL: a sequence of nodes, without the end node that
// terminates it on the wire (Marshal adds it, ParseDevicePath requires and drops it).
type DevicePath []DevicePathNode

// DevicePathNode is one node of a DevicePath: *HardDrivePath, *FilePathNode or *UnknownNode.
// The set is closed; UnknownNode carries every other kind.
type DevicePathNode interface {
	// header returns the node's type and subtype.
	header() (typ, subtype uint8)
	// body returns the node's data, without the 4-byte header.
	body() ([]byte, error)
}

// Marshal encodes p and appends the end-of-entire-device-path node.
func (p DevicePath) Marshal() ([]byte, error) {
	var b []byte
	for i, n := range p {
		if n == nil {
			return nil, fmt.Errorf("device path node %d is nil", i)
		}
		typ, sub := n.header()
		data, err := n.body()
		if err != nil {
			return nil, fmt.Errorf("device path node %d (type %#02x/%#02x): %w", i, typ, sub, err)
		}
		if len(data) > 0xffff-nodeHeaderLen {
			return nil, fmt.Errorf("device path node %d (type %#02x/%#02x): %d bytes of data, more than a node can hold", i, typ, sub, len(data))
		}
		b = append(b, typ, sub)
		b = binary.LittleEndian.AppendUint16(b, uint16(nodeHeaderLen+len(data)))
		b = append(b, data...)
	}
	return append(b, typeEnd, subtypeEndEntire, nodeHeaderLen, 0), nil
}

// ParseDevicePath decodes a device path that fills b and ends with an end-of-entire-device-path
// node. A load option's FilePathList may hold several device paths, each with its own end node
// (Linux uses the second for an initrd); end nodes before the last one are kept as UnknownNode,
// so such a list round-trips as one DevicePath.
func ParseDevicePath(b []byte) (DevicePath, error) {
	var p DevicePath
	for off := 0; ; {
		if len(b)-off < nodeHeaderLen {
			if off == len(b) {
				return nil, fmt.Errorf("no end node after %d nodes", len(p))
			}
			return nil, fmt.Errorf("node %d at offset %d: %d bytes left, too short for a node header", len(p), off, len(b)-off)
		}
		typ, sub := b[off], b[off+1]
		n := int(binary.LittleEndian.Uint16(b[off+2:]))
		if n < nodeHeaderLen {
			return nil, fmt.Errorf("node %d at offset %d: length %d is shorter than its header", len(p), off, n)
		}
		if n > len(b)-off {
			return nil, fmt.Errorf("node %d at offset %d: length %d runs past the %d bytes left", len(p), off, n, len(b)-off)
		}
		data := b[off+nodeHeaderLen : off+n]
		off += n
		if typ == typeEnd && sub == subtypeEndEntire && off == len(b) {
			if len(data) != 0 {
				return nil, fmt.Errorf("end node has length %d, want %d", n, nodeHeaderLen)
			}
			return p, nil
		}
		p = append(p, parseNode(typ, sub, data))
	}
}

// parseNode returns the typed node for data, or an UnknownNode when the node is of a kind this
// package does not decode or is not in the exact form it would encode itself.
func parseNode(typ, sub uint8, data []byte) DevicePathNode {
	if typ == typeMedia {
		switch sub {
		case subtypeHardDisk:
			if n, ok := parseHardDrive(data); ok {
				return n
			}
		case subtypeFilePath:
			if n, ok := parseFilePath(data); ok {
				return n
			}
		}
	}
	return &UnknownNode{Type: typ, SubType: sub, Data: append([]byte(nil), data...)}
}
