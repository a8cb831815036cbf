package amtmetrics

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// reports collects what a Collector reports.
type reports struct {
	mu  sync.Mutex
	got []string
}

func (r *reports) add(rep Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := rep.Kind.String() + " " + rep.NetNS
	if rep.Err != nil {
		s += ": " + rep.Err.Error()
	}
	r.got = append(r.got, s)
}

func (r *reports) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.got
	r.got = nil
	return g
}

// newTestCollector returns a Collector on spaces for netns, closed at the
// end of the test, with a long Recheck so that only scrapes recheck.
func newTestCollector(t *testing.T, spaces *fakeSpaces, rep *reports, netns ...string) *Collector {
	t.Helper()
	c, err := New(Options{Open: spaces.open, NetNS: netns, Recheck: time.Hour, Report: rep.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// scrape gathers c through a pedantic registry (which checks every metric
// against Describe) and returns the text exposition, as /metrics serves it.
func scrape(t testing.TB, c *Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// samples returns the sample lines of an exposition whose metric name is
// one of names, without HELP and TYPE.
func samples(text string, names ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(l, n+"{") || strings.HasPrefix(l, n+" ") {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

func TestCollect(t *testing.T) {
	gw := newFakeSource(gatewayLink(5, "amtg", 100, a("10.0.0.1")), gatewayLink(6, "amtg2", 0, netipZero))
	here := newFakeSource(relayLink(9, "amtr"))
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"": here, "gw": gw}}
	c := newTestCollector(t, spaces, &reports{}, "", "gw")
	got := scrape(t, c)
	want, err := readGolden("collect.golden", got)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("exposition (-want +got):\n%s", d)
	}
	if gw.lists != 1 || here.lists != 1 {
		t.Errorf("one scrape listed gw %d times and the current namespace %d times, want once each", gw.lists, here.lists)
	}
}

// TestRelayEvents: relay-discovered, -changed and -lost are counted per
// namespace, across a resync (after which Watch reports the differences
// it found as ordinary events); other events count nothing.
func TestRelayEvents(t *testing.T) {
	gw := newFakeSource(gatewayLink(5, "amtg", 1, a("10.0.0.1")))
	other := newFakeSource()
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"gw": gw, "other": other}}
	c := newTestCollector(t, spaces, &reports{}, "gw", "other")
	l := gw.links[0]
	for _, e := range []amtlink.EventType{
		amtlink.EventCreated, amtlink.EventUp, amtlink.EventRelayDiscovered, amtlink.EventRelayChanged,
		amtlink.EventRelayLost, amtlink.EventResynced, amtlink.EventRelayDiscovered, amtlink.EventDown,
	} {
		gw.send(t, amtlink.Event{Type: e, Link: l})
	}
	other.send(t, amtlink.Event{Type: amtlink.EventRelayLost})
	got := samples(scrape(t, c), "amt_relay_discovered_total", "amt_relay_changed_total", "amt_relay_lost_total", "amt_watch_resyncs_total")
	want := strings.Join([]string{
		`amt_relay_changed_total{netns="gw"} 1`,
		`amt_relay_changed_total{netns="other"} 0`,
		`amt_relay_discovered_total{netns="gw"} 2`,
		`amt_relay_discovered_total{netns="other"} 0`,
		`amt_relay_lost_total{netns="gw"} 1`,
		`amt_relay_lost_total{netns="other"} 1`,
		`amt_watch_resyncs_total{netns="gw"} 1`,
		`amt_watch_resyncs_total{netns="other"} 0`,
	}, "\n")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("relay counts (-want +got):\n%s", d)
	}
}

// TestNetNSGone: a namespace that goes away is let go of (its source
// closed), its series vanish, amt_netns_up is 0 and amt_netns_gone_total
// counts it, once; the other namespaces go on. When it is back, it is
// opened again and its counts start anew.
func TestNetNSGone(t *testing.T) {
	gw := newFakeSource(gatewayLink(5, "amtg", 1, a("10.0.0.1")))
	here := newFakeSource(relayLink(9, "amtr"))
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"": here, "gw": gw}}
	rep := &reports{}
	c := newTestCollector(t, spaces, rep, "", "gw")
	gw.send(t, amtlink.Event{Type: amtlink.EventRelayDiscovered})

	gw.mu.Lock()
	gw.gone = true
	gw.mu.Unlock()
	spaces.set("gw", nil)
	for i := 0; i < 2; i++ {
		text := scrape(t, c)
		if strings.Contains(text, `netns="gw",`) {
			t.Errorf("scrape %d: series of the gone namespace remain:\n%s", i, samples(text, "amt_link_up", "amt_link_info"))
		}
		got := samples(text, "amt_netns_up", "amt_netns_gone_total", "amt_link_up")
		want := strings.Join([]string{
			`amt_link_up{link="amtr",netns=""} 0`,
			`amt_netns_gone_total{netns=""} 0`,
			`amt_netns_gone_total{netns="gw"} 1`,
			`amt_netns_up{netns=""} 1`,
			`amt_netns_up{netns="gw"} 0`,
		}, "\n")
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("scrape %d (-want +got):\n%s", i, d)
		}
	}
	if !gw.closed {
		t.Error("the gone namespace's source was not closed")
	}
	if got, want := rep.take(), []string{"gone gw"}; !cmp.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}

	back := newFakeSource(gatewayLink(5, "amtg", 7, a("10.0.0.9")))
	spaces.set("gw", back)
	got := samples(scrape(t, c), "amt_netns_up", "amt_gateway_relay_known", "amt_relay_discovered_total", "amt_netns_gone_total")
	want := strings.Join([]string{
		`amt_gateway_relay_known{link="amtg",netns="gw",relay="10.0.0.9"} 1`,
		`amt_netns_gone_total{netns=""} 0`,
		`amt_netns_gone_total{netns="gw"} 1`,
		`amt_netns_up{netns=""} 1`,
		`amt_netns_up{netns="gw"} 1`,
		`amt_relay_discovered_total{netns=""} 0`,
		`amt_relay_discovered_total{netns="gw"} 0`,
	}, "\n")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after the namespace is back (-want +got):\n%s", d)
	}
	if got, want := rep.take(), []string{"back gw"}; !cmp.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
}

