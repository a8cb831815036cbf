//go:build linux

package amtlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumpBufSize is the buffer dumps are read with. The kernel sizes each
// dump chunk by the largest buffer the socket has read with
// (nlk->max_recvmsg_len, capped at 32 KiB), and netlink.Conn.Receive peeks
// with one page, so its dumps come in ~4 KiB chunks: ten times the
// recvmsg calls iproute2 makes, which reads with 32 KiB.
const dumpBufSize = 32 << 10

// exec sends one request and returns the replies, holding c.mu so that it
// never interleaves with a dump read outside netlink.Conn's own lock.
//
// On a real socket it sends with netlink.Conn and reads the replies itself,
// one recvmsg per kernel message (netlink.Conn.Receive peeks first: one
// more each). That is what name and index lookups cost, and List makes one
// per lower device.
func (c *client) exec(m netlink.Message) ([]netlink.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.rc
	if rc == nil || m.Header.Flags&netlink.Dump != 0 {
		return c.c.Execute(m)
	}
	req, err := c.c.Send(m)
	if err != nil {
		return nil, err
	}
	var out []netlink.Message
	for {
		raw, err := c.recvOne(rc)
		if err != nil {
			return nil, err
		}
		for _, r := range raw {
			if err := checkSeq(req, r); err != nil {
				return nil, err
			}
			if r.Header.Type == unix.NLMSG_ERROR {
				if err := ackError(r); err != nil {
					return nil, err
				}
			}
			// A copy: c.rxBuf is read into again.
			out = append(out, toMessage(r, append([]byte(nil), r.Data...)))
		}
		// A request that is not a dump is answered by one message (the
		// reply or the acknowledgement), as netlink.Conn.Execute assumes.
		if len(raw) > 0 {
			return out, nil
		}
	}
}

// recv reads one datagram from the socket into c.rxBuf (allocated on
// first use) and returns its full length: with MSG_TRUNC a length above
// len(c.rxBuf) means the datagram was cut, which each caller handles.
func (c *client) recv(rc syscall.RawConn) (int, error) {
	if c.rxBuf == nil {
		c.rxBuf = make([]byte, dumpBufSize)
	}
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		n, rerr = recvTrunc(int(fd), c.rxBuf)
		return rerr != unix.EAGAIN
	})
	if err == nil && rerr != nil {
		err = os.NewSyscallError("recvfrom", rerr)
	}
	if err != nil {
		return 0, &netlink.OpError{Op: "receive", Err: err}
	}
	return n, nil
}

// recvTrunc is recv(fd, b, MSG_TRUNC): for netlink, the message's whole
// length even when b is shorter. Unlike unix.Recvmsg it allocates nothing
// (no source address is asked for). The error is a bare unix.Errno.
func recvTrunc(fd int, b []byte) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_TRUNC, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// recvOne reads one kernel message batch into c.rxBuf and parses it. A
// message too long for the buffer is an error. c.mu must be held.
func (c *client) recvOne(rc syscall.RawConn) ([]syscall.NetlinkMessage, error) {
	n, err := c.recv(rc)
	if err != nil {
		return nil, err
	}
	if n > len(c.rxBuf) {
		return nil, &netlink.OpError{Op: "receive", Err: fmt.Errorf("amtlink: kernel message of %d bytes, more than %d", n, len(c.rxBuf))}
	}
	raw, err := syscall.ParseNetlinkMessage(c.rxBuf[:n])
	if err != nil {
		return nil, &netlink.OpError{Op: "receive", Err: err}
	}
	return raw, nil
}

// toMessage is r as the netlink package's message, with data as its
// payload.
func toMessage(r syscall.NetlinkMessage, data []byte) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{
			Length:   r.Header.Len,
			Type:     netlink.HeaderType(r.Header.Type),
			Flags:    netlink.HeaderFlags(r.Header.Flags),
			Sequence: r.Header.Seq,
			PID:      r.Header.Pid,
		},
		Data: data,
	}
}

