package mcprobe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Format constants; see the package documentation.
const (
	// Magic is the first four octets of a numbered datagram.
	Magic = "AMTp"
	// Version is the format version this package writes and reads.
	Version = 1
	// HeaderLen is the length of the header; a numbered datagram is at
	// least this long.
	HeaderLen = 28
)

// ErrNotNumbered is what [ParseHeader] returns, wrapped, for a datagram that
// does not carry this package's header: test with errors.Is.
var ErrNotNumbered = errors.New("mcprobe: not a numbered datagram")

// Header is the header of a numbered datagram.
type Header struct {
	Session uint64    // the sender's session, drawn when it starts
	Seq     uint32    // sequence number within the session
	Sent    time.Time // when the sender sent it (nanosecond resolution)
}

// AppendBinary appends the header's 28 octets to b.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, Magic...)
	b = append(b, Version, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, h.Session)
	b = binary.BigEndian.AppendUint32(b, h.Seq)
	var ns int64
	if !h.Sent.IsZero() {
		ns = h.Sent.UnixNano()
	}
	return binary.BigEndian.AppendUint64(b, uint64(ns)), nil
}

// ParseHeader reads the header at the start of a datagram. Octets after
// the header are padding and ignored. A datagram without the header (too
// short, another magic or version, reserved octets not zero) gives an error
// wrapping [ErrNotNumbered].
func ParseHeader(b []byte) (Header, error) {
	switch {
	case len(b) < HeaderLen:
		return Header{}, fmt.Errorf("%w: %d octets, shorter than the %d-octet header", ErrNotNumbered, len(b), HeaderLen)
	case string(b[:4]) != Magic:
		return Header{}, fmt.Errorf("%w: magic %q, not %q", ErrNotNumbered, b[:4], Magic)
	case b[4] != Version:
		return Header{}, fmt.Errorf("%w: version %d, not %d", ErrNotNumbered, b[4], Version)
	case b[5] != 0 || b[6] != 0 || b[7] != 0:
		return Header{}, fmt.Errorf("%w: reserved octets %x are not zero", ErrNotNumbered, b[5:8])
	}
	h := Header{
		Session: binary.BigEndian.Uint64(b[8:16]),
		Seq:     binary.BigEndian.Uint32(b[16:20]),
	}
	if ns := int64(binary.BigEndian.Uint64(b[20:28])); ns != 0 {
		h.Sent = time.Unix(0, ns)
	}
	return h, nil
}
