package nlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// This file is all of netlink's framing this module has: attributes, then
// messages.

// AttrHeaderLen is the size of struct nlattr.
const AttrHeaderLen = 4

// TypeMask clears NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute
// type (NLA_TYPE_MASK).
const TypeMask = 0x3fff

// MaxAttrLen is the longest attribute, header included: nla_len is 16 bits.
const MaxAttrLen = 0xffff

// ErrMalformed reports broken attribute framing.
var ErrMalformed = errors.New("malformed netlink attribute")

// Align rounds n up to netlink's 4-byte alignment (NLA_ALIGN, NLMSG_ALIGN).
func Align(n int) int { return (n + 3) &^ 3 }

// An AttrIter walks the attributes of one attribute stream in place:
//
//	it := nlwire.Attrs(b)
//	for it.Next() {
//		switch it.Type() { ... it.Data() ... }
//	}
//	if err := it.Err(); err != nil { ... }
//
// Data aliases the stream; nothing is copied or allocated.
type AttrIter struct {
	b    []byte
	typ  uint16
	data []byte
	err  error
	done bool
}

// Attrs returns an iterator over the attribute stream b.
func Attrs(b []byte) AttrIter { return AttrIter{b: b} }

// Next advances to the next attribute and reports whether there is one. It
// returns false at the end of the stream and at the first framing error,
// which Err then reports.
func (it *AttrIter) Next() bool {
	if it.done {
		return false
	}
	b := it.b
	if len(b) == 0 {
		it.done = true
		return false
	}
	if len(b) < AttrHeaderLen {
		it.fail(fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)))
		return false
	}
	l := int(binary.NativeEndian.Uint16(b))
	t := binary.NativeEndian.Uint16(b[2:])
	switch {
	case l == 0:
		l = AttrHeaderLen
	case l < AttrHeaderLen || l > len(b):
		it.fail(fmt.Errorf("%w: type %d, length %d", ErrMalformed, t&TypeMask, l))
		return false
	}
	it.typ, it.data = t, b[AttrHeaderLen:l]
	if next := Align(l); next < len(b) {
		it.b = b[next:]
	} else {
		it.b = nil
	}
	return true
}

func (it *AttrIter) fail(err error) {
	it.err, it.done, it.typ, it.data = err, true, 0, nil
}

// Type is the current attribute's type without its flag bits.
func (it *AttrIter) Type() uint16 { return it.typ & TypeMask }

// Flags is the current attribute's flag bits (NLA_F_NESTED,
// NLA_F_NET_BYTEORDER).
func (it *AttrIter) Flags() uint16 { return it.typ &^ TypeMask }

// Data is the current attribute's payload, aliasing the stream.
func (it *AttrIter) Data() []byte { return it.data }

// Err is the framing error that stopped the walk, wrapping ErrMalformed, or
// nil. It must be checked after Next returns false.
func (it *AttrIter) Err() error { return it.err }

// Find returns the payload of the first attribute of type typ (flag bits
// ignored) in the stream b, or nil when there is none before the end or a
// framing error.
func Find(b []byte, typ uint16) []byte {
	it := Attrs(b)
	for it.Next() {
		if it.Type() == typ {
			return it.Data()
		}
	}
	return nil
}

// Check reports the first framing error in the stream b, or nil.
func Check(b []byte) error {
	it := Attrs(b)
	for it.Next() {
	}
	return it.Err()
}

// AppendAttr appends one attribute (header, payload, padding) in native
// byte order. The payload must fit: at most MaxAttrLen-AttrHeaderLen bytes.
func AppendAttr(b []byte, typ uint16, payload []byte) []byte {
	b = AppendAttrHeader(b, typ, len(payload))
	b = append(b, payload...)
	return AppendPad(b, len(payload))
}

// AppendU32 appends a native-order u32 attribute.
func AppendU32(b []byte, typ uint16, v uint32) []byte {
	b = AppendAttrHeader(b, typ, 4)
	return binary.NativeEndian.AppendUint32(b, v)
}

// AppendString appends a NUL-terminated string attribute (NLA_STRING as
// the kernel's nla_put_string writes it).
func AppendString(b []byte, typ uint16, s string) []byte {
	b = AppendAttrHeader(b, typ, len(s)+1)
	b = append(append(b, s...), 0)
	return AppendPad(b, len(s)+1)
}

// AppendAttrHeader appends the header of an attribute with an n-byte
// payload.
func AppendAttrHeader(b []byte, typ uint16, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(AttrHeaderLen+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

// AppendPad appends the zero bytes that align a payload of n bytes.
func AppendPad(b []byte, n int) []byte {
	for ; n%4 != 0; n++ {
		b = append(b, 0)
	}
	return b
}

// BeginNested appends the header of a nested attribute whose length is not
// known yet and returns its offset, for EndNested. typ is written as given:
// add NLA_F_NESTED where the kernel wants it.
func BeginNested(b []byte, typ uint16) ([]byte, int) {
	return AppendAttrHeader(b, typ, 0), len(b)
}

// EndNested sets the length of the nested attribute begun at start to cover
// everything appended since. It fails, leaving b as it is, when that is more
// than one attribute can hold.
func EndNested(b []byte, start int) error {
	n := len(b) - start
	if n > MaxAttrLen {
		return fmt.Errorf("nlwire: a nested attribute of %d bytes does not fit netlink's 16-bit length", n)
	}
	binary.NativeEndian.PutUint16(b[start:], uint16(n))
	return nil
}

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

// ParseHeader reads the header at the start of b, when b is long enough
// to hold one; its length is not checked against b (b may be the start of
// a datagram that was cut short).
func ParseHeader(b []byte) (Header, bool) {
	if len(b) < HeaderLen {
		return Header{}, false
	}
	return Header{
		Len:   binary.NativeEndian.Uint32(b),
		Type:  binary.NativeEndian.Uint16(b[4:]),
		Flags: binary.NativeEndian.Uint16(b[6:]),
		Seq:   binary.NativeEndian.Uint32(b[8:]),
		Pid:   binary.NativeEndian.Uint32(b[12:]),
	}, true
}

// Next splits the first message off b without allocating: its header, its
// payload (aliasing b) and what follows it.
func Next(b []byte) (Header, []byte, []byte, error) {
	h, ok := ParseHeader(b)
	if !ok {
		return Header{}, nil, nil, fmt.Errorf("nlwire: %d bytes are too short for a netlink message header", len(b))
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
