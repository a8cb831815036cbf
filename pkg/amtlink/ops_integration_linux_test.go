//go:build linux

package amtlink

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/sys/unix"
)

// TestIntegrationSet changes up/down, mtu and master of a real AMT link,
// alone and together, and checks each change as the kernel reads it back.
func TestIntegrationSet(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "va", "vb", n)
	n.addAddr(t, "va", "10.0.0.1/24")
	n.up(t, "va")
	if err := n.addLink(t, "br0", "bridge", nil); err != nil {
		t.Fatalf("create bridge: %v", err)
	}
	created, err := n.c.Create(Spec{Name: "amtr", Dev: "va", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
	}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	mtu0 := created.MTU // the kernel's choice: the lower device's minus the headers

	steps := []struct {
		name string
		ch   Change
		up   bool
		mtu  uint32
		mas  string
	}{
		{"up", Change{Up: ifla.Ptr(true)}, true, mtu0, ""},
		{"mtu", Change{MTU: ifla.Ptr[uint32](1400)}, true, 1400, ""},
		{"master", Change{Master: ifla.Ptr("br0")}, true, 1400, "br0"},
		{"nomaster", Change{Master: ifla.Ptr("")}, true, 1400, ""},
		{"down, mtu and master at once", Change{Up: ifla.Ptr(false), MTU: ifla.Ptr[uint32](1300), Master: ifla.Ptr("br0")}, false, 1300, "br0"},
		{"up and nomaster at once", Change{Up: ifla.Ptr(true), Master: ifla.Ptr("")}, true, 1300, ""},
	}
	for _, s := range steps {
		l, err := n.c.Set("amtr", s.ch)
		if err != nil {
			t.Fatalf("%s: Set: %v", s.name, err)
		}
		// Read again with Get, so the check does not rest on Set's own
		// read-back alone.
		g, err := n.c.Get("amtr")
		if err != nil {
			t.Fatalf("%s: Get: %v", s.name, err)
		}
		for _, x := range []*Link{l, g} {
			if x.Up() != s.up || x.MTU != s.mtu || x.Master != s.mas || x.LowerName != "va" {
				t.Errorf("%s: up %v mtu %d master %q lower %q; want up %v mtu %d master %q lower va",
					s.name, x.Up(), x.MTU, x.Master, x.LowerName, s.up, s.mtu, s.mas)
			}
		}
	}

	// Refusals leave the link and the other device as they were.
	if _, err := n.c.Set("va", Change{Up: ifla.Ptr(false)}); !errors.Is(err, ErrNotAMT) {
		t.Errorf("Set on a veth: %v, want ErrNotAMT", err)
	}
	devs, err := n.c.Devices()
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	for _, d := range devs {
		if d.Name == "va" && !d.Up() {
			t.Errorf("the refused Set brought va down")
		}
	}
	_, err = n.c.Set("amtr", Change{MTU: ifla.Ptr[uint32](9000)})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("Set mtu 9000: %v, want EINVAL from the kernel", err)
	} else {
		t.Logf("Set mtu 9000: %v", err)
	}
	if _, err := n.c.Set("amtr", Change{Master: ifla.Ptr("br9")}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), `master "br9" not found`) {
		t.Errorf("Set master br9: %v, want master not found", err)
	}
	if _, err := n.c.Set("nope", Change{Up: ifla.Ptr(true)}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Set on a missing link: %v, want os.ErrNotExist", err)
	}
	l, err := n.c.Get("amtr")
	if err != nil || !l.Up() || l.MTU != 1300 || l.Master != "" {
		t.Errorf("after refused changes: %+v, %v; want up, mtu 1300, no master", l, err)
	}
}

