//go:build linux

package amtlink

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Byte literals below are little-endian (native u32 fields of ifinfomsg and
// of the attributes).
func skipBigEndian(tb testing.TB) {
	tb.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		tb.Skip("golden bytes are little-endian; this machine is big-endian")
	}
}

// baseLinks is a small namespace: lo, a veth eth0 (the lower device) and a
// bridge br0 (the master).
func baseLinks() []fakeLink {
	return []fakeLink{
		{index: 1, name: "lo", flags: unix.IFF_UP | unix.IFF_LOOPBACK, mtu: 65536},
		{index: 2, name: "eth0", kind: "veth", flags: unix.IFF_UP, mtu: 1500},
		{index: 3, name: "br0", kind: "bridge", flags: unix.IFF_UP, mtu: 1500},
	}
}

func gatewaySpec() Spec {
	return Spec{
		Name:   "amtg",
		Dev:    "eth0",
		Master: "br0",
		MTU:    1400,
		Up:     true,
		AMT: ifla.AMT{
			Mode:        ifla.Ptr(ifla.ModeGateway),
			RelayPort:   ifla.Ptr[uint16](2269),
			GatewayPort: ifla.Ptr[uint16](2269),
			Local:       netip.MustParseAddr("10.0.0.2"),
			Discovery:   netip.MustParseAddr("10.0.0.1"),
		},
	}
}

type wantReq struct {
	typ   netlink.HeaderType
	flags netlink.HeaderFlags
	data  []byte // nil: not compared
}

func checkReqs(t *testing.T, got []netlink.Message, want []wantReq) {
	t.Helper()
	if len(got) != len(want) {
		var types []string
		for _, m := range got {
			types = append(types, m.Header.Type.String())
		}
		t.Fatalf("kernel saw %d requests %v, want %d", len(got), types, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Header.Type != w.typ || g.Header.Flags != w.flags {
			t.Errorf("request %d: type %d flags %s, want type %d flags %s", i, g.Header.Type, g.Header.Flags, w.typ, w.flags)
		}
		if w.data != nil {
			if diff := cmp.Diff(w.data, g.Data); diff != "" {
				t.Errorf("request %d bytes (-want +got):\n%s", i, diff)
			}
		}
	}
}

// getByName is the request of a lookup by name: an empty ifinfomsg (index
// 0) and IFLA_IFNAME.
func getByName(name string) []byte {
	b := make([]byte, 16)
	n := len(name) + 1
	attr := []byte{byte(4 + n), 0, unix.IFLA_IFNAME, 0}
	attr = append(attr, name...)
	attr = append(attr, 0)
	for len(attr)%4 != 0 {
		attr = append(attr, 0)
	}
	return append(b, attr...)
}

func getByIndex(i uint32) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[4:], i)
	return b
}

// skipStats is IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS, sent with the name
// and index lookups of other devices.
var skipStats = []byte{8, 0, 0x1d, 0, 8, 0, 0, 0}

func lookupByName(name string) []byte { return append(getByName(name), skipStats...) }
func lookupByIndex(i uint32) []byte   { return append(getByIndex(i), skipStats...) }

const (
	reqFlags    = netlink.Request
	createFlags = netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge
	ackFlags    = netlink.Request | netlink.Acknowledge
	dumpFlags   = netlink.Request | netlink.Dump
)

