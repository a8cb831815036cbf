//go:build linux

package amtmetrics

import (
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sys/unix"
)

// clientSource is an *amtlink.Client as a Source, counting its Lists.
type clientSource struct {
	*amtlink.Client
	lists atomic.Int64
}

func (c *clientSource) List() ([]amtlink.Link, error) {
	c.lists.Add(1)
	return c.Client.List()
}

func (c *clientSource) NetNSGone() bool { return false }

// BenchmarkIntegrationScrape1000 is one scrape (scrape: gathered and written
// as text; list: the kernel's dump alone) of a namespace with 1,000 gateway links on one veth, on the real
// kernel (root and the AMT driver; in the VM: scripts/vm -k 6.12 --
// ./amtmetrics.test -test.run '^$' -test.bench Integration). lists/op is
// the Lists per scrape.
func BenchmarkIntegrationScrape1000(b *testing.B) {
	testenv.RequireAMT(b)
	ns := testenv.NewNetNS(b)
	rt, err := rtnetlink.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: "va", Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{
			PeerInfo: &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{Name: "vb"}},
		}}},
	}); err != nil {
		b.Fatal(err)
	}
	c, err := amtlink.Dial(amtlink.NetNSFromFD(int(ns.Fd())))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range 1000 {
		if err := c.Add(amtlink.Spec{Name: fmt.Sprintf("amtg%d", i), Dev: "va", AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
		}}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("created 1,000 amt links in %v", time.Since(start).Round(time.Millisecond))
	src := &clientSource{Client: c}
	col, err := New(Options{Open: func(string) (Source, error) { return src, nil }, PollInterval: time.Second, Recheck: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer col.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	// list: the kernel's part alone, the dump and its decoding.
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if links, err := src.Client.List(); err != nil || len(links) != 1000 {
				b.Fatalf("List: %d links, %v", len(links), err)
			}
		}
	})
	// scrape: what /metrics costs, gathered and written as text.
	b.Run("scrape", func(b *testing.B) {
		src.lists.Store(0)
		b.ReportAllocs()
		for b.Loop() {
			mfs, err := reg.Gather()
			if err != nil {
				b.Fatal(err)
			}
			enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
			n := 0
			for _, mf := range mfs {
				n += len(mf.GetMetric())
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
			if n < 11000 {
				b.Fatalf("a scrape of 1,000 links gave %d samples, want 11 per link (8 counters, up, info, relay known) and more", n)
			}
		}
		b.ReportMetric(float64(src.lists.Load())/float64(b.N), "lists/op")
	})
}
