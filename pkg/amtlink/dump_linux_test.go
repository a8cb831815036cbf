//go:build linux

package amtlink

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestAckError: receiveEcho's NLMSG_ERROR decoding gives what netlink.Conn
// gives: nil for an ack, else the errno plus the extack message and offset,
// whether the request's payload is echoed in the error or capped.
func TestAckError(t *testing.T) {
	skipBigEndian(t)
	reqHdr := func(payload int) []byte {
		h := make([]byte, unix.NLMSG_HDRLEN)
		binary.NativeEndian.PutUint32(h, uint32(unix.NLMSG_HDRLEN+payload))
		return h
	}
	tlvs := []byte{
		13, 0, unix.NLMSGERR_ATTR_MSG, 0, 'b', 'a', 'd', ' ', 'l', 'o', 'c', 'a', 0, 0, 0, 0,
		8, 0, unix.NLMSGERR_ATTR_OFFS, 0, 36, 0, 0, 0,
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
		errno unix.Errno
		msg   string
		off   int
	}{
		{name: "ack", data: join(errno(0), reqHdr(0))},
		{name: "plain error", data: join(errno(-int32(unix.EEXIST)), reqHdr(8), make([]byte, 8)), errno: unix.EEXIST},
		{name: "extack with payload", flags: netlink.AcknowledgeTLVs, data: join(errno(-int32(unix.EINVAL)), reqHdr(8), make([]byte, 8), tlvs),
			errno: unix.EINVAL, msg: "bad loca", off: 36},
		{name: "extack capped", flags: netlink.AcknowledgeTLVs | netlink.Capped, data: join(errno(-int32(unix.ENODEV)), reqHdr(8), tlvs),
			errno: unix.ENODEV, msg: "bad loca", off: 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ackError(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.NLMSG_ERROR, Flags: uint16(tc.flags)}, Data: tc.data})
			if tc.errno == 0 {
				if err != nil {
					t.Fatalf("ackError: %v, want nil", err)
				}
				return
			}
			var oe *netlink.OpError
			if !errors.As(err, &oe) || !errors.Is(oe.Err, tc.errno) || oe.Message != tc.msg || oe.Offset != tc.off {
				t.Fatalf("ackError: %#v, want errno %v message %q offset %d", err, tc.errno, tc.msg, tc.off)
			}
		})
	}
}