func TestCreateRequest(t *testing.T) {
	skipBigEndian(t)
	k := newFakeKernel(t, baseLinks()...)
	k.keepMTU = true
	c := k.client()

	got, err := c.Create(gatewaySpec())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	create := []byte{
		// ifinfomsg: family 0, type 0, index 0, flags IFF_UP, change IFF_UP
		0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
		// IFLA_IFNAME "amtg"
		9, 0, 3, 0, 'a', 'm', 't', 'g', 0, 0, 0, 0,
		// IFLA_MTU 1400
		8, 0, 4, 0, 0x78, 0x05, 0, 0,
		// IFLA_LINKINFO (64 bytes)
		64, 0, 18, 0,
		/**/ 8, 0, 1, 0, 'a', 'm', 't', 0, // IFLA_INFO_KIND "amt"
		/**/ 52, 0, 2, 0x80, // IFLA_INFO_DATA | NLA_F_NESTED
		/*    */ 8, 0, 1, 0, 0, 0, 0, 0, // IFLA_AMT_MODE gateway
		/*    */ 8, 0, 5, 0, 10, 0, 0, 2, // IFLA_AMT_LOCAL_IP 10.0.0.2
		/*    */ 8, 0, 7, 0, 10, 0, 0, 1, // IFLA_AMT_DISCOVERY_IP 10.0.0.1
		/*    */ 8, 0, 4, 0, 2, 0, 0, 0, // IFLA_AMT_LINK 2 (eth0)
		/*    */ 6, 0, 3, 0, 0x08, 0xdd, 0, 0, // IFLA_AMT_GATEWAY_PORT 2269, big-endian
		/*    */ 6, 0, 2, 0, 0x08, 0xdd, 0, 0, // IFLA_AMT_RELAY_PORT 2269, big-endian
		// IFLA_MASTER 3 (br0)
		8, 0, 10, 0, 3, 0, 0, 0,
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_GETLINK, reqFlags, lookupByName("br0")},
		{unix.RTM_NEWLINK, createFlags, create},
		{unix.RTM_GETLINK, reqFlags, getByName("amtg")},
	})

	want := &Link{
		Index: 100, Name: "amtg", MTU: 1400, Flags: unix.IFF_UP | unix.IFF_POINTOPOINT | unix.IFF_NOARP,
		Master: "br0", LowerName: "eth0",
		AMT: ifla.AMT{
			Mode:        ifla.Ptr(ifla.ModeGateway),
			RelayPort:   ifla.Ptr[uint16](2269),
			GatewayPort: ifla.Ptr[uint16](2269),
			Link:        ifla.Ptr[uint32](2),
			Local:       netip.MustParseAddr("10.0.0.2"),
			Discovery:   netip.MustParseAddr("10.0.0.1"),
			MaxTunnels:  ifla.Ptr(ifla.DefaultMaxTunnels),
		},
		Stats: &rtnetlink.LinkStats64{RXPackets: 42},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Create returned (-want +got):\n%s", diff)
	}
	if !got.Up() {
		t.Error("Up() = false for a link created with Up")
	}
}

// TestCreateMTUFixup: amt_newlink overwrites IFLA_MTU with the lower
// device's MTU minus the headers, so Create sets the MTU again and reads
// the link back.
func TestCreateMTUFixup(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	l, err := c.Create(gatewaySpec())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if l.MTU != 1400 {
		t.Errorf("MTU = %d, want 1400", l.MTU)
	}
	setMTU := make([]byte, 16)
	binary.NativeEndian.PutUint32(setMTU[4:], 100)
	setMTU = append(setMTU, 8, 0, unix.IFLA_MTU, 0)
	setMTU = binary.NativeEndian.AppendUint32(setMTU, 1400)
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_GETLINK, reqFlags, lookupByName("br0")},
		{unix.RTM_NEWLINK, createFlags, nil},
		{unix.RTM_GETLINK, reqFlags, getByName("amtg")},
		{unix.RTM_NEWLINK, ackFlags, setMTU},
		{unix.RTM_GETLINK, reqFlags, getByName("amtg")},
	})
}

