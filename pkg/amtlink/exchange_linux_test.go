//go:build linux

package amtlink

import (
	"context"
	"slices"
	"time"

	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestDumpErrorReadsToTheEnd is the regression test for the desync: a dump
// whose callback fails on one message must still read the rest of the
// kernel's multipart answer, so that the next request on the same client
// gets its own answer. (Before, List returned at the bad message and every
// later request failed, one reply behind: "get lo: reply with sequence N
// … want N+1".) The fake socket fails the test when a request is written
// with replies of the previous one still queued.
func TestDumpErrorReadsToTheEnd(t *testing.T) {
	links := baseLinks()
	for i := range 10 {
		links = append(links, amtLink(uint32(10+i), fmt.Sprintf("amt%d", i), 2))
	}
	k := newFakeKernel(t, links...)
	c, fs := testClient(t, k.serve)
	fs.perDatagram = 2 // the dump comes in several datagrams
	k.corrupt = func(l *fakeLink, b []byte) []byte {
		if l.name != "amt1" {
			return b
		}
		return nlwire.AppendAttr(b, unix.IFLA_MTU, []byte{1, 2}) // 2 bytes, not 4
	}
	_, err := c.List()
	if err == nil || !strings.Contains(err.Error(), "type 4 has 2 bytes, want 4") {
		t.Fatalf("List with a malformed link = %v, want the decoder's error", err)
	}
	if len(fs.queue) != 0 {
		t.Fatalf("List left %d datagrams of its answer on the socket", len(fs.queue))
	}
	k.corrupt = nil
	if _, err := c.Get("amt3"); err != nil {
		t.Fatalf("Get after a failed List: %v", err)
	}
	if _, err := c.List(); err != nil {
		t.Fatalf("List again: %v", err)
	}
}

// TestReadQueuedOnlyWithoutADump: the answer to a request that is not a
// dump is read with readQueued (a raw recvfrom) only while no dump runs on
// the socket. A dump whose reading failed (here the kernel's ENOBUFS)
// before its NLMSG_DONE is still running in the kernel, which goes on
// with it in the next recvmsg, taking its locks: the next answers are
// read with readWait until a NLMSG_DONE, here one of the old dump's left
// behind, shows that it ended.
func TestReadQueuedOnlyWithoutADump(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	var staleDone []netlink.Message
	c, fs := testClient(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		if reqs[0].Header.Flags&netlink.Dump == netlink.Dump && staleDone == nil {
			staleDone = []netlink.Message{{
				Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: reqs[0].Header.Sequence, PID: reqs[0].Header.PID},
				Data:   make([]byte, 4),
			}}
			return nil, unix.ENOBUFS
		}
		msgs, err := k.serve(reqs)
		return append(staleDone, msgs...), err
	})
	if _, err := c.List(); !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("List = %v, want ENOBUFS", err)
	}
	if !c.dumpLeft {
		t.Fatal("after a dump cut short, dumpLeft is not set")
	}
	for i, want := range []readMode{readWait, readQueued} {
		fs.modes = nil
		if _, err := c.lookup("get", "eth0", 0, "eth0"); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		staleDone = staleDone[:0]
		if len(fs.modes) == 0 || fs.modes[0] != want {
			t.Errorf("lookup %d read with modes %v, want %v first", i, fs.modes, want)
		}
	}
	if c.dumpLeft {
		t.Error("dumpLeft still set after the old dump's NLMSG_DONE was read")
	}
	// An old dump's NLMSG_DONE read during a dump of the client's own is
	// no sign that this one ended: every read of it waits.
	staleDone = []netlink.Message{{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: 1, PID: fakePID},
		Data:   make([]byte, 4),
	}}
	fs.perDatagram = 1
	fs.modes = nil
	if _, err := c.List(); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(fs.modes) < 2 || slices.ContainsFunc(fs.modes, func(m readMode) bool { return m != readWait }) {
		t.Errorf("List with an old NLMSG_DONE first read with modes %v, want readWait throughout", fs.modes)
	}
	if c.dumpLeft {
		t.Error("dumpLeft still set after List's own NLMSG_DONE")
	}
}

// TestExchangeSkipsOtherAnswers: replies that do not carry this request's
// sequence number and port ID (an earlier answer a failed read left
// behind, or another socket's) are skipped, not taken for the answer.
func TestExchangeSkipsOtherAnswers(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c, fs := testClient(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		msgs, err := k.serve(reqs)
		stale := msgs[0]
		stale.Header.Sequence--
		other := msgs[0]
		other.Header.PID++
		return append([]netlink.Message{stale, other}, msgs...), err
	})
	fs.strict = false
	d, err := c.lookup("get", "eth0", 0, "eth0")
	if err != nil || d.Index != 2 {
		t.Fatalf("lookup = %+v, %v; want eth0 (index 2)", d, err)
	}
	if len(fs.queue) != 0 {
		t.Errorf("%d datagrams left", len(fs.queue))
	}
}