// checkSeq checks that r answers req, as netlink.Validate does.
func checkSeq(req netlink.Message, r syscall.NetlinkMessage) error {
	if r.Header.Seq != req.Header.Sequence || (req.Header.PID != 0 && r.Header.Pid != req.Header.PID) {
		return &netlink.OpError{Op: "receive", Err: fmt.Errorf("amtlink: reply with sequence %d, port %d; want %d, %d",
			r.Header.Seq, r.Header.Pid, req.Header.Sequence, req.Header.PID)}
	}
	return nil
}

// dump sends the dump request typ/data and calls fn with each message of
// the reply (NLMSG_DONE excluded), reading with a 32 KiB buffer through
// the socket's RawConn. A connection without one (a fake) is read with
// netlink.Conn.Receive. Errors are the netlink package's (*netlink.OpError
// for kernel errors), for kernelError.
func (c *client) dump(typ netlink.HeaderType, data []byte, fn func(netlink.Message) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	req, err := c.c.Send(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Dump},
		Data:   data,
	})
	if err != nil {
		return err
	}
	rc := c.rc
	if rc == nil {
		msgs, err := c.c.Receive()
		if err != nil {
			return err
		}
		if err := netlink.Validate(req, msgs); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
	var peek [unix.NLMSG_HDRLEN]byte
	for {
		var buf []byte
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			// Peek for the length of the next chunk (MSG_TRUNC makes
			// netlink return its whole length), then read it whole into
			// a buffer of its own: fn may keep slices of it.
			n, _, _, _, rerr = unix.Recvmsg(int(fd), peek[:], nil, unix.MSG_PEEK|unix.MSG_TRUNC)
			if rerr != nil {
				return !errors.Is(rerr, unix.EAGAIN)
			}
			buf = make([]byte, max(n, dumpBufSize))
			n, _, _, _, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil && rerr != nil {
			err = os.NewSyscallError("recvmsg", rerr)
		}
		if err != nil {
			return &netlink.OpError{Op: "receive", Err: err}
		}
		raw, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return &netlink.OpError{Op: "receive", Err: err}
		}
		for _, r := range raw {
			if r.Header.Seq != req.Header.Sequence || (req.Header.PID != 0 && r.Header.Pid != req.Header.PID) {
				return &netlink.OpError{Op: "receive", Err: fmt.Errorf("amtlink: dump reply with sequence %d, port %d; want %d, %d",
					r.Header.Seq, r.Header.Pid, req.Header.Sequence, req.Header.PID)}
			}
			switch r.Header.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				if len(r.Data) < 4 {
					return &netlink.OpError{Op: "receive", Err: errors.New("amtlink: short netlink error or done message")}
				}
				if code := int32(binary.NativeEndian.Uint32(r.Data)); code < 0 {
					return &netlink.OpError{Op: "receive", Err: syscall.Errno(-code)}
				}
				if r.Header.Type == unix.NLMSG_DONE {
					return nil
				}
				continue // an acknowledgement
			}
			if err := fn(toMessage(r, r.Data)); err != nil {
				return err
			}
		}
	}
}

// dumpError maps an error from dump to an *Error for op: errors of the
// callback already are one, the netlink package's are the kernel's.
func dumpError(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return kernelError(op, "", err)
}

// receiveEcho reads the replies to Create's request with sequence number
// seq, one read each (netlink.Conn.Receive peeks first, two): the echoed
// RTM_NEWLINK, if any, and the acknowledgement. The echo is decoded where it
// lies in c.rxBuf, before the next read reuses the buffer; one that cannot
// be decoded, or is too long for the buffer, is dropped (Create reads the
// link back instead, and fails there). Kernel errors are *netlink.OpError
// with the extack message, as netlink.Conn reports them. c.mu must be held.
func (c *client) receiveEcho(rc syscall.RawConn, seq uint32) (*rawLink, error) {
	var echo *rawLink
	for {
		n, err := c.recv(rc)
		if err != nil {
			return nil, err
		}
		if n > len(c.rxBuf) {
			continue // truncated: an oversized echo, dropped
		}
		for b := c.rxBuf[:n]; len(b) > 0; {
			var r syscall.NetlinkMessage
			var err error
			if r, b, err = nextMessage(b); err != nil {
				return nil, &netlink.OpError{Op: "receive", Err: err}
			}
			if r.Header.Seq != seq {
				return nil, &netlink.OpError{Op: "receive", Err: fmt.Errorf("amtlink: reply with sequence %d, want %d", r.Header.Seq, seq)}
			}
			switch r.Header.Type {
			case unix.RTM_NEWLINK:
				if l, err := decodeLink(r.Data); err == nil {
					echo = l
				}
			case unix.NLMSG_ERROR:
				if err := ackError(r); err != nil {
					return nil, err
				}
				return echo, nil
			}
		}
	}
}

