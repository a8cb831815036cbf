//go:build linux

package amtlink

// Integration tests against the running kernel, in throwaway network
// namespaces. They need root (testenv.RequireRoot) and most need the AMT
// driver (testenv.RequireAMT); without either they skip with the reason,
// and under AMTCTL_REQUIRE_KERNEL=1 (scripts/vm) that skip is a failure.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// testNS is a fresh network namespace with an rtnetlink connection for the
// plumbing (veths, addresses) and a Client under test, both inside it.
type testNS struct {
	f  *os.File
	rt *rtnetlink.Conn
	c  *Client
}

func newTestNS(t testing.TB) *testNS {
	t.Helper()
	f := testenv.NewNetNS(t)
	rt, err := rtnetlink.Dial(&netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatalf("rtnetlink dial: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	c, err := Dial(NetNSFromFD(int(f.Fd())))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &testNS{f: f, rt: rt, c: c}
}

func (n *testNS) index(t testing.TB, name string) uint32 {
	t.Helper()
	links, err := n.rt.Link.List()
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l.Index
		}
	}
	t.Fatalf("no link %q", name)
	return 0
}

// addVeth creates a veth pair: name here, peer in the namespace of other
// (which may be n itself).
func (n *testNS) addVeth(t testing.TB, name, peer string, other *testNS) {
	t.Helper()
	peerAttrs := &rtnetlink.LinkAttributes{Name: peer}
	if other != n {
		peerAttrs.NetNS = rtnetlink.NetNSForFD(uint32(other.f.Fd()))
	}
	err := n.rt.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{
			Name: name,
			Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{
				PeerInfo: &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: peerAttrs},
			}},
		},
	})
	if err != nil {
		t.Fatalf("create veth %s/%s: %v", name, peer, err)
	}
}

func (n *testNS) up(t testing.TB, name string) {
	t.Helper()
	err := n.rt.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: n.index(t, name), Flags: unix.IFF_UP, Change: unix.IFF_UP})
	if err != nil {
		t.Fatalf("set %s up: %v", name, err)
	}
}

func (n *testNS) addAddr(t *testing.T, name, cidr string) {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	ip := net.IP(p.Addr().AsSlice())
	err := n.rt.Address.New(&rtnetlink.AddressMessage{
		Family:       unix.AF_INET,
		PrefixLength: uint8(p.Bits()),
		Index:        n.index(t, name),
		Attributes:   &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	})
	if err != nil {
		t.Fatalf("add %s to %s: %v", cidr, name, err)
	}
}

// addLink creates a link of a kind that needs no info data, or with raw
// info data.
func (n *testNS) addLink(t testing.TB, name, kind string, data []netlink.Attribute) error {
	t.Helper()
	info := &rtnetlink.LinkInfo{Kind: kind}
	if data != nil {
		b, err := netlink.MarshalAttributes(data)
		if err != nil {
			t.Fatal(err)
		}
		info.Data = &rtnetlink.LinkData{Name: kind, Data: b}
	}
	return n.rt.Link.New(&rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: info},
	})
}

func (n *testNS) requireNoAMTLinks(t *testing.T, when string) {
	t.Helper()
	links, err := n.c.List()
	if err != nil {
		t.Fatalf("%s: List: %v", when, err)
	}
	if len(links) != 0 {
		var names []string
		for _, l := range links {
			names = append(names, l.Name)
		}
		t.Fatalf("%s: amt links left behind: %v", when, names)
	}
}

// linkView is the projection of a Link the tests compare: every AMT
// attribute, and the generic ones Create sets.
type linkView struct {
	Name, Master, LowerName  string
	Up                       bool
	Mode                     string
	Link                     uint32
	Local, Discovery, Remote string
	RelayPort, GatewayPort   uint16
	MaxTunnels               uint32
	Unknown                  int
}

func view(l *Link) linkView {
	s := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	v := linkView{
		Name: l.Name, Master: l.Master, LowerName: l.LowerName, Up: l.Up(),
		Local: s(l.AMT.Local), Discovery: s(l.AMT.Discovery), Remote: s(l.AMT.Remote),
		Unknown: len(l.AMT.Unknown),
	}
	if l.AMT.Mode != nil {
		v.Mode = l.AMT.Mode.String()
	}
	if l.AMT.Link != nil {
		v.Link = *l.AMT.Link
	}
	if l.AMT.RelayPort != nil {
		v.RelayPort = *l.AMT.RelayPort
	}
	if l.AMT.GatewayPort != nil {
		v.GatewayPort = *l.AMT.GatewayPort
	}
	if l.AMT.MaxTunnels != nil {
		v.MaxTunnels = *l.AMT.MaxTunnels
	}
	return v
}

