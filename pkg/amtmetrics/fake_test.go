package amtmetrics

import (
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
)

// fakeSource is one namespace's Source in memory: its links, an error to
// fail List with, whether its namespace is gone, and a stream of events
// its Watch reports until stopped.
type fakeSource struct {
	mu      sync.Mutex
	links   []amtlink.Link
	listErr error
	gone    bool
	lists   int
	closed  bool
	// events are reported by Watch as they come; watchErr, when set,
	// makes Watch fail at once.
	events   chan amtlink.Event
	watchErr error
	watching chan struct{} // closed by Watch once ready
	handled  chan struct{} // one token per event handled
}

func newFakeSource(links ...amtlink.Link) *fakeSource {
	return &fakeSource{links: links, events: make(chan amtlink.Event), watching: make(chan struct{}), handled: make(chan struct{}, 64)}
}

func (f *fakeSource) List() ([]amtlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.closed {
		return nil, errors.New("fake: List after Close")
	}
	if f.listErr != nil {
		return nil, f.listErr
	}
	return append([]amtlink.Link(nil), f.links...), nil
}

func (f *fakeSource) Watch(ctx context.Context, opt amtlink.WatchOptions, fn func(amtlink.Event) error) error {
	f.mu.Lock()
	err := f.watchErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if opt.Ready != nil {
		opt.Ready()
	}
	close(f.watching)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-f.events:
			if err := fn(e); err != nil {
				return err
			}
			f.handled <- struct{}{}
		}
	}
}

// send has Watch report e and waits until it was handled.
func (f *fakeSource) send(t *testing.T, e amtlink.Event) {
	t.Helper()
	<-f.watching
	f.events <- e
	<-f.handled
}

func (f *fakeSource) NetNSGone() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gone
}

func (f *fakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("fake: closed twice")
	}
	f.closed = true
	return nil
}

// fakeSpaces opens fake sources by namespace name; a name without one is
// not found, as a missing /run/netns/NAME.
type fakeSpaces struct {
	mu     sync.Mutex
	byName map[string]*fakeSource
	opened []string
}

func (fs *fakeSpaces) open(netns string) (Source, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.opened = append(fs.opened, netns)
	s, ok := fs.byName[netns]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: "/run/netns/" + netns, Err: os.ErrNotExist}
	}
	return s, nil
}

// set makes s what opening netns gives from now on; nil makes it missing.
func (fs *fakeSpaces) set(netns string, s *fakeSource) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if s == nil {
		delete(fs.byName, netns)
		return
	}
	fs.byName[netns] = s
}

var a = netip.MustParseAddr

// gatewayLink is a gateway amt link named name on eth0 with counters
// derived from n, up, whose relay is remote (the zero Addr: discovering).
func gatewayLink(index uint32, name string, n uint64, remote netip.Addr) amtlink.Link {
	if !remote.IsValid() {
		remote = netip.IPv4Unspecified()
	}
	return amtlink.Link{
		Index: index, Name: name, MTU: 1456, Flags: 0x1 | 0x10 | 0x80, LowerName: "eth0",
		OperState: rtnetlink.OperStateUnknown,
		AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeGateway), RelayPort: ifla.Ptr[uint16](2268), GatewayPort: ifla.Ptr[uint16](2268),
			Link: ifla.Ptr[uint32](2), Local: a("10.0.0.2"), Discovery: a("10.0.0.1"), Remote: remote,
			MaxTunnels: ifla.Ptr(ifla.DefaultMaxTunnels),
		},
		Stats: &rtnetlink.LinkStats64{
			RXPackets: n, RXBytes: 100 * n, RXErrors: n / 10, RXDropped: n / 20,
			TXPackets: 2 * n, TXBytes: 50 * n, TXErrors: n / 30, TXDropped: n / 40,
		},
	}
}

// relayLink is a relay amt link, down, on ifindex 7 whose name is unknown
// (the lower device is in another namespace).
func relayLink(index uint32, name string) amtlink.Link {
	return amtlink.Link{
		Index: index, Name: name, MTU: 1456, Flags: 0x10 | 0x80,
		AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeRelay), RelayPort: ifla.Ptr[uint16](2268), GatewayPort: ifla.Ptr[uint16](2268),
			Link: ifla.Ptr[uint32](7), Local: a("10.0.0.1"), Discovery: netip.IPv4Unspecified(),
			MaxTunnels: ifla.Ptr[uint32](4),
		},
		Stats: &rtnetlink.LinkStats64{RXPackets: 3, RXBytes: 300, TXPackets: 12345678901, TXBytes: 1 << 40},
	}
}

// netipZero is the zero Addr: a gateway still discovering its relay.
var netipZero netip.Addr

var update = flag.Bool("update", false, "write testdata/*.golden from what the tests got")

// readGolden reads testdata/name; with -update it first writes got there.
func readGolden(name, got string) (string, error) {
	if *update {
		if err := os.WriteFile("testdata/"+name, []byte(got), 0o644); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile("testdata/" + name)
	return string(b), err
}