// nextMessage splits the first netlink message off b, without allocating:
// its header and payload (which alias b), and what follows it.
func nextMessage(b []byte) (syscall.NetlinkMessage, []byte, error) {
	if len(b) < unix.NLMSG_HDRLEN {
		return syscall.NetlinkMessage{}, nil, fmt.Errorf("amtlink: %d bytes are too short for a netlink message header", len(b))
	}
	h := syscall.NlMsghdr{
		Len:   binary.NativeEndian.Uint32(b),
		Type:  binary.NativeEndian.Uint16(b[4:]),
		Flags: binary.NativeEndian.Uint16(b[6:]),
		Seq:   binary.NativeEndian.Uint32(b[8:]),
		Pid:   binary.NativeEndian.Uint32(b[12:]),
	}
	if h.Len < unix.NLMSG_HDRLEN || int(h.Len) > len(b) {
		return syscall.NetlinkMessage{}, nil, fmt.Errorf("amtlink: netlink message of length %d in %d bytes", h.Len, len(b))
	}
	next := min(int(h.Len+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b))
	return syscall.NetlinkMessage{Header: h, Data: b[unix.NLMSG_HDRLEN:h.Len]}, b[next:], nil
}

// sendRaw writes the whole netlink message b (header included) to the
// kernel. write(2) on an unconnected netlink socket goes to the kernel
// (port 0), as netlink.Conn's sendmsg with an explicit address does, and
// needs no address to be built. rtnetlink handles the request before the
// call returns, so the replies are queued by the time it does.
func sendRaw(rc syscall.RawConn, b []byte) error {
	var werr error
	if err := rc.Control(func(fd uintptr) { _, werr = unix.Write(int(fd), b) }); err != nil {
		return &netlink.OpError{Op: "send", Err: err}
	}
	if werr != nil {
		return &netlink.OpError{Op: "send", Err: os.NewSyscallError("write", werr)}
	}
	return nil
}

// ackError decodes an NLMSG_ERROR message: nil for an acknowledgement, else
// a *netlink.OpError with the errno and the extended acknowledgement's
// message and offset, as netlink.Conn builds it.
func ackError(r syscall.NetlinkMessage) error {
	if len(r.Data) < 4 {
		return &netlink.OpError{Op: "receive", Err: errors.New("amtlink: short netlink error message")}
	}
	code := int32(binary.NativeEndian.Uint32(r.Data))
	if code >= 0 {
		return nil
	}
	oe := &netlink.OpError{Op: "receive", Err: unix.Errno(-code)}
	if netlink.HeaderFlags(r.Header.Flags)&netlink.AcknowledgeTLVs == 0 {
		return oe
	}
	// The request's header, and unless capped its payload, then the TLVs.
	off := 4 + unix.NLMSG_HDRLEN
	if netlink.HeaderFlags(r.Header.Flags)&netlink.Capped == 0 && len(r.Data) >= off {
		off = 4 + int(binary.NativeEndian.Uint32(r.Data[4:8]))
		off = (off + 3) &^ 3
	}
	if off > len(r.Data) {
		return oe
	}
	_ = walkAttrs(r.Data[off:], func(t uint16, payload []byte) error {
		switch t {
		case unix.NLMSGERR_ATTR_MSG:
			oe.Message = string(bytes.TrimRight(payload, "\x00"))
		case unix.NLMSGERR_ATTR_OFFS:
			if len(payload) == 4 {
				oe.Offset = int(binary.NativeEndian.Uint32(payload))
			}
		}
		return nil
	})
	return oe
}
