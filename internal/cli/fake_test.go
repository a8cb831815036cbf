package cli

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
)

// fake is an in-memory Backend. It records every call. It cannot watch
// (see watchFake).
type fake struct {
	links []amtlink.Link
	ifs   []Interface

	openErr, createErr, getErr, listErr, deleteErr error
	setErr                                         error

	sets []setCall // every Set call (fake_set_test.go)

	opened  []string       // netns argument of every open
	creates []amtlink.Spec // every Create (or Add) call, successful or not
	adds    int            // how many of them were Add calls
	deletes []string
	lookups []string // every Interface call
	lists   int      // how many List calls
	closed  int
	gone    bool // NetNSGone's answer
}

func (f *fake) open(netns string) (Backend, error) {
	f.opened = append(f.opened, netns)
	if f.openErr != nil {
		return nil, f.openErr
	}
	return f, nil
}

func (f *fake) Close() error { f.closed++; return nil }

// NetNSGone reports gone.
func (f *fake) NetNSGone() bool { return f.gone }

func (f *fake) Interfaces() ([]Interface, error) { return f.ifs, nil }

// Watch fails: watchFake (monitor_test.go) is the fake that reports events.
func (f *fake) Watch(context.Context, amtlink.WatchOptions, func(amtlink.Event) error) error {
	return errors.New("fake: this backend cannot report link events")
}

// Subscribe fails: subFake (applywatch_test.go) is the fake that reports
// notifications.
func (f *fake) Subscribe(context.Context, amtlink.SubscribeOptions, func(amtlink.Notification) error) error {
	return errors.New("fake: this backend cannot report notifications")
}

func (f *fake) Interface(name string) (*Interface, error) {
	f.lookups = append(f.lookups, name)
	return findInterface(f.Interfaces, name)
}

func (f *fake) find(name string) int {
	for i, l := range f.links {
		if l.Name == name {
			return i
		}
	}
	return -1
}

func (f *fake) ifindex(name string) (uint32, bool) {
	for i, it := range f.ifs {
		if it.Name == name {
			return uint32(i + 1), true
		}
	}
	return 0, false
}

// Add is Create without the result, as amtlink's; it counts in adds too.
func (f *fake) Add(s amtlink.Spec) error {
	f.adds++
	_, err := f.Create(s)
	return err
}

// Create behaves like the kernel as amtlink reports it: errors map to the
// os sentinels, defaults are filled in, and the link is read back.
func (f *fake) Create(s amtlink.Spec) (*amtlink.Link, error) {
	f.creates = append(f.creates, s)
	if f.createErr != nil {
		return nil, f.createErr
	}
	if f.find(s.Name) >= 0 {
		return nil, &amtlink.Error{Op: "create", Name: s.Name, Err: syscall.EEXIST}
	}
	idx, ok := f.ifindex(s.Dev)
	if !ok {
		return nil, &amtlink.Error{Op: "create", Name: s.Name, Err: syscall.ENODEV}
	}
	if s.Master != "" {
		if _, ok := f.ifindex(s.Master); !ok {
			return nil, &amtlink.Error{Op: "create", Name: s.Name, Err: syscall.ENODEV}
		}
	}
	a := s.AMT
	a.Link = &idx
	if a.RelayPort == nil {
		a.RelayPort = ifla.Ptr(ifla.DefaultPort)
	}
	if a.GatewayPort == nil {
		a.GatewayPort = ifla.Ptr(ifla.DefaultPort)
	}
	if a.MaxTunnels == nil {
		a.MaxTunnels = ifla.Ptr(ifla.DefaultMaxTunnels)
	}
	if !a.Discovery.IsValid() {
		a.Discovery = netip.IPv4Unspecified()
	}
	l := amtlink.Link{
		Index: uint32(100 + len(f.links)), Name: s.Name, MTU: 1476,
		Flags:     iffPointopoint | iffNoarp,
		OperState: rtnetlink.OperStateDown, Master: s.Master, LowerName: s.Dev, AMT: a,
		Stats: &rtnetlink.LinkStats64{}, Alias: s.Alias,
	}
	if s.MTU != 0 {
		l.MTU = s.MTU
	}
	if s.Up {
		l.Flags |= iffUp | iffRunning | iffLowerUp
		l.OperState = rtnetlink.OperStateUnknown
	}
	f.links = append(f.links, l)
	return &l, nil
}