// TestCreateUndo: whatever fails after the kernel made the link, the link
// is deleted again.
func TestCreateUndo(t *testing.T) {
	tests := []struct {
		name    string
		mtu     uint32
		fail    func(req netlink.Message, lm *rtnetlink.LinkMessage) (unix.Errno, string)
		wantMsg string
	}{
		{
			name: "mtu above the device maximum",
			mtu:  9000,
			// the fake refuses > 1456 like dev_validate_mtu
			wantMsg: "mtu greater than device maximum",
		},
		{
			name: "read back fails",
			fail: func(req netlink.Message, lm *rtnetlink.LinkMessage) (unix.Errno, string) {
				if req.Header.Type == unix.RTM_GETLINK && lm.Attributes != nil && lm.Attributes.Name == "amtg" {
					return unix.ENOBUFS, ""
				}
				return 0, ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, baseLinks()...)
			k.fail = tt.fail
			c := k.client()
			s := gatewaySpec()
			s.MTU = tt.mtu
			if _, err := c.Create(s); err == nil {
				t.Fatal("Create succeeded, want an error")
			} else if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not show the kernel's %q", err, tt.wantMsg)
			}
			if len(k.reqs) == 0 {
				t.Fatal("no requests sent")
			}
			last := k.reqs[len(k.reqs)-1]
			if last.Header.Type != unix.RTM_DELLINK {
				t.Errorf("last request is type %d, want RTM_DELLINK (the undo)", last.Header.Type)
			}
			for _, l := range k.links {
				if l.name == "amtg" {
					t.Errorf("half-made link amtg left behind")
				}
			}
		})
	}
}

func TestGetRequest(t *testing.T) {
	skipBigEndian(t)
	relay := ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), RelayPort: ifla.Ptr(ifla.DefaultPort), GatewayPort: ifla.Ptr(ifla.DefaultPort),
		Link: ifla.Ptr[uint32](2), Local: netip.MustParseAddr("10.0.0.1"), Discovery: netip.IPv4Unspecified(),
		MaxTunnels: ifla.Ptr[uint32](16),
	}
	k := newFakeKernel(t, append(baseLinks(), fakeLink{index: 7, name: "amtr", kind: Kind, mtu: 1456, master: 3, amt: &relay})...)
	c := k.client()
	got, err := c.Get("amtr")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, getByName("amtr")},
		{unix.RTM_GETLINK, reqFlags, lookupByIndex(3)}, // master
		{unix.RTM_GETLINK, reqFlags, lookupByIndex(2)}, // lower device
	})
	want := &Link{Index: 7, Name: "amtr", MTU: 1456, Master: "br0", LowerName: "eth0", AMT: relay,
		Stats: &rtnetlink.LinkStats64{RXPackets: 42}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
}

func TestGetNotAMT(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	for _, tt := range []struct{ name, want string }{
		{"eth0", "get eth0: eth0 is a veth link, not amt"},
		{"lo", "get lo: lo is not an amt link (it has no link kind: a physical or loopback device?)"},
	} {
		_, err := c.Get(tt.name)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Get(%q) = %v, want %q", tt.name, err, tt.want)
		}
		if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrNotAMT) {
			t.Errorf("Get(%q): error %v is not os.ErrNotExist and ErrNotAMT", tt.name, err)
		}
	}
	_, err := c.Get("nope")
	if want := `get nope: link "nope" not found in this namespace`; err == nil || err.Error() != want {
		t.Errorf("Get(nope) = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, unix.ENODEV) {
		t.Errorf("Get(nope): %v is not os.ErrNotExist/ENODEV", err)
	}
}

func amtLink(index uint32, name string, lower uint32) fakeLink {
	return fakeLink{index: index, name: name, kind: Kind, mtu: 1456, amt: &ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), RelayPort: ifla.Ptr(ifla.DefaultPort), GatewayPort: ifla.Ptr(ifla.DefaultPort),
		Link: ifla.Ptr(lower), Local: netip.MustParseAddr("10.0.0.1"), Discovery: netip.IPv4Unspecified(),
		MaxTunnels: ifla.Ptr(ifla.DefaultMaxTunnels),
	}}
}