// addVRF makes a VRF device to use as master. A kernel without VRF is an
// environment gap: skip (a failure in the VM).
func (n *testNS) addVRF(t *testing.T, name string, table uint32) {
	t.Helper()
	const iflaVRFTable = 1
	err := n.addLink(t, name, "vrf", []netlink.Attribute{{Type: iflaVRFTable, Data: binary32(table)}})
	if errors.Is(err, unix.EOPNOTSUPP) {
		testenv.Skip(t, "kernel %s has no VRF driver for the master test (CONFIG_NET_VRF): %v", testenv.KernelRelease(), err)
	}
	if err != nil {
		t.Fatalf("create vrf %s: %v", name, err)
	}
	n.up(t, name)
}

func binary32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestIntegrationCreateGetListDelete(t *testing.T) {
	testenv.RequireAMT(t)
	t.Logf("kernel %s", testenv.KernelRelease())
	n := newTestNS(t)
	n.addVeth(t, "vetha", "vethb", n)
	n.up(t, "vetha")
	n.up(t, "vethb")
	n.addVRF(t, "vrf0", 10)

	gwSpec := Spec{
		Name: "amtg", Dev: "vetha", Master: "vrf0", MTU: 1400, Up: true,
		AMT: ifla.AMT{
			Mode:      ifla.Ptr(ifla.ModeGateway),
			Local:     netip.MustParseAddr("10.0.0.2"),
			Discovery: netip.MustParseAddr("10.0.0.1"),
		},
	}
	relaySpec := Spec{
		Name: "amtr", Dev: "vethb", Up: true,
		AMT: ifla.AMT{
			Mode:        ifla.Ptr(ifla.ModeRelay),
			Local:       netip.MustParseAddr("10.0.0.1"),
			RelayPort:   ifla.Ptr[uint16](2300), // the gateway in this namespace has 2268
			GatewayPort: ifla.Ptr[uint16](2301),
			MaxTunnels:  ifla.Ptr[uint32](16),
		},
	}
	wantGW := linkView{
		Name: "amtg", Master: "vrf0", LowerName: "vetha", Up: true,
		Mode: "gateway", Link: n.index(t, "vetha"), Local: "10.0.0.2", Discovery: "10.0.0.1",
		RelayPort: ifla.DefaultPort, GatewayPort: ifla.DefaultPort, MaxTunnels: ifla.DefaultMaxTunnels,
	}
	wantRelay := linkView{
		Name: "amtr", LowerName: "vethb", Up: true,
		Mode: "relay", Link: n.index(t, "vethb"), Local: "10.0.0.1", Discovery: "0.0.0.0",
		RelayPort: 2300, GatewayPort: 2301, MaxTunnels: 16,
	}

	gw, err := n.c.Create(gwSpec)
	if err != nil {
		t.Fatalf("Create gateway: %v", err)
	}
	if diff := cmp.Diff(wantGW, view(gw)); diff != "" {
		t.Errorf("Create gateway returned (-want +got):\n%s", diff)
	}
	if gw.MTU != 1400 {
		t.Errorf("gateway MTU %d, want 1400 (set in the create request)", gw.MTU)
	}
	relay, err := n.c.Create(relaySpec)
	if err != nil {
		t.Fatalf("Create relay: %v", err)
	}
	if diff := cmp.Diff(wantRelay, view(relay)); diff != "" {
		t.Errorf("Create relay returned (-want +got):\n%s", diff)
	}
	if relay.MTU == 0 || relay.MTU >= 1500 {
		t.Errorf("relay MTU %d, want the lower device's 1500 minus the AMT headers", relay.MTU)
	}
	t.Logf("gateway: %d %s mtu %d %s", gw.Index, gw.Name, gw.MTU, gw.AMT)
	t.Logf("relay:   %d %s mtu %d %s", relay.Index, relay.Name, relay.MTU, relay.AMT)

	for _, w := range []linkView{wantGW, wantRelay} {
		got, err := n.c.Get(w.Name)
		if err != nil {
			t.Fatalf("Get(%s): %v", w.Name, err)
		}
		if diff := cmp.Diff(w, view(got)); diff != "" {
			t.Errorf("Get(%s) (-want +got):\n%s", w.Name, diff)
		}
		if got.Stats == nil {
			t.Errorf("Get(%s): no stats", w.Name)
		}
	}

	links, err := n.c.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var views []linkView
	for i := range links {
		views = append(views, view(&links[i]))
	}
	if diff := cmp.Diff([]linkView{wantGW, wantRelay}, views); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if len(links) == 2 && links[0].Index >= links[1].Index {
		t.Errorf("List not sorted by index: %d, %d", links[0].Index, links[1].Index)
	}

	// A plain rtnetlink dump decodes amt links into *Driver.
	msgs, err := n.rt.Link.ListByKind(Kind)
	if err != nil {
		t.Fatalf("rtnetlink ListByKind: %v", err)
	}
	var kinds []string
	for _, m := range msgs {
		d, ok := m.Attributes.Info.Data.(*Driver)
		if !ok {
			t.Fatalf("rtnetlink decoded %s into %T, want *amtlink.Driver", m.Attributes.Name, m.Attributes.Info.Data)
		}
		kinds = append(kinds, m.Attributes.Name+"="+d.Mode.String())
	}
	if diff := cmp.Diff([]string{"amtg=gateway", "amtr=relay"}, kinds); diff != "" {
		t.Errorf("rtnetlink dump (-want +got):\n%s", diff)
	}

	for _, name := range []string{"amtg", "amtr"} {
		if err := n.c.Delete(name); err != nil {
			t.Fatalf("Delete(%s): %v", name, err)
		}
		if _, err := n.c.Get(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Get(%s) after Delete = %v, want os.ErrNotExist", name, err)
		}
	}
	n.requireNoAMTLinks(t, "after Delete")
	if err := n.c.Delete("amtg"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second Delete = %v, want os.ErrNotExist", err)
	}
}

