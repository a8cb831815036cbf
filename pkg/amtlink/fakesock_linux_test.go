//go:build linux

package amtlink

import (
	"errors"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/mdlayher/netlink"
)

// fakeSock is an in-memory kernel behind the client's sock: the request
// bytes a client writes are parsed into a netlink.Message and handed to
// serve (the same function type nltest.Dial takes); serve's replies are
// queued as datagrams, as the kernel queues them: a message of its own
// each, except the parts of a multipart answer (NLM_F_MULTI), which share
// datagrams of up to perDatagram messages, NLMSG_DONE included. So unit
// tests run exactly the code that reads a real socket (exchange), chunked
// answers included.
type fakeSock struct {
	tb    tb
	serve func([]netlink.Message) ([]netlink.Message, error)
	pid   uint32
	queue []datagram
	// perDatagram is how many parts of a multipart answer share one
	// datagram; 0 means 3.
	perDatagram int
	// strict makes a request written while replies of the previous one
	// are still queued a test failure: a client must read each answer
	// to its end.
	strict bool
	closed bool
	// modes records how each read was asked to wait.
	modes []readMode
}

// tb is what the fakes need of a testing.TB; the Examples, which have
// none, give them one that panics (exampleTB).
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

type datagram struct {
	b   []byte
	err error
}

// fakePID is the port ID the fake kernel bound the client's socket to.
const fakePID = 4242

// testClient returns a client whose socket is served by serve.
func testClient(tb tb, serve func([]netlink.Message) ([]netlink.Message, error)) (*client, *fakeSock) {
	fs := &fakeSock{tb: tb, serve: serve, pid: fakePID, strict: true}
	c := &client{s: fs, pid: fakePID}
	tb.Cleanup(func() { c.Close() })
	return c, fs
}

func (f *fakeSock) write(b []byte) error {
	if f.closed {
		return errors.New("fake socket: closed")
	}
	if f.strict && len(f.queue) > 0 {
		f.tb.Errorf("fake socket: a request was sent with %d datagrams of the previous answer still queued", len(f.queue))
	}
	var m netlink.Message
	if err := m.UnmarshalBinary(b); err != nil {
		return err
	}
	if int(m.Header.Length) != len(b) {
		f.tb.Errorf("fake socket: request header says %d bytes, %d written", m.Header.Length, len(b))
	}
	m.Header.PID = f.pid // the kernel knows the sender
	msgs, err := f.serve([]netlink.Message{m})
	if err != nil {
		f.queue = append(f.queue, datagram{err: err})
		return nil
	}
	per := f.perDatagram
	if per == 0 {
		per = 3
	}
	var cur []byte
	parts := 0
	flush := func() {
		if cur != nil {
			f.queue = append(f.queue, datagram{b: cur})
			cur, parts = nil, 0
		}
	}
	for _, r := range msgs {
		if r.Header.Length == 0 {
			r.Header.Length = uint32(nlwire.HeaderLen + len(r.Data))
		}
		rb, err := r.MarshalBinary()
		if err != nil {
			f.tb.Fatalf("fake socket: marshal reply: %v", err)
		}
		if r.Header.Flags&netlink.Multi == 0 {
			flush()
			f.queue = append(f.queue, datagram{b: rb})
			continue
		}
		if parts == per {
			flush()
		}
		cur = append(cur, rb...)
		parts++
	}
	flush()
	return nil
}

func (f *fakeSock) read(b []byte, how readMode) (int, error) {
	f.modes = append(f.modes, how)
	if len(f.queue) == 0 {
		if how == readNoWait {
			return 0, errWouldBlock
		}
		// A real socket would block for ever: the client expected a
		// reply the kernel never sends.
		f.tb.Errorf("fake socket: read with nothing queued")
		return 0, errors.New("fake socket: read with nothing queued (would block)")
	}
	d := f.queue[0]
	f.queue = f.queue[1:]
	if d.err != nil {
		return 0, d.err
	}
	copy(b, d.b)
	return len(d.b), nil
}

func (f *fakeSock) close() error {
	f.closed = true
	return nil
}
