//go:build linux

package amtlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// This file owns the round trip: every request of this package is sent, and
// its answer read, by client.exchange and nothing else.

// rxBufSize is the receive buffer's starting size. The kernel sizes each
// dump chunk by the largest buffer the socket has read with
// (nlk->max_recvmsg_len, capped at 32 KiB); iproute2 reads with 32 KiB too.
// A datagram that does not fit grows the buffer (see exchange).
const rxBufSize = 32 << 10

// maxAttempts bounds how often exchange sends one request: a dump the
// kernel flags as interrupted (NLM_F_DUMP_INTR: the table changed while it
// was read), or a lookup whose answer did not fit the buffer, is asked
// again, after a pause that doubles from intrBackoff.
const maxAttempts = 5

// intrBackoff is the first pause before a dump is asked again: long enough
// for a burst of changes (a script adding links) to pass, short against a
// human's patience: 150 ms in all over five attempts (10+20+40+80 ms).
const intrBackoff = 10 * time.Millisecond

// errCutShort reports an answer of which some datagrams were lost: one was
// too long for the buffer, or could not be split into messages.
var errCutShort = errors.New("amtlink: part of the kernel's answer was lost")

// errWouldBlock is sock.read's answer when nothing is queued and it was
// told not to wait.
var errWouldBlock = errors.New("amtlink: no reply queued")

// sock is the client's socket as the round trip sees it: one request out,
// one datagram in. The real one is the netlink.Conn's descriptor, written
// and read directly (rawSock); unit tests put an in-memory kernel behind
// the same interface, so they run the code production runs.
type sock interface {
	// write sends one request message to the kernel.
	write(b []byte) error
	// read reads one datagram into b and returns its whole length, which
	// is more than len(b) when it was cut short (MSG_TRUNC). With
	// readNoWait it returns errWouldBlock instead of waiting for one.
	read(b []byte, how readMode) (int, error)
	// close closes the socket.
	close() error
}

// readMode is how sock.read may wait for a datagram.
type readMode uint8

const (
	// readWait waits for one on Go's poller.
	readWait readMode = iota
	// readNoWait returns errWouldBlock when none is queued.
	readNoWait
	// readQueued is readWait for the answer to a request that is not a
	// dump while no dump runs on the socket (client.dumpLeft unset):
	// rtnetlink queued all of it before the request's write(2) returned,
	// so recvfrom(2) only copies out what is queued, and runs no dump
	// code. rawSock reads it without telling the Go scheduler (see
	// rawSock.read).
	readQueued
)

// rawSock is a netlink.Conn's socket, used through its RawConn: one
// write(2) per request and one recvfrom(2) per datagram, without the
// one-page peek netlink.Conn.Receive makes before every read, and without
// allocating.
type rawSock struct {
	conn *socket.Conn
	rc   syscall.RawConn
}

// write writes the whole request b. write(2) on an unconnected netlink
// socket goes to the kernel (port 0), and rtnetlink handles the request
// before the call returns, so its replies are queued by the time it does.
func (s rawSock) write(b []byte) error {
	var werr error
	if err := s.rc.Control(func(fd uintptr) { _, werr = unix.Write(int(fd), b) }); err != nil {
		return err
	}
	if werr != nil {
		return os.NewSyscallError("write", werr)
	}
	return nil
}