// TestDumpInterrupted: a dump the kernel flags NLM_F_DUMP_INTR is asked
// again, the partial results dropped; one that is interrupted every time
// ends in ErrDumpInterrupted.
func TestDumpInterrupted(t *testing.T) {
	links := append(baseLinks(), amtLink(10, "amtr", 2), amtLink(11, "amts", 2))
	for _, tc := range []struct {
		name    string
		intr    int // dumps flagged
		wantErr bool
	}{
		{"once", 1, false},
		{"twice", 2, false},
		{"always", maxAttempts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKernel(t, links...)
			dumps := 0
			c, _ := testClient(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
				msgs, err := k.serve(reqs)
				if reqs[0].Header.Flags&netlink.Dump != 0 {
					if dumps++; dumps <= tc.intr {
						msgs[len(msgs)-1].Header.Flags |= nlwire.FlagDumpIntr
					}
				}
				return msgs, err
			})
			got, err := c.List()
			if tc.wantErr {
				if !errors.Is(err, ErrDumpInterrupted) {
					t.Fatalf("List = %v, %v; want ErrDumpInterrupted", got, err)
				}
				if dumps != maxAttempts {
					t.Errorf("%d dumps, want %d", dumps, maxAttempts)
				}
				return
			}
			if err != nil || len(got) != 2 {
				t.Fatalf("List = %d links, %v; want the 2 amt links once each", len(got), err)
			}
			if dumps != tc.intr+1 {
				t.Errorf("%d dumps, want %d", dumps, tc.intr+1)
			}
		})
	}
}

// TestExchangeCutShort: a datagram longer than the receive buffer is lost
// (MSG_TRUNC); the buffer grows and a lookup or dump is asked again.
func TestExchangeCutShort(t *testing.T) {
	links := append(baseLinks(), amtLink(10, "amtr", 2))
	k := newFakeKernel(t, links...)
	c, _ := testClient(t, k.serve)
	c.rx = make([]byte, 64)
	got, err := c.List()
	if err != nil || len(got) != 1 {
		t.Fatalf("List with a 64-byte buffer = %v, %v; want amtr", got, err)
	}
	if len(c.rx) <= 64 {
		t.Errorf("buffer still %d bytes", len(c.rx))
	}
	dumps := 0
	for _, r := range k.reqs {
		if r.Header.Flags&netlink.Dump != 0 {
			dumps++
		}
	}
	if dumps != 2 {
		t.Errorf("%d dumps, want 2 (one cut short, one whole)", dumps)
	}
}

// TestIntegrationDumpErrorReadsToTheEnd is TestDumpErrorReadsToTheEnd on
// the running kernel: a dump of 200 links (several 32 KiB chunks) whose
// callback fails on the first message, then lookups on the same client.
// Needs root; no AMT driver.
func TestIntegrationDumpErrorReadsToTheEnd(t *testing.T) {
	testenv.RequireRoot(t)
	n := newTestNS(t)
	for i := range 100 {
		n.addVeth(t, fmt.Sprintf("va%d", i), fmt.Sprintf("vb%d", i), n)
	}
	c := n.c.c
	req, start := linkMsg(nil, unix.RTM_GETLINK, flagsDump, 0, 0, 0)
	nlwire.Finish(req, start)
	errBad := errors.New("test: undecodable")
	seen := 0
	if err := c.exchange(req, nil, func(reply) error { seen++; return errBad }); !errors.Is(err, errBad) {
		t.Fatalf("dump with a failing callback = %v, want its error", err)
	}
	if seen != 1 {
		t.Errorf("callback called %d times after it failed, want once", seen)
	}
	for _, name := range []string{"lo", "va50", "vb99"} {
		d, err := c.lookup("get", name, 0, name)
		if err != nil || d.Name != name {
			t.Fatalf("lookup %s after the failed dump = %+v, %v", name, d, err)
		}
	}
	// Through the API: Devices dumps links and addresses again.
	devs, err := n.c.Devices()
	if err != nil || len(devs) != 201 {
		t.Fatalf("Devices after the failed dump = %d devices, %v; want 201", len(devs), err)
	}
}

// TestCreateEchoCutShort: an echo too long for the buffer is lost, but the
// kernel acknowledged the create: Create succeeds and reads the link back,
// and nothing is deleted.
func TestCreateEchoCutShort(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c, _ := testClient(t, k.serve)
	c.rx = make([]byte, 64) // an ack fits, an echo does not
	s := gatewaySpec()
	s.Master, s.MTU = "", 0
	l, err := c.Create(s)
	if err != nil || l.Name != "amtg" {
		t.Fatalf("Create with a lost echo = %+v, %v; want amtg", l, err)
	}
	if k.find(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "amtg"}}) == nil {
		t.Error("the link is gone")
	}
}

// TestWatchSurvivesDumpInterrupted: a resync (after ENOBUFS) whose dump
// keeps being interrupted is tried again later instead of ending Watch.
func TestWatchSurvivesDumpInterrupted(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
	intr := 0
	c, _ := testClient(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		msgs, err := k.serve(reqs)
		if reqs[0].Header.Flags&netlink.Dump != 0 && intr > 0 {
			intr--
			msgs[len(msgs)-1].Header.Flags |= nlwire.FlagDumpIntr
		}
		return msgs, err
	})
	ch := make(chan received, 2)
	opt := WatchOptions{PollInterval: time.Millisecond, Ready: func() {
		// A burst: the notification socket overflows while the list
		// changes under every dump for a while.
		intr = maxAttempts + 1
		k.links = append(k.links, amtLink(11, "amts", 2))
		ch <- received{err: unix.ENOBUFS}
	}}
	var got []string
	err := c.watchLoop(context.Background(), opt, ch, func(e Event) error {
		got = append(got, e.Type.String()+" "+e.Link.Name)
		if e.Type == EventCreated {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("watchLoop = %v, want it to live through the interrupted dumps", err)
	}
	if len(got) != 2 || got[0] != "resynced " || got[1] != "created amts" {
		t.Errorf("events %q, want [resynced, created amts]: one resync, reported once it worked", got)
	}
	if intr != 0 {
		t.Errorf("%d interrupted dumps left", intr)
	}
}