func TestListRequest(t *testing.T) {
	skipBigEndian(t)
	// Out of index order, with unrelated links in between, and two amt
	// links on the same lower device.
	links := append(baseLinks(),
		amtLink(12, "amt2", 2),
		fakeLink{index: 9, name: "veth9", kind: "veth", mtu: 1500},
		amtLink(10, "amt1", 2),
		amtLink(11, "amt3", 42), // lower device gone
	)
	for _, noAMT := range []bool{false, true} {
		k := newFakeKernel(t, links...)
		k.noAMT = noAMT // a kernel that ignores the kind filter
		c := k.client()
		got, err := c.List()
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var names []string
		for _, l := range got {
			names = append(names, l.Name+"@"+l.LowerName)
		}
		if diff := cmp.Diff([]string{"amt1@eth0", "amt3@", "amt2@eth0"}, names); diff != "" {
			t.Errorf("noAMT=%v: List (-want +got):\n%s", noAMT, diff)
		}
		dump := []byte{
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			12, 0, 18, 0, // IFLA_LINKINFO
			/**/ 8, 0, 1, 0, 'a', 'm', 't', 0, // IFLA_INFO_KIND "amt"
		}
		// One dump, then one lookup per distinct referenced index.
		checkReqs(t, k.reqs, []wantReq{
			{unix.RTM_GETLINK, dumpFlags, dump},
			{unix.RTM_GETLINK, reqFlags, lookupByIndex(2)},
			{unix.RTM_GETLINK, reqFlags, lookupByIndex(42)},
		})
	}

	k := newFakeKernel(t, baseLinks()...)
	got, err := k.client().List()
	if err != nil || len(got) != 0 || got == nil {
		t.Errorf("List with no amt links = %#v, %v; want empty non-nil slice, nil", got, err)
	}
}

func TestDeleteRequest(t *testing.T) {
	skipBigEndian(t)
	k := newFakeKernel(t, append(baseLinks(), amtLink(7, "amtr", 2))...)
	c := k.client()
	if err := c.Delete("amtr"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, getByName("amtr")},
		{unix.RTM_DELLINK, ackFlags, getByIndex(7)},
	})
	if err := c.Delete("amtr"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second Delete = %v, want os.ErrNotExist", err)
	}

	k = newFakeKernel(t, baseLinks()...)
	c = k.client()
	err := c.Delete("eth0")
	if want := "delete eth0: eth0 is a veth link, not amt; refusing to delete it"; err == nil || err.Error() != want {
		t.Errorf("Delete(eth0) = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNotAMT) {
		t.Errorf("Delete(eth0): %v is not ErrNotAMT", err)
	}
	checkReqs(t, k.reqs, []wantReq{{unix.RTM_GETLINK, reqFlags, getByName("eth0")}})
	if len(k.links) != 3 {
		t.Errorf("links after refused delete: %d, want 3", len(k.links))
	}
}