// read reads one datagram. With readQueued it first tries a non-blocking
// recvfrom(2) as a raw system call, which the Go scheduler is not told
// about: one that cannot block (no dump runs on the socket, so the kernel
// runs no dump code and takes no lock in it; a running dump goes on in
// the recvmsg that follows a read datagram) needs no hand-off of the
// thread's P (under TCG, a -batch of 500 creates took 8-18% less CPU time
// so). When nothing is queued after all it waits on the poller as readWait
// does.
func (s rawSock) read(b []byte, how readMode) (int, error) {
	flags := unix.MSG_TRUNC
	if how == readNoWait {
		flags |= unix.MSG_DONTWAIT
	}
	var n int
	var rerr error
	if how == readQueued {
		if err := s.rc.Control(func(fd uintptr) {
			n, rerr = recvfrom(int(fd), b, flags|unix.MSG_DONTWAIT, true)
		}); err != nil {
			return 0, err
		}
		switch rerr {
		case nil:
			return n, nil
		case unix.EAGAIN, unix.EINTR:
		default:
			return 0, os.NewSyscallError("recvfrom", rerr)
		}
	}
	wait := how != readNoWait
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = recvfrom(int(fd), b, flags, false)
			if rerr != unix.EINTR {
				break
			}
		}
		return rerr != unix.EAGAIN || !wait
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == unix.EAGAIN:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, os.NewSyscallError("recvfrom", rerr)
	}
	return n, nil
}

func (s rawSock) close() error { return s.conn.Close() }

// recvfrom is recv(fd, b, flags). Unlike unix.Recvmsg it allocates nothing
// (no source address is asked for). The error is a bare unix.Errno. With
// raw it is a raw system call (unix.RawSyscall6), which the Go scheduler
// is not told about: only for a datagram already queued (MSG_DONTWAIT),
// see rawSock.read.
func recvfrom(fd int, b []byte, flags int, raw bool) (int, error) {
	// Each call converts b's pointer in its own argument list, which
	// keeps b alive through the call (unsafe.Pointer's rule 4); a
	// function value would not.
	var n uintptr
	var errno unix.Errno
	if raw {
		n, _, errno = unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(flags), 0, 0)
	} else {
		n, _, errno = unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(flags), 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// portID returns the port ID the kernel bound the socket to: the nlmsg_pid
// of every reply meant for it.
func portID(rc syscall.RawConn) (uint32, error) {
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockname", serr)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return 0, fmt.Errorf("amtlink: getsockname gave a %T, not a netlink address", sa)
	}
	return nl.Pid, nil
}

// reply is one message of an answer. Its payload aliases the client's
// receive buffer: it is valid only until the callback it was given to
// returns.
type reply struct {
	typ  uint16
	data []byte
}

// exchange sends the request req (a whole message, built with
// nlwire.AppendHeader: its sequence number is set here) and calls fn with
// every message of the answer but the terminating one, until the answer is
// complete: NLMSG_DONE or an error for a dump, the acknowledgement when the
// request asks for one (NLM_F_ACK), else the first reply.
//
// Whatever happens, it reads the whole answer, so the next request on the
// client finds nothing of this one queued: when fn fails it stops calling
// fn but goes on reading, and returns fn's first error. Messages that do
// not answer this request (a sequence number or port ID not ours: an
// earlier answer left behind by a failed read) are skipped, as iproute2's
// rtnl_talk skips them.
//
// A read-only request (RTM_GET*: a lookup or a dump) is sent again, after
// reset, when its answer was cut short (a datagram longer than the buffer,
// which has grown since) or, for a dump, flagged NLM_F_DUMP_INTR, with a
// growing pause; maxAttempts in all, then ErrDumpInterrupted or
// errCutShort. reset may be nil when fn keeps nothing. A request that
// changes something is never sent twice, and must ask for an
// acknowledgement (NLM_F_ACK): without one a successful change is answered
// by nothing, and the read would wait for ever.
//
// exchange holds c.mu while it calls fn: fn must not call the client.
//
// The kernel's errors come back as *netlink.OpError with the errno and the
// extended acknowledgement's message, as netlink.Conn reports them (see
// kernelError); fn's errors as they are.
func (c *client) exchange(req []byte, reset func(), fn func(reply) error) error {
	typ := binary.NativeEndian.Uint16(req[4:])
	flags := binary.NativeEndian.Uint16(req[6:])
	readOnly := typ >= unix.RTM_BASE && typ%4 == unix.RTM_GETLINK%4 // RTM_GETLINK, RTM_GETADDR, ...
	if !readOnly && flags&nlwire.FlagAck == 0 {
		return fmt.Errorf("amtlink: internal error: request type %d changes something but asks for no acknowledgement", typ)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pause := intrBackoff
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if reset != nil {
				reset()
			}
			time.Sleep(pause)
			pause *= 2
		}
		intr, err := c.roundTrip(req, flags, fn)
		if readOnly && attempt < maxAttempts && (errors.Is(err, errCutShort) || err == nil && intr) {
			continue
		}
		if err == nil && intr {
			return ErrDumpInterrupted
		}
		return err
	}
}

