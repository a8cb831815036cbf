package nlwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"
)

// HeaderLen is the size of struct nlmsghdr.
const HeaderLen = 16

// Message types and flags this package interprets (<linux/netlink.h>).
const (
	TypeError = 0x2 // NLMSG_ERROR
	TypeDone  = 0x3 // NLMSG_DONE

	FlagRequest  = 0x1   // NLM_F_REQUEST
	FlagMulti    = 0x2   // NLM_F_MULTI
	FlagAck      = 0x4   // NLM_F_ACK
	FlagEcho     = 0x8   // NLM_F_ECHO
	FlagDumpIntr = 0x10  // NLM_F_DUMP_INTR: the dump was interrupted by a change
	FlagDump     = 0x300 // NLM_F_ROOT|NLM_F_MATCH
	FlagExcl     = 0x200 // NLM_F_EXCL (a request that creates)
	FlagCreate   = 0x400 // NLM_F_CREATE
	FlagCapped   = 0x100 // NLM_F_CAPPED (on NLMSG_ERROR)
	FlagAckTLVs  = 0x200 // NLM_F_ACK_TLVS (on NLMSG_ERROR and NLMSG_DONE)
)

// Extended acknowledgement attributes (enum nlmsgerr_attrs).
const (
	errAttrMsg  = 1 // NLMSGERR_ATTR_MSG
	errAttrOffs = 2 // NLMSGERR_ATTR_OFFS
)

// Header is struct nlmsghdr.
type Header struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
	Pid   uint32
}

// AppendHeader appends a header for a message of type typ with flags and
// sequence number seq; its length is set by Finish once the payload is
// appended. The port ID is 0: the kernel knows the sender.
func AppendHeader(b []byte, typ, flags uint16, seq uint32) []byte {
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	return binary.NativeEndian.AppendUint32(b, 0)
}

// Finish sets the length of the message that starts at start in b.
func Finish(b []byte, start int) {
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
}

// SetSeq sets the sequence number of the message at the start of b.
func SetSeq(b []byte, seq uint32) { binary.NativeEndian.PutUint32(b[8:], seq) }

// Next splits the first message off b without allocating: its header, its
// payload (aliasing b) and what follows it.
func Next(b []byte) (Header, []byte, []byte, error) {
	if len(b) < HeaderLen {
		return Header{}, nil, nil, fmt.Errorf("nlwire: %d bytes are too short for a netlink message header", len(b))
	}
	h := Header{
		Len:   binary.NativeEndian.Uint32(b),
		Type:  binary.NativeEndian.Uint16(b[4:]),
		Flags: binary.NativeEndian.Uint16(b[6:]),
		Seq:   binary.NativeEndian.Uint32(b[8:]),
		Pid:   binary.NativeEndian.Uint32(b[12:]),
	}
	if h.Len < HeaderLen || int(h.Len) > len(b) {
		return Header{}, nil, nil, fmt.Errorf("nlwire: netlink message of length %d in %d bytes", h.Len, len(b))
	}
	next := min(Align(int(h.Len)), len(b))
	return h, b[HeaderLen:h.Len], b[next:], nil
}

// Status is what an NLMSG_ERROR or NLMSG_DONE message says: the errno (0
// for success) and, with extended acknowledgements, the kernel's message
// and the offset of the offending attribute in the request.
type Status struct {
	Errno   syscall.Errno
	Message string
	Offset  int
}

// ParseError decodes the payload of an NLMSG_ERROR message with header
// flags flags: an acknowledgement (Errno 0) or a failure.
func ParseError(flags uint16, p []byte) (Status, error) {
	s, err := parseCode(p)
	if err != nil || flags&FlagAckTLVs == 0 {
		return s, err
	}
	// The request's header, and unless capped its payload, then the TLVs.
	off := 4 + HeaderLen
	if flags&FlagCapped == 0 && len(p) >= 4+HeaderLen {
		off = Align(4 + int(binary.NativeEndian.Uint32(p[4:])))
	}
	if off <= len(p) {
		s.tlvs(p[off:])
	}
	return s, nil
}

// ParseDone decodes the payload of an NLMSG_DONE message with header flags
// flags: the dump's status, with the TLVs right after the code.
func ParseDone(flags uint16, p []byte) (Status, error) {
	s, err := parseCode(p)
	if err == nil && flags&FlagAckTLVs != 0 {
		s.tlvs(p[4:])
	}
	return s, err
}

func parseCode(p []byte) (Status, error) {
	if len(p) < 4 {
		return Status{}, fmt.Errorf("nlwire: netlink error or done message of %d bytes, want at least 4", len(p))
	}
	var s Status
	if code := int32(binary.NativeEndian.Uint32(p)); code < 0 {
		s.Errno = syscall.Errno(-code)
	}
	return s, nil
}

// tlvs reads the extended acknowledgement attributes; broken ones are
// ignored, since the errno is what counts.
func (s *Status) tlvs(b []byte) {
	it := Attrs(b)
	for it.Next() {
		switch it.Type() {
		case errAttrMsg:
			s.Message = string(bytes.TrimRight(it.Data(), "\x00"))
		case errAttrOffs:
			if len(it.Data()) == 4 {
				s.Offset = int(binary.NativeEndian.Uint32(it.Data()))
			}
		}
	}
}
