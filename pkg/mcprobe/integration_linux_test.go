//go:build linux

package mcprobe_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/mcprobe"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// vethPair returns two fresh namespaces joined by a veth pair, v0 in a
// (192.0.2.1/24 and 192.0.2.3/24) and v1 in b (192.0.2.2/24), both up.
func vethPair(t *testing.T) (a, b *os.File, v0, v1 int) {
	t.Helper()
	testenv.RequireRoot(t)
	a, b = testenv.NewNetNS(t), testenv.NewNetNS(t)
	ca, cb := dial(t, a), dial(t, b)
	if err := ca.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: "v0", Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{
			PeerInfo: &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
				Name: "v1", NetNS: rtnetlink.NetNSForFD(uint32(b.Fd())),
			}},
		}}},
	}); err != nil {
		t.Fatalf("create veth: %v", err)
	}
	v0 = upWithAddrs(t, ca, "v0", 1, 3)
	v1 = upWithAddrs(t, cb, "v1", 2)
	return a, b, v0, v1
}

func dial(t *testing.T, ns *os.File) *rtnetlink.Conn {
	t.Helper()
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// upWithAddrs gives name the addresses 192.0.2.N/24 and brings it up; it
// returns its index.
func upWithAddrs(t *testing.T, c *rtnetlink.Conn, name string, hosts ...byte) int {
	t.Helper()
	links, err := c.Link.List()
	if err != nil {
		t.Fatal(err)
	}
	var idx uint32
	for _, l := range links {
		if l.Attributes.Name == name {
			idx = l.Index
		}
	}
	for _, h := range hosts {
		ip := net.IPv4(192, 0, 2, h).To4()
		if err := c.Address.New(&rtnetlink.AddressMessage{
			Family: unix.AF_INET, PrefixLength: 24, Index: idx,
			Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip},
		}); err != nil {
			t.Fatalf("address on %s: %v", name, err)
		}
	}
	if err := c.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: idx, Flags: unix.IFF_UP, Change: unix.IFF_UP}); err != nil {
		t.Fatalf("up %s: %v", name, err)
	}
	return int(idx)
}

// TestIntegrationNamespaceSockets: in namespaces of their own, a Receiver
// joined (S,G) on v1 gets what a Sender sends out of v0 with Send, a
// ReportWatch sees the join's report leave v1, and a source it did not ask
// for is filtered out. Nothing here needs AMT.
func TestIntegrationNamespaceSockets(t *testing.T) {
	a, b, v0, v1 := vethPair(t)
	cfg, scfg := &mcprobe.Config{NetNS: int(b.Fd())}, &mcprobe.Config{NetNS: int(a.Fd())}
	group := netip.MustParseAddrPort("232.9.9.9:5001")
	src := netip.MustParseAddr("192.0.2.1")
	w, err := mcprobe.WatchReports(cfg, v1, group.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := mcprobe.Listen(cfg, group, v1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Join(src); err != nil {
		t.Fatal(err)
	}
	s, err := mcprobe.NewSender(scfg, group, mcprobe.SenderOptions{From: src, Ifindex: v0, TTL: 1, NoLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := mcprobe.NewSender(scfg, group, mcprobe.SenderOptions{From: netip.MustParseAddr("192.0.2.3"), Ifindex: v0, NoLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Write([]byte("from a source not joined")); err != nil {
		t.Fatal(err)
	}
	if _, err := mcprobe.Send(t.Context(), s, mcprobe.SendOptions{Session: 5, Size: 100, Count: 50}); err != nil {
		t.Fatal(err)
	}
	tr := mcprobe.NewTracker(time.Now())
	for {
		d, err := r.Read(time.Now().Add(time.Second))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.From.Addr() != src {
			t.Fatalf("a datagram from %s, which the (S,G) join did not ask for %q", d.From, d.Payload)
		}
		tr.Add(d.From.Addr(), d.Payload, d.At)
	}
	rep := tr.Report()
	if rep.Datagrams != 50 || rep.Received != 50 || rep.Lost != 0 || rep.Unnumbered != 0 || len(rep.Streams) != 1 || rep.Streams[0].Session != 5 {
		t.Fatalf("report %+v", rep)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w.Count() == 0 {
		t.Fatal("no IGMPv3 report for the group left v1 after the join")
	}
	t.Logf("50 of 50 received, %d reports seen leaving v1", w.Count())
}

// loopbackSender is a Sender to a group out of lo, looped back to no one:
// the kernel's cost of a datagram is its send alone. It skips where lo
// takes no multicast.
func loopbackSender(b *testing.B) *mcprobe.Sender {
	s, err := mcprobe.NewSender(nil, netip.MustParseAddrPort("239.255.77.1:5001"), mcprobe.SenderOptions{Ifindex: 1, NoLoopback: true})
	if err != nil {
		b.Skipf("no sender on lo: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Write(make([]byte, 64)); err != nil {
		b.Skipf("no multicast out of lo: %v", err)
	}
	return s
}

// BenchmarkSenderWrite is a 64-octet datagram per system call.
func BenchmarkSenderWrite(b *testing.B) {
	s := loopbackSender(b)
	p := make([]byte, 64)
	for b.Loop() {
		if err := s.Write(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSenderWriteBatch is mcprobe.MaxBatch 64-octet datagrams per
// system call (sendmmsg); ns/datagram compares with BenchmarkSenderWrite.
func BenchmarkSenderWriteBatch(b *testing.B) {
	s := loopbackSender(b)
	bs := make([][]byte, mcprobe.MaxBatch)
	for i := range bs {
		bs[i] = make([]byte, 64)
	}
	for b.Loop() {
		if _, err := s.WriteBatch(bs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bs)), "ns/datagram")
}
