package nlwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

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