// TestIntegrationDevices lists a namespace's devices with their kinds and
// addresses.
func TestIntegrationDevices(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "va", "vb", n)
	n.addAddr(t, "va", "10.0.0.1/24")
	n.up(t, "va")
	if _, err := n.c.Create(Spec{Name: "amtr", Dev: "va", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
	}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	devs, err := n.c.Devices()
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	got := map[string]Device{}
	for _, d := range devs {
		got[d.Name] = d
	}
	if lo := got["lo"]; lo.Kind != "" || !lo.Up() || lo.Type != unix.ARPHRD_LOOPBACK || !lo.HasAddr(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("lo: %+v", lo)
	}
	if va := got["va"]; va.Kind != "veth" || !va.Up() || !va.HasAddr(netip.MustParseAddr("10.0.0.1")) ||
		!containsPrefix(va.Addrs, netip.MustParsePrefix("10.0.0.1/24")) {
		t.Errorf("va: %+v, want an up veth with 10.0.0.1/24", va)
	}
	if vb := got["vb"]; vb.Kind != "veth" || vb.Up() || len(vb.Addrs) != 0 {
		t.Errorf("vb: %+v, want a down veth without addresses", vb)
	}
	if a := got["amtr"]; a.Kind != Kind || a.Up() || a.Index == 0 {
		t.Errorf("amtr: %+v, want a down amt device", a)
	}
	if len(devs) != 4 {
		t.Errorf("%d devices, want 4 (lo, va, vb, amtr): %+v", len(devs), devs)
	}
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// events runs Watch on c in the background and hands its events over a
// channel; it returns once Watch is ready. Cleanup stops Watch and checks
// that it ended cleanly.
func events(t *testing.T, c *Client, opt WatchOptions) <-chan Event {
	t.Helper()
	ch := make(chan Event, 64)
	ready := make(chan struct{})
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	opt.Ready = func() { close(ready) }
	go func() {
		done <- c.Watch(ctx, opt, func(e Event) error {
			ch <- e
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Watch ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("Watch not ready within 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch after cancel: %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Watch did not return within 10s of cancel")
		}
	})
	return ch
}

// expect waits (bounded) for the next event and checks its type and link.
func expect(t *testing.T, ch <-chan Event, typ EventType, name string) Event {
	t.Helper()
	return expectWithin(t, ch, 15*time.Second, typ, name)
}

func expectWithin(t *testing.T, ch <-chan Event, timeout time.Duration, typ EventType, name string) Event {
	t.Helper()
	select {
	case e := <-ch:
		if e.Type != typ || e.Link.Name != name {
			t.Fatalf("event %s %s (remote %v), want %s %s", e.Type, e.Link.Name, e.Remote, typ, name)
		}
		t.Logf("%s %s %s remote=%v previous=%v", e.Time.Format("15:04:05.000"), e.Type, e.Link.Name, e.Remote, e.Previous)
		return e
	case <-time.After(timeout):
		t.Fatalf("no %s event for %s within %v", typ, name, timeout)
	}
	return Event{}
}

// TestIntegrationWatch watches the gateway's namespace while a gateway is
// created, brought up, discovers the relay in the other namespace, goes
// down (which clears its relay), comes up, rediscovers and is deleted.
func TestIntegrationWatch(t *testing.T) {
	testenv.RequireAMT(t)
	t.Logf("kernel %s", testenv.KernelRelease())
	relayNS, gwNS := newTestNS(t), newTestNS(t)
	relayNS.addVeth(t, "vr", "vg", gwNS)
	relayNS.addAddr(t, "vr", "10.0.0.1/24")
	gwNS.addAddr(t, "vg", "10.0.0.2/24")
	relayNS.up(t, "vr")
	gwNS.up(t, "vg")
	if _, err := relayNS.c.Create(Spec{Name: "amtr", Dev: "vr", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
	}}); err != nil {
		t.Fatalf("Create relay: %v", err)
	}
	// A link that exists before Watch starts is not reported, but its
	// changes are.
	if _, err := gwNS.c.Create(Spec{Name: "amtold", Dev: "vg", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.2"), RelayPort: ifla.Ptr[uint16](3000),
	}}); err != nil {
		t.Fatalf("Create amtold: %v", err)
	}

	ch := events(t, gwNS.c, WatchOptions{PollInterval: 50 * time.Millisecond})
	start := time.Now()

	if _, err := gwNS.c.Create(Spec{Name: "amtg", Dev: "vg", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
	}}); err != nil {
		t.Fatalf("Create gateway: %v", err)
	}
	e := expect(t, ch, EventCreated, "amtg")
	if e.Link.LowerName != "vg" || e.Link.AMT.Local != netip.MustParseAddr("10.0.0.2") || !isGateway(&e.Link) || e.Link.Up() {
		t.Errorf("created event's link: %+v", e.Link)
	}
	// Unrelated links are not reported (nothing arrives for them before
	// the next amt event).
	if err := gwNS.addLink(t, "dummy0", "dummy", nil); err != nil {
		t.Logf("no dummy driver for the unrelated-link check: %v", err)
	}

	if _, err := gwNS.c.Set("amtg", Change{Up: ifla.Ptr(true)}); err != nil {
		t.Fatalf("Set up: %v", err)
	}
	expect(t, ch, EventUp, "amtg")
	e = expect(t, ch, EventRelayDiscovered, "amtg")
	if e.Remote != netip.MustParseAddr("10.0.0.1") || e.Previous.IsValid() {
		t.Errorf("relay-discovered: remote %v previous %v, want 10.0.0.1 and none", e.Remote, e.Previous)
	}
	t.Logf("relay discovered %v after the create", e.Time.Sub(start).Round(time.Millisecond))

	// The kernel clears a gateway's relay when the link stops.
	if _, err := gwNS.c.Set("amtg", Change{Up: ifla.Ptr(false)}); err != nil {
		t.Fatalf("Set down: %v", err)
	}
	expect(t, ch, EventDown, "amtg")
	e = expect(t, ch, EventRelayLost, "amtg")
	if e.Remote.IsValid() || e.Previous != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("relay-lost: remote %v previous %v, want none and 10.0.0.1", e.Remote, e.Previous)
	}

	if _, err := gwNS.c.Set("amtold", Change{Up: ifla.Ptr(true)}); err != nil {
		t.Fatalf("Set amtold up: %v", err)
	}
	expect(t, ch, EventUp, "amtold")

	if _, err := gwNS.c.Set("amtg", Change{Up: ifla.Ptr(true)}); err != nil {
		t.Fatalf("Set up again: %v", err)
	}
	expect(t, ch, EventUp, "amtg")
	expect(t, ch, EventRelayDiscovered, "amtg")

	// Deleting an up gateway closes it first: down, the relay it loses,
	// then the deletion.
	if err := gwNS.c.Delete("amtg"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expect(t, ch, EventDown, "amtg")
	expect(t, ch, EventRelayLost, "amtg")
	e = expect(t, ch, EventDeleted, "amtg")
	if e.Link.LowerName != "vg" {
		t.Errorf("deleted event's link has lower %q, want vg (its last known state)", e.Link.LowerName)
	}
	if err := gwNS.c.Delete("amtold"); err != nil {
		t.Fatalf("Delete amtold: %v", err)
	}
	expect(t, ch, EventDown, "amtold")
	expect(t, ch, EventDeleted, "amtold")
	select {
	case e := <-ch:
		t.Errorf("unexpected event %s %s", e.Type, e.Link.Name)
	default:
	}
}

