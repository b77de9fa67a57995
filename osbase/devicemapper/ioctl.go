package devicemapper

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The layout of struct dm_ioctl and struct dm_target_spec (linux/dm-ioctl.h), interface
// version 4. Every field is native-endian; all supported architectures are little-endian.
const (
	ioctlHeaderSize = 312 // sizeof(struct dm_ioctl)
	targetSpecSize  = 40  // sizeof(struct dm_target_spec)
	nameLen         = 128 // DM_NAME_LEN
	uuidLen         = 129 // DM_UUID_LEN
	targetTypeLen   = 16  // DM_MAX_TYPE_NAME

	offVersion     = 0
	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offOpenCount   = 24
	offFlags       = 28
	offEventNr     = 32
	offDev         = 40
	offName        = 48
	offUUID        = offName + nameLen
)

// Interface version we speak: the kernel accepts any request whose major matches and whose
// minor is not newer than its own.
var interfaceVersion = [3]uint32{4, 0, 0}

// Commands (enum in linux/dm-ioctl.h) and the ioctl request numbers made from them:
// _IOWR(0xfd, cmd, struct dm_ioctl).
type command uint32

const (
	cmdVersion     command = 0
	cmdDevCreate   command = 3
	cmdDevRemove   command = 4
	cmdDevSuspend  command = 6
	cmdDevStatus   command = 7
	cmdTableLoad   command = 9
	cmdTableStatus command = 12
)

func (c command) request() uintptr {
	const iocReadWrite = 3
	return iocReadWrite<<30 | ioctlHeaderSize<<16 | 0xfd<<8 | uintptr(c)
}

func (c command) String() string {
	switch c {
	case cmdVersion:
		return "DM_VERSION"
	case cmdDevCreate:
		return "DM_DEV_CREATE"
	case cmdDevRemove:
		return "DM_DEV_REMOVE"
	case cmdDevSuspend:
		return "DM_DEV_SUSPEND"
	case cmdDevStatus:
		return "DM_DEV_STATUS"
	case cmdTableLoad:
		return "DM_TABLE_LOAD"
	case cmdTableStatus:
		return "DM_TABLE_STATUS"
	}
	return fmt.Sprintf("DM command %d", uint32(c))
}

// Flags (dm_ioctl.flags) this package uses.
const (
	flagReadOnly   = 1 << 0  // DM_READONLY_FLAG: the table's device is read-only
	flagSuspend    = 1 << 1  // DM_SUSPEND_FLAG: with DM_DEV_SUSPEND, suspend; without, resume
	flagSecureData = 1 << 15 // DM_SECURE_DATA_FLAG: the kernel wipes its copy (keys in tables)
	flagBufferFull = 1 << 8  // DM_BUFFER_FULL_FLAG (out): the reply did not fit
)

// Target is one line of a device-mapper table: Length sectors (512 bytes) starting at Start
// are mapped by the target Type with Params.
type Target struct {
	Start, Length uint64
	Type          string
	Params        string
}

// request is one ioctl's argument: the dm_ioctl header followed by its data.
type request struct {
	name    string
	flags   uint32
	targets []Target
	// bufSize is the total buffer size; replies (status) are written into it.
	bufSize int
}

