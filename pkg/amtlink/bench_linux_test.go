//go:build linux

package amtlink

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// cannedClient answers from replies recorded once from a fakeKernel, so the
// benchmarks measure the client's encode and decode work, not the fake's.
func cannedClient(b *testing.B, k *fakeKernel, warmup func(c *client)) *client {
	b.Helper()
	recorded := map[string][]netlink.Message{}
	rc, _ := testClient(b, func(reqs []netlink.Message) ([]netlink.Message, error) {
		msgs, err := k.serve(reqs)
		if err == nil && len(reqs) == 1 {
			recorded[string(reqs[0].Data)+fmt.Sprint(reqs[0].Header.Flags)] = msgs
		}
		return msgs, err
	})
	warmup(rc)

	c, _ := testClient(b, func(reqs []netlink.Message) ([]netlink.Message, error) {
		req := reqs[0]
		canned, ok := recorded[string(req.Data)+fmt.Sprint(req.Header.Flags)]
		if !ok {
			return nil, unix.ENOSYS
		}
		out := make([]netlink.Message, len(canned))
		copy(out, canned)
		for i := range out {
			out[i].Header.Sequence, out[i].Header.PID = req.Header.Sequence, req.Header.PID
		}
		return out, nil
	})
	return c
}

// BenchmarkGet: one lookup by name plus one by index each for the master
// and the lower device.
func BenchmarkGet(b *testing.B) {
	l := amtLink(7, "amtr", 2)
	l.master = 3
	k := newFakeKernel(b, append(baseLinks(), l)...)
	c := cannedClient(b, k, func(c *client) {
		if _, err := c.Get("amtr"); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get("amtr"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList: one filtered dump of n amt links on one lower device, plus
// one lookup for that device's name.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
			links := baseLinks()
			for i := range n {
				links = append(links, amtLink(uint32(10+i), fmt.Sprintf("amt%d", i), 2))
			}
			k := newFakeKernel(b, links...)
			c := cannedClient(b, k, func(c *client) {
				if _, err := c.List(); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportAllocs()
			for b.Loop() {
				got, err := c.List()
				if err != nil || len(got) != n {
					b.Fatalf("List = %d links, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkDecodeLink: decoding one RTM_NEWLINK of an amt link (rtnetlink's
// codec plus the checked AMT decode).
func BenchmarkDecodeLink(b *testing.B) {
	l := amtLink(7, "amtr", 2)
	msg := encodeKernelLink(b, &l)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := decodeLink(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntegrationResolve measures, against the running kernel, the two
// ways to turn the ifindexes a Link refers to (lower device, master) into
// names, in a namespace with 100 unrelated links: one RTM_GETLINK by index
// per referenced index (what the client does), or one unfiltered dump
// decoded into an index→name map. Needs root; no AMT driver.
func BenchmarkIntegrationResolve(b *testing.B) {
	testenv.RequireRoot(b)
	n := newTestNS(b)
	for i := range 50 {
		n.addVeth(b, fmt.Sprintf("va%d", i), fmt.Sprintf("vb%d", i), n)
	}
	idx := n.index(b, "va25")
	b.Run("lookup-by-index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, err := n.c.c.lookup("bench", "", idx, ""); err != nil || d.Name != "va25" {
				b.Fatalf("lookup = %+v, %v", d, err)
			}
		}
	})
	b.Run("unfiltered-dump", func(b *testing.B) {
		req, start := linkMsg(nil, unix.RTM_GETLINK, flagsDump, 0, 0, 0)
		nlwire.Finish(req, start)
		b.ReportAllocs()
		for b.Loop() {
			names := make(map[uint32]string)
			err := n.c.c.exchange(req, nil, func(m reply) error {
				r, err := decodeLink(m.data)
				if err == nil {
					names[r.index] = r.name
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if names[idx] != "va25" {
				b.Fatalf("dump: index %d is %q", idx, names[idx])
			}
		}
	})
}

// BenchmarkIntegrationList lists amt links in a namespace with 100
// unrelated links and 2 amt links: the kernel's kind filter keeps the dump
// small. Needs root and the AMT driver.
func BenchmarkIntegrationList(b *testing.B) {
	testenv.RequireAMT(b)
	n := newTestNS(b)
	for i := range 50 {
		n.addVeth(b, fmt.Sprintf("va%d", i), fmt.Sprintf("vb%d", i), n)
	}
	for i, mode := range []ifla.Mode{ifla.ModeGateway, ifla.ModeRelay} {
		s := Spec{Name: fmt.Sprintf("amt%d", i), Dev: fmt.Sprintf("va%d", i), AMT: ifla.AMT{
			Mode: ifla.Ptr(mode), Local: netip.MustParseAddr("10.0.0.2"),
		}}
		if mode == ifla.ModeGateway {
			s.AMT.Discovery = netip.MustParseAddr("10.0.0.1")
		}
		if _, err := n.c.Create(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		links, err := n.c.List()
		if err != nil || len(links) != 2 {
			b.Fatalf("List = %d, %v", len(links), err)
		}
	}
}

// BenchmarkIntegrationCreate creates one relay link per iteration against
// the running kernel, as a batch of adds does: the kernel's work plus the
// client's request, echo and decode. allocs/op is the client's share.
// Needs root and the AMT driver.
func BenchmarkIntegrationCreate(b *testing.B) {
	testenv.RequireAMT(b)
	n := newTestNS(b)
	if err := n.addLink(b, "d0", "dummy", nil); err != nil {
		b.Fatal(err)
	}
	local := netip.MustParseAddr("10.0.0.1")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		s := Spec{Name: fmt.Sprintf("b%d", i), Dev: "d0", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: local}}
		i++
		if _, err := n.c.Create(s); err != nil {
			b.Fatal(err)
		}
	}
}
