package nlwire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"syscall"

	"github.com/mdlayher/netlink"
)

func skipBigEndian(tb testing.TB) {
	tb.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		tb.Skip("golden bytes are little-endian; this machine is big-endian")
	}
}

// TestParseError: NLMSG_ERROR decoding gives what netlink.Conn gives: no
// errno for an ack, else the errno plus the extack message and offset,
// whether the request's payload is echoed in the error or capped.
func TestParseError(t *testing.T) {
	skipBigEndian(t)
	reqHdr := func(payload int) []byte {
		h := make([]byte, HeaderLen)
		binary.NativeEndian.PutUint32(h, uint32(HeaderLen+payload))
		return h
	}
	tlvs := []byte{
		13, 0, errAttrMsg, 0, 'b', 'a', 'd', ' ', 'l', 'o', 'c', 'a', 0, 0, 0, 0,
		8, 0, errAttrOffs, 0, 36, 0, 0, 0,
	}
	errno := func(e int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(e)) }
	join := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		flags netlink.HeaderFlags
		data  []byte
		errno syscall.Errno
		msg   string
		off   int
	}{
		{name: "ack", data: join(errno(0), reqHdr(0))},
		{name: "plain error", data: join(errno(-int32(syscall.EEXIST)), reqHdr(8), make([]byte, 8)), errno: syscall.EEXIST},
		{name: "extack with payload", flags: netlink.AcknowledgeTLVs, data: join(errno(-int32(syscall.EINVAL)), reqHdr(8), make([]byte, 8), tlvs),
			errno: syscall.EINVAL, msg: "bad loca", off: 36},
		{name: "extack capped", flags: netlink.AcknowledgeTLVs | netlink.Capped, data: join(errno(-int32(syscall.ENODEV)), reqHdr(8), tlvs),
			errno: syscall.ENODEV, msg: "bad loca", off: 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseError(uint16(tc.flags), tc.data)
			if err != nil {
				t.Fatalf("ParseError: %v", err)
			}
			if st.Errno != tc.errno || st.Message != tc.msg || st.Offset != tc.off {
				t.Fatalf("ParseError = %+v, want errno %v message %q offset %d", st, tc.errno, tc.msg, tc.off)
			}
		})
	}
}

// TestNext splits a buffer of two messages and refuses broken
// framing.
func TestNext(t *testing.T) {
	// A message of 19 bytes, padded to 20, then one of 20.
	one := []byte{19, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0}
	two := []byte{20, 0, 0, 0, TypeError, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b := append(append([]byte(nil), one...), two...)
	h, data, rest, err := Next(b)
	if err != nil || h.Type != 16 || h.Seq != 5 || !bytes.Equal(data, []byte{1, 2, 3}) || len(rest) != len(two) {
		t.Fatalf("first = %+v, %d bytes left, %v", h, len(rest), err)
	}
	h, _, rest, err = Next(rest)
	if err != nil || h.Type != TypeError || len(rest) != 0 {
		t.Fatalf("second = %+v, %d bytes left, %v", h, len(rest), err)
	}
	for _, bad := range [][]byte{b[:10], {15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, _, err := Next(bad); err == nil {
			t.Errorf("Next(% x) succeeded", bad)
		}
	}
}