// TestIntegrationBadInputLeavesNothing: every failing Create, whether our
// validation or the kernel refuses it, leaves no link behind.
func TestIntegrationBadInputLeavesNothing(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "vetha", "vethb", n)
	n.up(t, "vetha")

	good := func() Spec {
		return Spec{Name: "amtg", Dev: "vetha", Up: true, AMT: ifla.AMT{
			Mode:      ifla.Ptr(ifla.ModeGateway),
			Local:     netip.MustParseAddr("10.0.0.2"),
			Discovery: netip.MustParseAddr("10.0.0.1"),
		}}
	}
	tests := []struct {
		name   string
		spec   func(*Spec)
		is     error  // errors.Is target
		text   string // in Error()
		kernel bool   // the kernel (not validation) refuses it: Message set
	}{
		{name: "missing local", spec: func(s *Spec) { s.AMT.Local = netip.Addr{} }, text: "local: missing"},
		{name: "name too long", spec: func(s *Spec) { s.Name = "amt-gateway-long" }, text: "name \"amt-gateway-long\""},
		{name: "unknown dev", spec: func(s *Spec) { s.Dev = "eth9" }, is: os.ErrNotExist,
			text: `create amtg: dev "eth9" not found in this namespace`},
		{name: "unknown master", spec: func(s *Spec) { s.Master = "br9" }, is: os.ErrNotExist,
			text: `master "br9" not found`},
		{name: "loopback lower device", spec: func(s *Spec) { s.Dev = "lo" }, is: unix.EINVAL,
			text: "Invalid stream device type", kernel: true},
		{name: "master that takes no ports", spec: func(s *Spec) { s.Master = "vethb" }, is: ErrNotSupported,
			text: `master "vethb" cannot take ports`},
		{name: "mtu above the lower device", spec: func(s *Spec) { s.MTU = 9000 }, is: unix.EINVAL, kernel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.spec(&s)
			_, err := n.c.Create(s)
			if err == nil {
				n.c.Delete(s.Name)
				t.Fatal("Create succeeded")
			}
			t.Logf("error: %v", err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if tt.text != "" && !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not contain %q", err, tt.text)
			}
			if tt.kernel && e.Message == "" {
				t.Errorf("kernel refusal without the kernel's message: %v", err)
			}
			if tt.kernel && !strings.Contains(err.Error(), e.Message) {
				t.Errorf("error %q does not show the kernel's message %q", err, e.Message)
			}
			n.requireNoAMTLinks(t, "after failed Create")
		})
	}

	t.Run("exists", func(t *testing.T) {
		if _, err := n.c.Create(good()); err != nil {
			t.Fatalf("Create: %v", err)
		}
		_, err := n.c.Create(good())
		if !errors.Is(err, os.ErrExist) || err.Error() != `create amtg: a link named "amtg" already exists` {
			t.Errorf("second Create = %v, want os.ErrExist with a clear message", err)
		}
		links, err := n.c.List()
		if err != nil || len(links) != 1 {
			t.Fatalf("List after EEXIST = %d links, %v; want the first link only", len(links), err)
		}
		if err := n.c.Delete("amtg"); err != nil {
			t.Fatal(err)
		}
		n.requireNoAMTLinks(t, "after Delete")
	})
}