// TestRecheckWithoutScrape: a gone namespace is let go of by the recheck
// timer too, so an exporter nobody scrapes does not keep it alive.
func TestRecheckWithoutScrape(t *testing.T) {
	gw := newFakeSource()
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"gw": gw}}
	rep := &reports{}
	c, err := New(Options{Open: spaces.open, NetNS: []string{"gw"}, Recheck: 10 * time.Millisecond, Report: rep.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	spaces.set("gw", nil)
	gw.mu.Lock()
	gw.gone = true
	gw.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gw.mu.Lock()
		closed := gw.closed
		gw.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gone namespace was not let go of within 10s of rechecks")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := rep.take(), []string{"gone gw"}; !cmp.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
}

// TestListFailed: a namespace whose links cannot be read shows
// amt_netns_up 0, reported once however many scrapes fail, and again when
// it recovers.
func TestListFailed(t *testing.T) {
	gw := newFakeSource(gatewayLink(5, "amtg", 1, a("10.0.0.1")))
	gw.listErr = errors.New("list: permission denied")
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"gw": gw}}
	rep := &reports{}
	c := newTestCollector(t, spaces, rep, "gw")
	for i := 0; i < 3; i++ {
		if got := samples(scrape(t, c), "amt_netns_up", "amt_link_up"); got != `amt_netns_up{netns="gw"} 0` {
			t.Errorf("scrape %d: %q", i, got)
		}
	}
	gw.mu.Lock()
	gw.listErr = nil
	gw.mu.Unlock()
	if got := samples(scrape(t, c), "amt_netns_up"); got != `amt_netns_up{netns="gw"} 1` {
		t.Errorf("after recovery: %q", got)
	}
	if got, want := rep.take(), []string{"list-failed gw: list: permission denied", "recovered gw"}; !cmp.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
}

// TestWatchFailed: a Watch that fails is reported and tried again at the
// next recheck.
func TestWatchFailed(t *testing.T) {
	gw := newFakeSource()
	gw.watchErr = errors.New("watch: permission denied")
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"gw": gw}}
	rep := &reports{}
	c, err := New(Options{Open: spaces.open, NetNS: []string{"gw"}, Recheck: 10 * time.Millisecond, Report: rep.add})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReports(t, rep, []string{"watch-failed gw: watch: permission denied"})
	gw.mu.Lock()
	gw.watchErr = nil
	gw.mu.Unlock()
	waitReports(t, rep, []string{"recovered gw"})
	gw.send(t, amtlink.Event{Type: amtlink.EventRelayDiscovered})
	if got := samples(scrape(t, c), "amt_relay_discovered_total"); got != `amt_relay_discovered_total{netns="gw"} 1` {
		t.Errorf("after the watch recovered: %q", got)
	}
}

func waitReports(t *testing.T, rep *reports, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = append(got, rep.take()...)
		if len(got) >= len(want) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !cmp.Equal(got, want) {
		t.Fatalf("reports %q, want %q", got, want)
	}
}

// TestNew: a namespace that cannot be opened at the start is an error,
// and what was opened before it is closed; so is a namespace given twice.
func TestNew(t *testing.T) {
	here := newFakeSource()
	spaces := &fakeSpaces{byName: map[string]*fakeSource{"": here}}
	_, err := New(Options{Open: spaces.open, NetNS: []string{"", "nope"}})
	if err == nil || !strings.Contains(err.Error(), "/run/netns/nope") {
		t.Errorf("New with a missing namespace: %v", err)
	}
	if !here.closed {
		t.Error("the namespace opened before the failure was left open")
	}
	again := newFakeSource()
	spaces.set("", again)
	if _, err := New(Options{Open: spaces.open, NetNS: []string{"", ""}}); err == nil || err.Error() != `amtmetrics: network namespace "" is given twice` {
		t.Errorf("New with a namespace twice: %v", err)
	}
	if !again.closed {
		t.Error("the namespace opened before the duplicate was left open")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without Open succeeded")
	}
	// No NetNS: the caller's own namespace.
	own := newFakeSource()
	spaces.set("", own)
	c, err := New(Options{Open: spaces.open})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil || !own.closed {
		t.Errorf("Close: %v, source closed %v", err, own.closed)
	}
	if got := scrape(t, c); got != "" {
		t.Errorf("a closed Collector exposes %q", got)
	}
}

func TestReportKindString(t *testing.T) {
	for k, want := range map[ReportKind]string{ReportGone: "gone", ReportBack: "back", ReportListFailed: "list-failed",
		ReportWatchFailed: "watch-failed", ReportRecovered: "recovered", 99: "unknown report kind (99)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int(k), got, want)
		}
	}
}