// TestErrors runs one table of kernel errors across every method and checks
// the errors.Is contract and the kernel's message.
func TestErrors(t *testing.T) {
	methods := []struct {
		name string
		// failOn picks the request that gets the error.
		failOn netlink.HeaderType
		call   func(c *client) error
	}{
		{"create", unix.RTM_NEWLINK, func(c *client) error { _, err := c.Create(gatewaySpec()); return err }},
		{"get", unix.RTM_GETLINK, func(c *client) error { _, err := c.Get("amtr"); return err }},
		{"list", unix.RTM_GETLINK, func(c *client) error { _, err := c.List(); return err }},
		{"delete", unix.RTM_DELLINK, func(c *client) error { return c.Delete("amtr") }},
	}
	errs := []struct {
		errno  unix.Errno
		extack string
		is     []error
		isNot  []error
		text   string // expected in Error() (after "op name: ")
	}{
		{errno: unix.EPERM, is: []error{os.ErrPermission, unix.EPERM}, isNot: []error{os.ErrExist, os.ErrNotExist},
			text: "permission denied: needs root or CAP_NET_ADMIN"},
		{errno: unix.EACCES, is: []error{os.ErrPermission}, isNot: []error{os.ErrNotExist},
			text: "permission denied: needs root or CAP_NET_ADMIN"},
		{errno: unix.EEXIST, is: []error{os.ErrExist, unix.EEXIST}, isNot: []error{os.ErrNotExist, os.ErrPermission}},
		{errno: unix.ENODEV, is: []error{os.ErrNotExist, unix.ENODEV}, isNot: []error{os.ErrExist}},
		{errno: unix.ENOENT, is: []error{os.ErrNotExist}, isNot: []error{os.ErrExist}},
		{errno: unix.EOPNOTSUPP, extack: "Unknown device type", is: []error{unix.EOPNOTSUPP, errors.ErrUnsupported},
			isNot: []error{os.ErrNotExist}, text: "Unknown device type"},
		{errno: unix.EINVAL, extack: "Invalid Local address", is: []error{unix.EINVAL},
			isNot: []error{os.ErrNotExist, os.ErrExist, os.ErrPermission, ErrNoDriver},
			text:  "kernel: Invalid Local address (invalid argument)"},
	}
	for _, m := range methods {
		for _, e := range errs {
			t.Run(m.name+"/"+e.errno.Error(), func(t *testing.T) {
				k := newFakeKernel(t, append(baseLinks(), amtLink(7, "amtr", 2))...)
				k.fail = func(req netlink.Message, lm *rtnetlink.LinkMessage) (unix.Errno, string) {
					if req.Header.Type == m.failOn {
						return e.errno, e.extack
					}
					return 0, ""
				}
				err := m.call(k.client())
				if err == nil {
					t.Fatal("no error")
				}
				var ae *Error
				if !errors.As(err, &ae) {
					t.Fatalf("%v (%T) is not an *Error", err, err)
				}
				if ae.Op != m.name || ae.Message != e.extack {
					t.Errorf("Op %q Message %q, want %q %q", ae.Op, ae.Message, m.name, e.extack)
				}
				for _, target := range e.is {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(%v, %v) = false", err, target)
					}
				}
				for _, target := range e.isNot {
					if errors.Is(err, target) {
						t.Errorf("errors.Is(%v, %v) = true", err, target)
					}
				}
				if e.errno == unix.EOPNOTSUPP {
					wantDriver := m.name == "create"
					if errors.Is(err, ErrNoDriver) != wantDriver || errors.Is(err, ErrNotSupported) == wantDriver {
						t.Errorf("%v: ErrNoDriver %v ErrNotSupported %v, want ErrNoDriver only on create",
							err, errors.Is(err, ErrNoDriver), errors.Is(err, ErrNotSupported))
					}
				}
				s := err.Error()
				if e.text != "" && !strings.Contains(s, e.text) {
					t.Errorf("Error() = %q, want it to contain %q", s, e.text)
				}
				if e.extack != "" && !strings.Contains(s, e.extack) {
					t.Errorf("Error() = %q does not show the kernel's message", s)
				}
				if strings.Contains(s, "\n") || !strings.HasPrefix(s, m.name) {
					t.Errorf("Error() = %q, want one line starting with %q", s, m.name)
				}
			})
		}
	}
}

