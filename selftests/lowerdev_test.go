//go:build linux

package selftests

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// issueLowerDevOneUpper is the driver's handling of a lower device that
// goes away while several amt links sit on it.
const issueLowerDevOneUpper knownIssue = "deleting a lower device deletes only one of the amt links on it: " +
	"amt_device_event handles NETDEV_UNREGISTER for the first amt link amt_lookup_upper_dev finds, so the " +
	"others stay upper devices of the dying device (WARN_ON in unregister_netdevice_many_notify) and go one a " +
	"second, each time netdev_wait_allrefs_any rebroadcasts NETDEV_UNREGISTER, with rtnl held all along"

// lowerDevLinks is how many amt links (half gateways, half relays) the
// lower-device case puts on one device. The stock driver takes about a
// second for each link after the first, so five miss lowerDevBound by
// seconds; the fixed one deletes them in one batch, in a fraction of it
// even under TCG.
const lowerDevLinks = 5

// lowerDevBound is the issue's functional criterion: every amt link of a
// deleted lower device is gone within a second.
const lowerDevBound = time.Second

// lowerDevWave is the pause between two deletions that makes them separate
// waves: the stock driver's come about a second apart, one batch's within
// milliseconds.
const lowerDevWave = 400 * time.Millisecond

// lowerSuite is one namespace with a veth pair, lower0/lower1, and the
// kernel log from before it was built.
type lowerSuite struct {
	ns   *netns
	amt  *amtlink.Client
	kmsg *kmsgReader
}

var (
	lowerV4   = netip.MustParsePrefix("10.9.0.1/24")
	lowerPeer = netip.MustParseAddr("10.9.0.2")
)