// TestIntegrationWatchNamespaceIsTheClients: Watch listens in the Client's
// namespace (found from its socket), not in the caller's.
func TestIntegrationWatchNamespaceIsTheClients(t *testing.T) {
	testenv.RequireAMT(t)
	a, b := newTestNS(t), newTestNS(t)
	a.addVeth(t, "va", "vb", b)
	a.up(t, "va")
	b.up(t, "vb")
	chA := events(t, a.c, WatchOptions{})
	// A link made in b must not show in a's watch; one made in a must.
	for _, x := range []struct {
		n   *testNS
		dev string
	}{{b, "vb"}, {a, "va"}} {
		if _, err := x.n.c.Create(Spec{Name: "amt" + x.dev, Dev: x.dev, AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
		}}); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	expect(t, chA, EventCreated, "amtva")
}

// TestIntegrationWatchRelayGone: the relay is deleted while the gateway is
// up. No link of the gateway's namespace changes, so only polling can see
// the gateway give up on it (after its request retries, some 30s) and find
// it again once it is back.
func TestIntegrationWatchRelayGone(t *testing.T) {
	testenv.RequireAMT(t)
	relayNS, gwNS := newTestNS(t), newTestNS(t)
	relayNS.addVeth(t, "vr", "vg", gwNS)
	relayNS.addAddr(t, "vr", "10.0.0.1/24")
	gwNS.addAddr(t, "vg", "10.0.0.2/24")
	relayNS.up(t, "vr")
	gwNS.up(t, "vg")
	relay := Spec{Name: "amtr", Dev: "vr", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
	}}
	if _, err := relayNS.c.Create(relay); err != nil {
		t.Fatalf("Create relay: %v", err)
	}
	ch := events(t, gwNS.c, WatchOptions{})
	if _, err := gwNS.c.Create(Spec{Name: "amtg", Dev: "vg", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("10.0.0.1"),
	}}); err != nil {
		t.Fatalf("Create gateway: %v", err)
	}
	expect(t, ch, EventCreated, "amtg")
	expect(t, ch, EventUp, "amtg")
	expect(t, ch, EventRelayDiscovered, "amtg")

	if err := relayNS.c.Delete("amtr"); err != nil {
		t.Fatalf("Delete relay: %v", err)
	}
	gone := time.Now()
	e := expectWithin(t, ch, 120*time.Second, EventRelayLost, "amtg")
	t.Logf("relay-lost %v after the relay was deleted", e.Time.Sub(gone).Round(time.Millisecond))
	if e.Previous != netip.MustParseAddr("10.0.0.1") || !e.Link.Up() {
		t.Errorf("relay-lost: previous %v, up %v; want 10.0.0.1 and still up", e.Previous, e.Link.Up())
	}

	if _, err := relayNS.c.Create(relay); err != nil {
		t.Fatalf("Create relay again: %v", err)
	}
	back := time.Now()
	e = expectWithin(t, ch, 120*time.Second, EventRelayDiscovered, "amtg")
	t.Logf("relay-discovered %v after the relay came back", e.Time.Sub(back).Round(time.Millisecond))
}

// TestIntegrationWatchUnprivileged: watching the current namespace needs no
// privilege. Watch cannot ask the kernel for the socket's namespace then
// (SIOCGSKNS needs CAP_NET_ADMIN) and must still subscribe where the Client
// is. The test runs its own binary again as user nobody.
func TestIntegrationWatchUnprivileged(t *testing.T) {
	if os.Getenv("AMTLINK_TEST_WATCH_CHILD") == "1" {
		c, err := Dial(nil)
		if err != nil {
			t.Fatalf("child: Dial: %v", err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		ready := false
		err = c.Watch(ctx, WatchOptions{Ready: func() { ready = true }}, func(Event) error { return nil })
		if err != nil || !ready {
			t.Fatalf("child (uid %d): Watch: %v, ready %v", os.Getuid(), err, ready)
		}
		return
	}
	testenv.RequireRoot(t)
	// A copy nobody can execute: the build directory is private.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "amtlink-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe := dir + "/amtlink.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestIntegrationWatchUnprivileged$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AMTLINK_TEST_WATCH_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			testenv.Skip(t, "cannot run the test binary as nobody: %v", err)
		}
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("child as nobody did not pass:\n%s", out)
	}
}