func TestCreateErrorText(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(7, "amtg", 2))...)
	c := k.client()
	_, err := c.Create(gatewaySpec())
	if want := `create amtg: a link named "amtg" already exists`; err == nil || err.Error() != want {
		t.Errorf("Create over an existing link = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("%v is not os.ErrExist", err)
	}

	k = newFakeKernel(t, baseLinks()...)
	k.noAMT = true
	_, err = k.client().Create(gatewaySpec())
	if want := "create amtg: kernel has no AMT driver (modprobe amt, or build with CONFIG_AMT) (kernel: Unknown device type)"; err == nil || err.Error() != want {
		t.Errorf("Create without driver = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Errorf("%v is not ErrNoDriver", err)
	}

	k = newFakeKernel(t, baseLinks()...)
	s := gatewaySpec()
	s.Master = "eth0"
	s.Dev = "br0"
	_, err = k.client().Create(s)
	if want := `create amtg: operation not supported by the kernel: master "eth0" cannot take ports (use a bridge, bond or VRF)`; err == nil || err.Error() != want {
		t.Errorf("Create with a veth master = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNotSupported) || errors.Is(err, ErrNoDriver) || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("%v: want ErrNotSupported and EOPNOTSUPP, not ErrNoDriver", err)
	}

	for _, tt := range []struct {
		field string
		spec  func(*Spec)
		want  string
	}{
		{"dev", func(s *Spec) { s.Dev = "eth9" }, `create amtg: dev "eth9" not found in this namespace`},
		{"master", func(s *Spec) { s.Master = "br9" }, `create amtg: master "br9" not found in this namespace`},
	} {
		k = newFakeKernel(t, baseLinks()...)
		s := gatewaySpec()
		tt.spec(&s)
		_, err = k.client().Create(s)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Create with unknown %s = %v, want %q", tt.field, err, tt.want)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v is not os.ErrNotExist", err)
		}
		for _, r := range k.reqs {
			if r.Header.Type != unix.RTM_GETLINK {
				t.Errorf("unknown %s: request type %d sent, want only lookups", tt.field, r.Header.Type)
			}
		}
	}
}

// TestCreateValidation: bad input is refused with one line naming the field,
// and nothing at all is sent.
func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name  string
		spec  func(*Spec)
		field string
	}{
		{"no name", func(s *Spec) { s.Name = "" }, "name"},
		{"long name", func(s *Spec) { s.Name = "amt-gateway-0123" }, "name"},
		{"slash", func(s *Spec) { s.Name = "amt/0" }, "name"},
		{"space", func(s *Spec) { s.Name = "amt 0" }, "name"},
		{"tab", func(s *Spec) { s.Name = "amt\t0" }, "name"},
		{"dot", func(s *Spec) { s.Name = "." }, "name"},
		{"dotdot", func(s *Spec) { s.Name = ".." }, "name"},
		{"colon", func(s *Spec) { s.Name = "amt:0" }, "name"},
		{"template", func(s *Spec) { s.Name = "amt%d" }, "name"},
		{"no dev", func(s *Spec) { s.Dev = "" }, "dev"},
		{"dev and link", func(s *Spec) { s.AMT.Link = ifla.Ptr[uint32](2) }, "dev"},
		{"bad dev name", func(s *Spec) { s.Dev = "eth/0" }, "dev"},
		{"dev is itself", func(s *Spec) { s.Dev = "amtg" }, "dev"},
		{"bad master", func(s *Spec) { s.Master = "a very long bridge name" }, "master"},
		{"master is itself", func(s *Spec) { s.Master = "amtg" }, "master"},
		{"mtu low", func(s *Spec) { s.MTU = 67 }, "mtu"},
		{"mtu high", func(s *Spec) { s.MTU = 65536 }, "mtu"},
		{"no mode", func(s *Spec) { s.AMT.Mode = nil }, "mode"},
		{"bad mode", func(s *Spec) { s.AMT.Mode = ifla.Ptr[ifla.Mode](7) }, "mode"},
		{"no local", func(s *Spec) { s.AMT.Local = netip.Addr{} }, "local"},
		{"ipv6 local", func(s *Spec) { s.AMT.Local = netip.MustParseAddr("ff02::1") }, "local"},
		{"multicast local", func(s *Spec) { s.AMT.Local = netip.MustParseAddr("239.1.1.1") }, "local"},
		{"no discovery", func(s *Spec) { s.AMT.Discovery = netip.Addr{} }, "discovery"},
		{"port 0", func(s *Spec) { s.AMT.GatewayPort = ifla.Ptr[uint16](0) }, "gateway_port"},
		{"ports differ", func(s *Spec) { s.AMT.GatewayPort = ifla.Ptr[uint16](2268) }, "gateway_port"},
		{"max_tunnels on gateway", func(s *Spec) { s.AMT.MaxTunnels = ifla.Ptr[uint32](4) }, "max_tunnels"},
		{"remote", func(s *Spec) { s.AMT.Remote = netip.MustParseAddr("10.0.0.9") }, "remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, baseLinks()...)
			c := k.client()
			s := gatewaySpec()
			tt.spec(&s)
			_, err := c.Create(s)
			var fe *ifla.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Create = %v, want an *ifla.FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || fe.Fix == "" {
				t.Errorf("error %q: want one line with a fix", msg)
			}
			if len(k.reqs) != 0 {
				t.Errorf("%d requests sent for invalid input, want none", len(k.reqs))
			}
		})
	}
}