// TestIntegrationNotAMT needs root but not the AMT driver.
func TestIntegrationNotAMT(t *testing.T) {
	testenv.RequireRoot(t)
	n := newTestNS(t)
	n.addVeth(t, "vetha", "vethb", n)

	_, err := n.c.Get("vetha")
	if want := "get vetha: vetha is a veth link, not amt"; err == nil || err.Error() != want {
		t.Errorf("Get(vetha) = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrNotAMT) {
		t.Errorf("Get(vetha): %v is not os.ErrNotExist and ErrNotAMT", err)
	}
	_, err = n.c.Get("lo")
	if !errors.Is(err, ErrNotAMT) {
		t.Errorf("Get(lo) = %v, want ErrNotAMT", err)
	}
	if err := n.c.Delete("vetha"); !errors.Is(err, ErrNotAMT) {
		t.Errorf("Delete(vetha) = %v, want ErrNotAMT", err)
	}
	n.index(t, "vetha") // still there
	_, err = n.c.Get("nope0")
	if want := `get nope0: link "nope0" not found in this namespace`; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Get(nope0) = %v, want %q (os.ErrNotExist)", err, want)
	}
	// Without an AMT driver the kernel ignores the kind filter of the
	// dump; List must still return only amt links.
	n.requireNoAMTLinks(t, "fresh namespace")

	spec := Spec{Name: "amtg", Dev: "eth9", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
	}}
	_, err = n.c.Create(spec)
	if want := `create amtg: dev "eth9" not found in this namespace`; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create with unknown dev = %v, want %q (os.ErrNotExist)", err, want)
	}

	if perr := testenv.ProbeAMT(); errors.Is(perr, testenv.ErrNoAMT) {
		spec.Dev = "vetha"
		_, err = n.c.Create(spec)
		if !errors.Is(err, ErrNoDriver) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Create without the AMT driver = %v, want ErrNoDriver", err)
		}
		t.Logf("kernel %s without AMT: %v", testenv.KernelRelease(), err)
	} else {
		t.Logf("kernel %s has AMT (probe: %v); the no-driver path is covered by TestErrors", testenv.KernelRelease(), perr)
	}
	n.requireNoAMTLinks(t, "after failed Creates")
}