// roundTrip is one attempt of exchange; c.mu is held. intr reports a dump
// flagged NLM_F_DUMP_INTR.
func (c *client) roundTrip(req []byte, flags uint16, fn func(reply) error) (intr bool, err error) {
	c.seq++
	seq := c.seq
	nlwire.SetSeq(req, seq)
	if err := c.s.write(req); err != nil {
		return false, &netlink.OpError{Op: "send", Err: err}
	}
	if c.rx == nil {
		c.rx = make([]byte, rxBufSize)
	}
	dump := flags&nlwire.FlagDump == nlwire.FlagDump
	ack := flags&nlwire.FlagAck != 0
	if dump {
		c.dumpLeft = true
	}
	var fnErr, lost error
	for {
		// Once part of the answer is lost, its end may have been lost
		// with it: read on without waiting. Every reply to a request is
		// queued before the request's write returns, and the next chunk
		// of a dump while the previous one is read.
		how := readQueued
		switch {
		case lost != nil:
			how = readNoWait
		case c.dumpLeft: // a dump of its own too
			how = readWait
		}
		n, err := c.s.read(c.rx, how)
		switch {
		case err != nil && lost != nil:
			return intr, lost
		case err != nil:
			// Read the rest of a dump the kernel is still producing
			// (it would refuse the next dump with EBUSY until it is
			// read out), then report the error.
			lost = &netlink.OpError{Op: "receive", Err: err}
			if !dump {
				return intr, lost
			}
			continue
		case n > len(c.rx):
			// The datagram's first bytes did arrive: count it lost only
			// when it was ours.
			if h, ok := nlwire.ParseHeader(c.rx); ok && h.Seq == seq && (c.pid == 0 || h.Pid == c.pid) {
				lost = fmt.Errorf("%w: a reply of %d bytes did not fit the %d-byte buffer", errCutShort, n, len(c.rx))
			}
			c.rx = make([]byte, nlwire.Align(n))
			continue
		}
		for b := c.rx[:n]; len(b) > 0; {
			h, data, rest, err := nlwire.Next(b)
			if err != nil {
				if lost == nil {
					lost = fmt.Errorf("%w: %v", errCutShort, err)
				}
				break
			}
			b = rest
			if h.Seq != seq || (c.pid != 0 && h.Pid != c.pid) {
				if h.Type == nlwire.TypeDone && !dump {
					// A dump left behind has ended. (During a dump
					// of its own it may be one that ended before
					// this one began, which runs on.)
					c.dumpLeft = false
				}
				continue // another request's
			}
			if h.Flags&nlwire.FlagDumpIntr != 0 {
				intr = true
			}
			var st nlwire.Status
			switch {
			case h.Type == nlwire.TypeError:
				st, err = nlwire.ParseError(h.Flags, data)
			case h.Type == nlwire.TypeDone && dump:
				c.dumpLeft = false
				st, err = nlwire.ParseDone(h.Flags, data)
			default:
				if fnErr == nil {
					fnErr = fn(reply{typ: h.Type, data: data})
				}
				if dump || ack {
					continue
				}
			}
			// The answer is complete.
			switch {
			case err != nil:
				return intr, &netlink.OpError{Op: "receive", Err: err}
			case st.Errno != 0:
				return intr, &netlink.OpError{Op: "receive", Err: st.Errno, Message: st.Message, Offset: st.Offset}
			case lost != nil && !ack:
				return intr, lost
			}
			// A change the kernel acknowledged was made, whatever
			// else was lost: only an echo can be (Create reads the
			// link back then).
			return intr, fnErr
		}
	}
}