func TestGetDeleteBadName(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	if _, err := c.Get(""); err == nil {
		t.Error("Get(\"\") succeeded")
	}
	if err := c.Delete("a/b"); err == nil {
		t.Error("Delete(a/b) succeeded")
	}
	if len(k.reqs) != 0 {
		t.Errorf("%d requests sent for invalid names, want none", len(k.reqs))
	}
}

// TestDecodeStrict: a malformed AMT attribute from the kernel is an error,
// not a silently half-decoded link (rtnetlink would swallow it).
func TestDecodeStrict(t *testing.T) {
	l := amtLink(7, "amtr", 2)
	b := encodeKernelLink(t, &l)
	// Corrupt: find IFLA_AMT_RELAY_PORT (6,0,2,0) and claim 3 bytes.
	i := strings.Index(string(b), "\x06\x00\x02\x00\x08\xdc")
	if i < 0 {
		t.Fatal("relay port attribute not found in fixture")
	}
	b[i] = 7
	_, err := decodeLink(b)
	if err == nil || !strings.Contains(err.Error(), "IFLA_AMT_RELAY_PORT") {
		t.Errorf("decodeLink(corrupt) = %v, want an error naming IFLA_AMT_RELAY_PORT", err)
	}
}

func TestIsAMTMessage(t *testing.T) {
	for _, tt := range []struct {
		l    fakeLink
		want bool
	}{
		{amtLink(7, "amtr", 2), true},
		{fakeLink{index: 2, name: "eth0", kind: "veth"}, false},
		{fakeLink{index: 1, name: "lo"}, false},
		{fakeLink{index: 3, name: "amtx", kind: "amtx"}, false},
	} {
		b := encodeKernelLink(t, &tt.l)
		if got := isAMTMessage(b); got != tt.want {
			t.Errorf("isAMTMessage(%s kind %q) = %v, want %v", tt.l.name, tt.l.kind, got, tt.want)
		}
		for i := range b { // truncated input never panics
			isAMTMessage(b[:i])
		}
	}
}

// TestDecodeMalformed: what rtnetlink's decoder silently drops (STYLE §5)
// is an error here.
func TestDecodeMalformed(t *testing.T) {
	hdr := make([]byte, 16)
	for _, tt := range []struct {
		name  string
		attrs []byte
	}{
		{"short IFLA_MTU", []byte{6, 0, unix.IFLA_MTU, 0, 1, 2, 0, 0}},
		{"attribute past the end", []byte{40, 0, unix.IFLA_IFNAME, 0, 'x', 0, 0, 0}},
		{"trailing bytes", []byte{8, 0, unix.IFLA_MTU, 0, 0xdc, 5, 0, 0, 1, 2}},
		{"linkinfo kind cut off", []byte{
			8, 0, unix.IFLA_MTU, 0, 0xdc, 5, 0, 0,
			12, 0, unix.IFLA_LINKINFO, 0, 9, 0, unix.IFLA_INFO_KIND, 0, 'a', 'm', 't', 0}},
	} {
		b := append(append([]byte(nil), hdr...), tt.attrs...)
		var lm rtnetlink.LinkMessage
		rtErr := lm.UnmarshalBinary(b)
		if _, err := decodeLink(b); err == nil {
			t.Errorf("%s: decodeLink succeeded (rtnetlink alone: %v)", tt.name, rtErr)
		}
	}
}