func (f *fake) Get(name string) (*amtlink.Link, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	i := f.find(name)
	if i < 0 {
		return nil, &amtlink.Error{Op: "get", Name: name, Err: syscall.ENODEV}
	}
	l := f.links[i]
	return &l, nil
}

func (f *fake) List() ([]amtlink.Link, error) {
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	return append([]amtlink.Link(nil), f.links...), nil
}

func (f *fake) Delete(name string) error {
	f.deletes = append(f.deletes, name)
	if f.deleteErr != nil {
		return f.deleteErr
	}
	i := f.find(name)
	if i < 0 {
		return &amtlink.Error{Op: "delete", Name: name, Err: syscall.ENODEV}
	}
	f.links = append(f.links[:i], f.links[i+1:]...)
	return nil
}

// newFake returns a fake namespace with lo, eth0 (up, 10.0.0.1 and
// 10.0.0.2), veth0 (down, 192.0.2.9) and br0.
func newFake() *fake {
	return &fake{ifs: []Interface{
		{Name: "lo", Up: true, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
		{Name: "eth0", Up: true, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}},
		{Name: "veth0", Up: false, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
		{Name: "br0", Up: true},
	}}
}

// run drives the real command tree against f.
func run(t *testing.T, f *fake, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runHooked(t, f, hooks{}, args...)
}

// runHooked is run with test hooks. It builds the tree as Main does: only
// the command args name where onlyCommand can tell it.
func runHooked(t *testing.T, f *fake, h hooks, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root, _ := newRoot(f.open, h, onlyCommand(args))
	code = Execute(root, args, &out, &errb)
	if f.closed != countOpened(f) {
		t.Errorf("amtctl %q: backend opened %d times, closed %d times", args, countOpened(f), f.closed)
	}
	return code, out.String(), errb.String()
}

func countOpened(f *fake) int {
	if f.openErr != nil {
		return 0
	}
	return len(f.opened)
}

// sampleLinks are three links in the states show must render: a relay, a
// gateway still discovering (no IFLA_AMT_REMOTE_IP, as the kernel reports
// it) and a gateway that found its relay, enslaved to a bridge.
func sampleLinks() []amtlink.Link {
	u32 := ifla.Ptr[uint32]
	u16 := ifla.Ptr[uint16]
	return []amtlink.Link{
		{
			Index: 5, Name: "amtr", MTU: 1476,
			Flags:     iffUp | iffRunning | iffLowerUp | iffPointopoint | iffNoarp,
			OperState: rtnetlink.OperStateUnknown, LowerName: "veth-r",
			AMT: ifla.AMT{
				Mode: ifla.Ptr(ifla.ModeRelay), RelayPort: u16(2268), GatewayPort: u16(2268), Link: u32(2),
				Local: netip.MustParseAddr("10.0.0.1"), Discovery: netip.IPv4Unspecified(), MaxTunnels: u32(128),
			},
			Stats: &rtnetlink.LinkStats64{RXPackets: 12, TXPackets: 34, RXBytes: 1200, TXBytes: 3400, Multicast: 3},
		},
		{
			Index: 6, Name: "amtg", MTU: 1476,
			Flags:     iffPointopoint | iffNoarp,
			OperState: rtnetlink.OperStateDown, LowerName: "veth-g",
			AMT: ifla.AMT{
				Mode: ifla.Ptr(ifla.ModeGateway), RelayPort: u16(2268), GatewayPort: u16(2269), Link: u32(3),
				Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"), MaxTunnels: u32(128),
			},
			Stats: &rtnetlink.LinkStats64{},
		},
		{
			Index: 7, Name: "amtg2", MTU: 1400, Master: "br0",
			Flags:     iffUp | iffPointopoint | iffNoarp,
			OperState: rtnetlink.OperStateUp,
			AMT: ifla.AMT{
				Mode: ifla.Ptr(ifla.ModeGateway), RelayPort: u16(2268), GatewayPort: u16(2268), Link: u32(9),
				Local: netip.MustParseAddr("10.0.0.3"), Remote: netip.MustParseAddr("10.0.0.1"),
				Discovery: netip.MustParseAddr("10.0.0.1"), MaxTunnels: u32(128),
			},
			Stats: &rtnetlink.LinkStats64{RXPackets: 1, TXPackets: 2},
		},
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- want\n%s--- got\n%s", path, want, got)
	}
}