// TestIntegrationNetNS: a Client dialled through NetNSFromPath, OpenNetNS (a
// name under /run/netns) or NetNSFromFD talks to that namespace.
func TestIntegrationNetNS(t *testing.T) {
	testenv.RequireRoot(t)
	n := newTestNS(t)
	n.addVeth(t, "nsprobe0", "nsprobe1", n)

	check := func(t *testing.T, ns *NetNS) {
		t.Helper()
		c, err := Dial(ns)
		if err != nil {
			t.Fatalf("Dial(%s): %v", ns, err)
		}
		defer c.Close()
		// nsprobe0 exists only in the test namespace: "not amt" proves
		// the client looked there.
		if _, err := c.Get("nsprobe0"); !errors.Is(err, ErrNotAMT) {
			t.Errorf("Get(nsprobe0) through %s = %v, want ErrNotAMT (found, a veth)", ns, err)
		}
	}

	t.Run("fd", func(t *testing.T) {
		ns := NetNSFromFD(int(n.f.Fd()))
		check(t, ns)
		if err := ns.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := n.f.Stat(); err != nil {
			t.Errorf("NetNSFromFD.Close closed the borrowed fd: %v", err)
		}
	})
	t.Run("path", func(t *testing.T) {
		ns, err := NetNSFromPath(testenv.NetNSPath(n.f))
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		check(t, ns)
	})
	t.Run("name", func(t *testing.T) {
		name := fmt.Sprintf("amtctl-test-%d", os.Getpid())
		target := filepath.Join(netnsRunDir, name)
		if _, err := os.Stat(netnsRunDir); errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(netnsRunDir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(netnsRunDir) })
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		t.Cleanup(func() { os.Remove(target) })
		// What `ip netns add` does: bind-mount the namespace file.
		if err := unix.Mount(testenv.NetNSPath(n.f), target, "none", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind mount: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
		ns, err := OpenNetNS(name)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		check(t, ns)

		// The same name after the mount is gone: a stale empty file.
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenNetNS(name); err == nil || !errors.Is(err, errNotNetNS) {
			t.Errorf("OpenNetNS of a stale /run/netns entry = %v, want %v", err, errNotNetNS)
		}
	})
	t.Run("current", func(t *testing.T) {
		c, err := Dial(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Get("nsprobe0"); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotAMT) {
			t.Errorf("Get(nsprobe0) in the current namespace = %v, want not found", err)
		}
	})
}

// TestIntegrationDiscovery: a relay and a gateway in two namespaces joined
// by a veth; the gateway discovers the relay, which shows as its Remote.
func TestIntegrationDiscovery(t *testing.T) {
	testenv.RequireAMT(t)
	relayNS, gwNS := newTestNS(t), newTestNS(t)
	relayNS.addVeth(t, "vr", "vg", gwNS)
	relayNS.addAddr(t, "vr", "10.0.0.1/24")
	gwNS.addAddr(t, "vg", "10.0.0.2/24")
	relayNS.up(t, "vr")
	gwNS.up(t, "vg")

	relay, err := relayNS.c.Create(Spec{Name: "amtr", Dev: "vr", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
	}})
	if err != nil {
		t.Fatalf("Create relay: %v", err)
	}
	gw, err := gwNS.c.Create(Spec{Name: "amtg", Dev: "vg", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
	}})
	if err != nil {
		t.Fatalf("Create gateway: %v", err)
	}
	if !relay.Up() || !gw.Up() {
		t.Fatalf("links not up after Create: relay %v gateway %v", relay.Up(), gw.Up())
	}

	const timeout, interval = 10 * time.Second, 50 * time.Millisecond
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		l, err := gwNS.c.Get("amtg")
		if err != nil {
			t.Fatalf("Get gateway: %v", err)
		}
		if l.AMT.Remote == relay.AMT.Local {
			t.Logf("gateway discovered relay %s after %v", l.AMT.Remote, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway has not discovered the relay within %v: remote %v, want %v (gateway %s)",
				timeout, l.AMT.Remote, relay.AMT.Local, l.AMT)
		}
		time.Sleep(interval)
	}
}

// TestIntegrationAdd: Add makes the link Create makes, with and without a
// master and an MTU, and fails as Create does.
func TestIntegrationAdd(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "vetha", "vethb", n)
	n.up(t, "vetha")
	n.addVRF(t, "vrf0", 10)
	for _, s := range []Spec{
		{Name: "amtr", Dev: "vetha", Up: true, AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"), MaxTunnels: ifla.Ptr[uint32](8)}},
		{Name: "amtg", Dev: "vetha", Master: "vrf0", MTU: 1400, AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
			RelayPort: ifla.Ptr[uint16](2300), GatewayPort: ifla.Ptr[uint16](2300)}},
	} {
		if err := n.c.Add(s); err != nil {
			t.Fatalf("Add %s: %v", s.Name, err)
		}
		added, err := n.c.Get(s.Name)
		if err != nil {
			t.Fatalf("Get %s after Add: %v", s.Name, err)
		}
		if err := n.c.Delete(s.Name); err != nil {
			t.Fatal(err)
		}
		created, err := n.c.Create(s)
		if err != nil {
			t.Fatalf("Create %s: %v", s.Name, err)
		}
		if diff := cmp.Diff(view(created), view(added)); diff != "" {
			t.Errorf("%s: Add made a different link than Create (-create +add):\n%s", s.Name, diff)
		}
		if added.MTU != created.MTU || (s.MTU != 0 && added.MTU != s.MTU) {
			t.Errorf("%s: mtu after Add %d, after Create %d, asked for %d", s.Name, added.MTU, created.MTU, s.MTU)
		}
		if err := n.c.Add(s); !errors.Is(err, os.ErrExist) {
			t.Errorf("Add %s again = %v, want os.ErrExist", s.Name, err)
		}
	}
	bad := Spec{Name: "amtx", Dev: "nosuch", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1")}}
	if err := n.c.Add(bad); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Add with a missing dev = %v, want os.ErrNotExist", err)
	}
}