func setupLowerSuite(t *testing.T) *lowerSuite {
	requireAMT(t)
	k, err := openKmsg()
	if err != nil {
		t.Fatalf("kernel log: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	n, err := openNetNS("lowerdev", testenv.NewNetNS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &lowerSuite{ns: n, amt: dialAMT(t, n), kmsg: k}
}

func TestIntegrationAMTLowerDevice(t *testing.T) {
	runSuite(t, setupLowerSuite,
		suiteCase[*lowerSuite]{"lower device deleted: all its amt links go at once", testLowerDeletedMany},
	)
}

// testLowerDeletedMany puts lowerDevLinks amt links, gateways and relays,
// on lower0 and deletes lower0 with one RTM_DELLINK. A subscription
// to the namespace's link notifications timestamps each amt link's
// RTM_DELLINK as it arrives. Every link must be gone within lowerDevBound
// of the request, and the kernel log must stay clean.
func testLowerDeletedMany(t *testing.T, s *lowerSuite) {
	expectIssue(t, issueLowerDevOneUpper)
	n := s.ns
	for _, err := range []error{
		n.addVeth("lower0", n, "lower1"),
		n.up("lower0", "lower1"),
		n.addAddr("lower0", lowerV4),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for i := range lowerDevLinks {
		// The links stay down: an up one's amt_dev_stop waits for a
		// grace period of its own, which adds to every driver's time
		// without touching the bug. Each has its own port anyway, in
		// case one is brought up (both modes bind relay_port then).
		port := ifla.Ptr(uint16(3001 + i))
		spec := amtlink.Spec{Name: fmt.Sprintf("amtg%d", i/2), Dev: "lower0",
			AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway), Local: lowerV4.Addr(), Discovery: lowerPeer,
				GatewayPort: port, RelayPort: port}}
		if i%2 == 1 {
			spec = amtlink.Spec{Name: fmt.Sprintf("amtr%d", i/2), Dev: "lower0",
				AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: lowerV4.Addr(), RelayPort: port}}
		}
		if err := s.amt.Add(spec); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		names = append(names, spec.Name)
	}

	// Timestamp every amt link's deletion as its notification arrives.
	type gone struct {
		name string
		at   time.Time
	}
	var mu sync.Mutex
	var dels []gone
	all := make(chan struct{})
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.amt.Subscribe(ctx, amtlink.SubscribeOptions{Ready: func() { close(ready) }}, func(nt amtlink.Notification) error {
			if nt.Type == amtlink.NotifyResync {
				return fmt.Errorf("link notifications were lost (receive buffer overrun): the deletion times are incomplete")
			}
			if nt.Type != amtlink.NotifyLinkDeleted || nt.Device.Kind != amtlink.Kind {
				return nil
			}
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			dels = append(dels, gone{nt.Device.Name, now})
			if len(dels) == len(names) {
				close(all)
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-subDone; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-subDone:
		t.Fatalf("%s: subscribing to link notifications: %v", n, err)
	}

	idx, err := n.index("lower0")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	delDone := make(chan error, 1)
	var delTook time.Duration
	go func() {
		err := n.rt.Link.Delete(idx)
		delTook = time.Since(start)
		delDone <- err
	}()
	// The stock driver needs about a second per link; allow for far more
	// before calling it stuck.
	waitAll := time.Duration(lowerDevLinks)*3*time.Second + 10*time.Second
	select {
	case <-all:
	case <-time.After(waitAll):
	}
	// The request returns once the kernel has let go of lower0 (rtnl's
	// netdev_run_todo), after every amt link on it is gone.
	select {
	case err := <-delDone:
		if err != nil {
			t.Fatalf("%s: delete lower0: %v", n, err)
		}
	case <-time.After(waitAll):
		t.Fatalf("%s: deleting lower0 has not returned after %v", n, waitAll)
	}

	mu.Lock()
	got := slices.Clone(dels)
	mu.Unlock()
	left, err := s.amt.List()
	if err != nil {
		t.Fatal(err)
	}
	lines, err := s.kmsg.read()
	if err != nil {
		t.Fatalf("reading the kernel log: %v", err)
	}
	trouble := troubleLines(lines)

	var report []string
	var last time.Duration
	waves := 0
	for i, d := range got {
		at := d.at.Sub(start)
		last = max(last, at)
		if i == 0 || d.at.Sub(got[i-1].at) >= lowerDevWave {
			waves++
		}
		report = append(report, fmt.Sprintf("%s %v", d.name, at.Round(time.Millisecond)))
	}
	t.Logf("lower0 with %d amt links deleted: RTM_DELLINK of each after %s; the request returned after %v; "+
		"%d deletion waves; kernel log: %d new lines, %d with trouble",
		len(names), strings.Join(report, ", "), delTook.Round(time.Millisecond), waves, len(lines), len(trouble))

	if len(left) > 0 || len(got) < len(names) {
		var l []string
		for _, k := range left {
			l = append(l, k.Name)
		}
		t.Fatalf("%d of %d amt links still exist (%v) and %d RTM_DELLINK arrived, %v after lower0 was deleted; kernel log:\n%s",
			len(left), len(names), l, len(got), time.Since(start).Round(time.Millisecond), strings.Join(trouble, "\n"))
	}
	switch {
	case last <= lowerDevBound && len(trouble) == 0:
		return
	case waves > 1:
		xfail(t, issueLowerDevOneUpper, fmt.Errorf("the %d amt links of lower0 went in %d waves, the last %v after the delete request "+
			"(bound %v): %s; the request returned after %v; the kernel logged %d trouble lines, the first: %q",
			len(names), waves, last.Round(time.Millisecond), lowerDevBound, strings.Join(report, ", "),
			delTook.Round(time.Millisecond), len(trouble), first(trouble)))
	case last > lowerDevBound:
		t.Fatalf("the %d amt links of lower0 went together but only %v after the delete request (bound %v): %s",
			len(names), last.Round(time.Millisecond), lowerDevBound, strings.Join(report, ", "))
	default:
		t.Fatalf("the amt links went at once (%s), but the kernel logged trouble (%d lines):\n%s",
			strings.Join(report, ", "), len(trouble), strings.Join(trouble, "\n"))
	}
}

// first returns lines[0], or "" for none.
func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}