// encode lays out the request as the kernel reads it.
func (r request) encode() ([]byte, error) {
	if len(r.name) >= nameLen {
		return nil, fmt.Errorf("device name %q is longer than %d bytes", r.name, nameLen-1)
	}
	if bytes.IndexByte([]byte(r.name), 0) >= 0 || bytes.IndexByte([]byte(r.name), '/') >= 0 {
		return nil, fmt.Errorf("device name %q contains NUL or /", r.name)
	}
	var data []byte
	for _, t := range r.targets {
		if len(t.Type) >= targetTypeLen || t.Type == "" {
			return nil, fmt.Errorf("target type %q is empty or longer than %d bytes", t.Type, targetTypeLen-1)
		}
		if bytes.IndexByte([]byte(t.Params), 0) >= 0 {
			return nil, fmt.Errorf("%s target parameters contain NUL", t.Type)
		}
		// Parameters are NUL-terminated and the next spec starts 8-byte aligned; next is the
		// offset from this spec to the next.
		size := align8(targetSpecSize + len(t.Params) + 1)
		spec := make([]byte, size)
		binary.LittleEndian.PutUint64(spec[0:], t.Start)
		binary.LittleEndian.PutUint64(spec[8:], t.Length)
		binary.LittleEndian.PutUint32(spec[20:], uint32(size))
		copy(spec[24:24+targetTypeLen], t.Type)
		copy(spec[targetSpecSize:], t.Params)
		data = append(data, spec...)
	}
	size := max(ioctlHeaderSize+len(data), r.bufSize)
	buf := make([]byte, size)
	for i, v := range interfaceVersion {
		binary.LittleEndian.PutUint32(buf[offVersion+4*i:], v)
	}
	binary.LittleEndian.PutUint32(buf[offDataSize:], uint32(size))
	binary.LittleEndian.PutUint32(buf[offDataStart:], ioctlHeaderSize)
	binary.LittleEndian.PutUint32(buf[offTargetCount:], uint32(len(r.targets)))
	binary.LittleEndian.PutUint32(buf[offFlags:], r.flags)
	copy(buf[offName:offName+nameLen], r.name)
	copy(buf[ioctlHeaderSize:], data)
	return buf, nil
}

func align8(n int) int { return (n + 7) &^ 7 }

// reply is what the kernel wrote back into a request buffer.
type reply struct {
	version     [3]uint32
	flags       uint32
	openCount   int32
	targetCount uint32
	dev         uint64 // huge_encode_dev: minor low 8 bits | major << 8 | minor high bits << 12
	data        []byte // from data_start to data_size
}

func decodeReply(buf []byte) (reply, error) {
	if len(buf) < ioctlHeaderSize {
		return reply{}, fmt.Errorf("reply of %d bytes is shorter than struct dm_ioctl", len(buf))
	}
	var r reply
	for i := range r.version {
		r.version[i] = binary.LittleEndian.Uint32(buf[offVersion+4*i:])
	}
	r.flags = binary.LittleEndian.Uint32(buf[offFlags:])
	r.openCount = int32(binary.LittleEndian.Uint32(buf[offOpenCount:]))
	r.targetCount = binary.LittleEndian.Uint32(buf[offTargetCount:])
	r.dev = binary.LittleEndian.Uint64(buf[offDev:])
	start := binary.LittleEndian.Uint32(buf[offDataStart:])
	end := binary.LittleEndian.Uint32(buf[offDataSize:])
	// Replies without data set data_size to offsetof(struct dm_ioctl, data) (305), before
	// data_start.
	if end <= start {
		return r, nil
	}
	if start < ioctlHeaderSize || int(end) > len(buf) {
		return reply{}, fmt.Errorf("reply data %d..%d is outside the %d byte buffer", start, end, len(buf))
	}
	r.data = buf[start:end]
	return r, nil
}

// devMinor and devMajor undo huge_encode_dev.
func (r reply) devMajor() uint32 { return uint32(r.dev>>8) & 0xfff }
func (r reply) devMinor() uint32 { return uint32(r.dev&0xff) | uint32(r.dev>>12)&0xfff00 }

// targetStatuses parses a DM_TABLE_STATUS reply: targetCount specs, each followed by its
// status string.
func (r reply) targetStatuses() ([]Target, error) {
	var out []Target
	off := 0
	for i := uint32(0); i < r.targetCount; i++ {
		if off+targetSpecSize > len(r.data) {
			return nil, fmt.Errorf("target %d status is outside the reply", i)
		}
		spec := r.data[off:]
		t := Target{
			Start:  binary.LittleEndian.Uint64(spec[0:]),
			Length: binary.LittleEndian.Uint64(spec[8:]),
			Type:   cString(spec[24 : 24+targetTypeLen]),
			Params: cString(spec[targetSpecSize:]),
		}
		out = append(out, t)
		// In replies, next is the offset from the start of data, not from this spec.
		next := int(binary.LittleEndian.Uint32(spec[20:]))
		if next <= off && i+1 < r.targetCount {
			return nil, fmt.Errorf("target %d status: next offset %d does not advance", i, next)
		}
		off = next
	}
	return out, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