// TestIntegrationRawPath drives Create's and Add's own request and reply
// path (one write(2), recvfrom, the acknowledgement's errno and extack)
// against the running kernel, with or without the AMT driver. Without it,
// the refusal must come back as ErrNoDriver with the kernel's message; with
// it, the links are made and a second Add gives os.ErrExist. Needs root
// only, so it also runs on a host whose kernel lacks the driver.
func TestIntegrationRawPath(t *testing.T) {
	testenv.RequireRoot(t)
	n := newTestNS(t)
	n.addVeth(t, "d0", "d1", n) // veth: hosts without the dummy module have it
	s := Spec{Name: "amtr", Dev: "d0", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1")}}
	err := n.c.Add(s)
	if errors.Is(err, ErrNoDriver) {
		var e *Error
		if !errors.As(err, &e) || e.Message != unknownKindMsg || !errors.Is(err, unix.EOPNOTSUPP) {
			t.Errorf("Add without the driver: %#v, want ErrNoDriver, EOPNOTSUPP and the message %q", err, unknownKindMsg)
		}
		if _, err := n.c.Create(s); !errors.Is(err, ErrNoDriver) {
			t.Errorf("Create without the driver: %v, want ErrNoDriver", err)
		}
		t.Logf("kernel %s has no AMT driver; its refusal came back as: %v", testenv.KernelRelease(), err)
		return
	}
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := n.c.Add(s); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Add: %v, want os.ErrExist", err)
	}
	s.Name = "amtr2"
	if l, err := n.c.Create(s); err != nil || l.Name != "amtr2" || l.LowerName != "d0" {
		t.Errorf("Create after Add = %+v, %v", l, err)
	}
}

// TestIntegrationAlias checks what Spec.Alias's documentation says of the
// running kernel: an IFLA_IFALIAS in the create request itself is ignored
// (so Create cannot save the second request), and Create, Add and Set set
// the alias all the same.
func TestIntegrationAlias(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "vetha", "vethb", n)
	alias := "amtctl:driad=198.51.100.12"
	lower := n.index(t, "vetha")
	err := n.rt.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
		Name: "amtraw", Alias: &alias, Info: &rtnetlink.LinkInfo{Kind: Kind, Data: &Driver{AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"), Link: &lower}}}}})
	if err != nil {
		t.Fatalf("create with IFLA_IFALIAS: %v", err)
	}
	raw, err := n.c.Get("amtraw")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s: IFLA_IFALIAS in the create request gave alias %q", testenv.KernelRelease(), raw.Alias)
	if raw.Alias != "" {
		t.Errorf("this kernel applies IFLA_IFALIAS at creation (alias %q): Create could send it in the create request instead of a second one", raw.Alias)
	}
	s := Spec{Name: "amtg", Dev: "vetha", Alias: alias, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1")}}
	l, err := n.c.Create(s)
	if err != nil || l.Alias != alias {
		t.Fatalf("Create = %+v, %v; want alias %q", l, err, alias)
	}
	s.Name = "amtg2"
	if err := n.c.Add(s); err != nil {
		t.Fatal(err)
	}
	if l, err := n.c.Get("amtg2"); err != nil || l.Alias != alias {
		t.Errorf("after Add: %+v, %v; want alias %q", l, err, alias)
	}
	if l, err := n.c.Set("amtg", Change{Alias: ifla.Ptr("")}); err != nil || l.Alias != "" {
		t.Errorf("Set alias \"\" = %+v, %v; want no alias", l, err)
	}
}
