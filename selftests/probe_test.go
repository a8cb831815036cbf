//go:build linux

package selftests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/cli"
	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/amtctl/amtctl/pkg/mcprobe"
)

// Cases for amtctl probe and amtctl send (issue 14), run as the amtctl
// command line in-process, in the namespaces of amt.sh's topology: send in
// the source's namespace, probe in the listener's (behind the gateway's
// bridge) or in the gateway's own, through the kernel's relay and gateway.
// The joins are IGMPv3 / MLDv2 (the listener's defaults): (*,G) through
// IGMPv2 / MLDv1 is a known driver issue (see membership_test.go).

// Groups of the probe cases; setupProbe routes each but grpProbeNoRoute
// from the source into amtr.
var (
	grpProbeSSM4    = netip.MustParseAddr("232.2.2.1")
	grpProbeASM4    = netip.MustParseAddr("239.2.2.2")
	grpProbeSSM6    = netip.MustParseAddr("ff3e::2:1")
	grpProbeASM6    = netip.MustParseAddr("ff0e::2:2")
	grpProbeGW4     = netip.MustParseAddr("232.2.2.3")
	grpProbeLoss4   = netip.MustParseAddr("232.2.2.4")
	grpProbeRate4   = netip.MustParseAddr("232.2.2.5")
	grpProbeNoRoute = netip.MustParseAddr("232.2.2.6")
	grpProbeVeth4   = netip.MustParseAddr("232.2.2.7") // over src_l / l_src, no AMT
)

// The veth pair that links the source and the listener directly, for the
// rate case without AMT: plain multicast from src_l to l_src.
var (
	srcDirectV4      = netip.MustParsePrefix("198.51.100.1/24") // src_l, in the source's namespace
	listenerDirectV4 = netip.MustParsePrefix("198.51.100.2/24") // l_src, in the listener's
)

const (
	probePort     = 5001 // what the numbered datagrams go to
	probeWarmPort = 5002 // the warm-up's, so its receiver never sees them
)

type probeSuite struct {
	*amtTopology
}

func setupProbe(t *testing.T) *probeSuite {
	requireAMT(t)
	s := &probeSuite{amtTopology: newAMTTopology(t, amtOptions{})}
	for _, g := range []netip.Addr{grpProbeSSM4, grpProbeASM4, grpProbeGW4, grpProbeLoss4, grpProbeRate4} {
		if err := s.mr4.route(sourceV4.Addr(), g, "relay_src", relayDev); err != nil {
			t.Fatalf("%v (%s)", err, s)
		}
	}
	for _, g := range []netip.Addr{grpProbeSSM6, grpProbeASM6} {
		if err := s.mr6.route(sourceV6.Addr(), g, "relay_src", relayDev); err != nil {
			t.Fatalf("%v (%s)", err, s)
		}
	}
	if err := errors.Join(s.source.addVeth("src_l", s.listener, "l_src"), s.source.addAddr("src_l", srcDirectV4), s.listener.addAddr("l_src", listenerDirectV4),
		s.source.up("src_l"), s.listener.up("l_src")); err != nil {
		t.Fatalf("%v (%s)", err, s)
	}
	s.waitDiscovered(t, s.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
	return s
}

func TestIntegrationProbe(t *testing.T) {
	runSuite(t, setupProbe,
		suiteCase[*probeSuite]{"probe: IPv4 and IPv6, (S,G) and (*,G), from send", testProbeFlows},
		suiteCase[*probeSuite]{"probe: in the gateway's namespace, dev amtg", testProbeOnGateway},
		suiteCase[*probeSuite]{"probe: loss, duplicates and reordering", testProbeLoss},
		suiteCase[*probeSuite]{"probe: send asks 10,000 datagrams/s for 10 s through the relay and gateway", testProbeRate},
		suiteCase[*probeSuite]{"probe: send asks 10,000 datagrams/s for 10 s over a plain veth pair (no AMT)", testProbeRateDirect},
		suiteCase[*probeSuite]{"probe: the relay has no route for the group", testProbeNoRoute},
		suiteCase[*probeSuite]{"probe: the gateway never learned a relay", testProbeNoRelay},
	)
}

// nsPath is how -n names a test namespace: its descriptor's path.
func nsPath(ns *netns) string { return testenv.NetNSPath(ns.file) }

// amtctlResult is one amtctl run.
type amtctlResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r amtctlResult) String() string {
	return fmt.Sprintf("amtctl %s: exit %d, stdout %q, stderr %q", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// amtctl runs the amtctl command line in-process until it ends or ctx does.
func amtctl(ctx context.Context, args ...string) amtctlResult {
	var out, errb bytes.Buffer
	root := cli.NewRootCommand(cli.OpenAMTLink)
	root.SetContext(ctx)
	code := cli.Execute(root, args, &out, &errb)
	return amtctlResult{args: args, code: code, stdout: out.String(), stderr: errb.String()}
}

// probeJSON is the part of probe -j the cases read.
type probeJSON struct {
	Datagrams  uint64  `json:"datagrams"`
	FirstAfter float64 `json:"first_after_s"`
	DPS        float64 `json:"datagrams_per_s"`
	Unnumbered uint64  `json:"unnumbered"`
	Received   *uint64 `json:"received"`
	Lost       *uint64 `json:"lost"`
	Duplicates *uint64 `json:"duplicates"`
	Reordered  *uint64 `json:"reordered"`
	Senders    []struct {
		From       string `json:"from"`
		Session    string `json:"session"`
		First      uint32 `json:"first_seq"`
		Last       uint32 `json:"last_seq"`
		Received   uint64 `json:"received"`
		Lost       uint64 `json:"lost"`
		Duplicates uint64 `json:"duplicates"`
		Reordered  uint64 `json:"reordered"`
	} `json:"senders"`
	Diagnosis *struct {
		Gateway     string `json:"gateway"`
		RelayKnown  bool   `json:"relay_known"`
		Relay       string `json:"relay"`
		JoinReports *int   `json:"join_reports_sent"`
	} `json:"diagnosis"`
}

// sendJSON is send -j.
type sendJSON struct {
	Session string  `json:"session"`
	Sent    uint64  `json:"sent"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"datagrams_per_s"`
}

func decodeJSON[T any](t *testing.T, r amtctlResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v: not JSON: %v", r, err)
	}
	return v
}

// sourceOf returns the source's address for group's IP version.
func sourceOf(group netip.Addr) netip.Addr {
	if group.Is6() {
		return sourceV6.Addr()
	}
	return sourceV4.Addr()
}

// probeWhileSending runs probe with args in the background, then send from
// the source until probe has ended, and returns both results.
func probeWhileSending(t *testing.T, probeArgs, sendArgs []string) (probe, send amtctlResult) {
	t.Helper()
	done := make(chan amtctlResult)
	go func() { done <- amtctl(context.Background(), probeArgs...) }()
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan amtctlResult)
	go func() { sent <- amtctl(ctx, sendArgs...) }()
	probe = <-done
	cancel()
	send = <-sent
	t.Logf("%v", probe)
	t.Logf("%v", send)
	return probe, send
}

// testProbeFlows: probe in the listener's namespace receives send's
// datagrams, for four groups in turn (IPv4 and IPv6, (S,G) and (*,G)),
// every one numbered, from the one session send reports. One
// at a time: four senders at once, each paying for the whole path under
// TCG, overrun the kernel's backlogs on 6.1 and lose datagrams on the way
// (which probe reports, but which this case is not about).
func testProbeFlows(t *testing.T, s *probeSuite) {
	for _, g := range []struct {
		group netip.Addr
		ssm   bool
	}{{grpProbeSSM4, true}, {grpProbeASM4, false}, {grpProbeSSM6, true}, {grpProbeASM6, false}} {
		src := sourceOf(g.group)
		pargs := []string{"-n", nsPath(s.listener), "probe", g.group.String(), "port", strconv.Itoa(probePort), "dev", "l_gw", "--count", "100", "--timeout", "30s", "-j"}
		if g.ssm {
			pargs = append(pargs, "source", src.String())
		}
		if err := s.flow(t, pargs, g.group, src); err != nil {
			t.Error(err)
		}
	}
}

// flow runs probe with pargs while send sends to group from src, and
// says what was wrong with probe's report.
func (s *probeSuite) flow(t *testing.T, pargs []string, group, src netip.Addr) error {
	sargs := []string{"-n", nsPath(s.source), "send", group.String(), "port", strconv.Itoa(probePort), "--from", src.String(), "--rate", "200", "-j"}
	pr, sr := probeWhileSending(t, pargs, sargs)
	if pr.code != 0 {
		return fmt.Errorf("probe did not receive send's datagrams: %v; %s", pr, s.diag())
	}
	if sr.code != 0 {
		return fmt.Errorf("send: %v", sr)
	}
	var p probeJSON
	var snd sendJSON
	if err := errors.Join(json.Unmarshal([]byte(pr.stdout), &p), json.Unmarshal([]byte(sr.stdout), &snd)); err != nil {
		return fmt.Errorf("%v; %v: %w", pr, sr, err)
	}
	switch {
	case p.Datagrams != 100 || p.Unnumbered != 0:
		return fmt.Errorf("probe counted %d datagrams (%d not numbered), want 100 numbered: %v", p.Datagrams, p.Unnumbered, pr)
	case len(p.Senders) != 1 || p.Senders[0].Session != snd.Session || p.Senders[0].From != src.String():
		return fmt.Errorf("probe saw senders %+v, want the one session %s from %s: %v", p.Senders, snd.Session, src, pr)
	case *p.Received != 100 || *p.Duplicates != 0 || uint64(p.Senders[0].Last-p.Senders[0].First)+1 != *p.Received+*p.Lost:
		// Loss and reordering are the path's own, and probe reports
		// them: a sender that moves between CPUs queues its datagrams on
		// two CPUs' backlogs (veth's netif_rx), which may pass each
		// other, and a loaded TCG guest drops some (seen on 6.1 for
		// IPv6). The loss and rate cases check the figures exactly.
		return fmt.Errorf("probe: received %d lost %d duplicates %d over sequence %d to %d, want 100 received, none twice, and received+lost the range: %v",
			*p.Received, *p.Lost, *p.Duplicates, p.Senders[0].First, p.Senders[0].Last, pr)
	case p.Senders[0].Last >= uint32(snd.Sent):
		return fmt.Errorf("probe saw sequence number %d, but send sent only %d", p.Senders[0].Last, snd.Sent)
	}
	t.Logf("%s: first datagram after %.3fs, %.0f datagrams/s, %d lost and %d reordered on the way; send sent %d", group, p.FirstAfter, p.DPS, *p.Lost, *p.Reordered, snd.Sent)
	return nil
}

// testProbeOnGateway: probe on the gateway itself, dev amtg, joins on
// amtg's bridge br0 and receives what the gateway decapsulates.
func testProbeOnGateway(t *testing.T, s *probeSuite) {
	src := sourceV4.Addr()
	if err := s.flow(t, []string{"-n", nsPath(s.gateway), "probe", grpProbeGW4.String(), "source", src.String(), "port", strconv.Itoa(probePort),
		"dev", gatewayDev, "--count", "100", "--timeout", "30s", "-j"}, grpProbeGW4, src); err != nil {
		t.Fatal(err)
	}
}

// warmUp makes the path for group carry data before a case starts
// counting: a receiver of its own joins group (on another port, so that it
// never sees the case's datagrams) and stays joined until the case ends, so
// the probe's join adds a socket to a membership the relay already serves.
// It returns the receiver's join count on l_gw for waitUsers.
func (s *probeSuite) warmUp(t *testing.T, group netip.Addr) {
	t.Helper()
	src := sourceOf(group)
	dst := netip.AddrPortFrom(group, probeWarmPort)
	rcv := openReceiver(t, s.listener, "l_gw", dst, src)
	snd := openSender(t, s.source, src, "src_relay", dst)
	expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)
}

// waitUsers waits until users sockets of the listener have joined group on
// l_gw (the Users column of /proc/net/igmp), so that a sender starts only
// once the probe's socket is there.
func (s *probeSuite) waitUsers(t *testing.T, group netip.Addr, users int) {
	s.waitUsersOn(t, "l_gw", group, users)
}

// waitUsersOn is waitUsers for the listener's device dev.
func (s *probeSuite) waitUsersOn(t *testing.T, onDev string, group netip.Addr, users int) {
	t.Helper()
	want := fmt.Sprintf("%08X", func() uint32 {
		b := group.As4()
		return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
	}())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var b []byte
		if err := s.listener.Do(func() (err error) { b, err = os.ReadFile("/proc/thread-self/net/igmp"); return err }); err != nil {
			t.Fatal(err)
		}
		dev, got := "", 0
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[2] == ":" {
				dev = f[1] // "2	l_gw      :     2      V3"
				continue
			}
			// "				E8020204     2 0:00000000		0"
			if dev == onDev && len(f) >= 2 && f[0] == want {
				got, _ = strconv.Atoi(f[1])
			}
		}
		if got >= users {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets of the listener joined %s on %s after 10s, want %d:\n%s", got, group, onDev, users, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testProbeLoss sends numbered datagrams of its own through the relay and
// gateway, dropping, duplicating and swapping some on purpose after a clean
// stretch, and expects the probe's figures to be exactly those.
func testProbeLoss(t *testing.T, s *probeSuite) {
	group, src := grpProbeLoss4, sourceV4.Addr()
	s.warmUp(t, group)
	var wg sync.WaitGroup
	var pr amtctlResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr = amtctl(context.Background(), "-n", nsPath(s.listener), "probe", group.String(), "source", src.String(), "port", strconv.Itoa(probePort),
			"dev", "l_gw", "--count", "0", "--timeout", "1s", "-j")
	}()
	s.waitUsers(t, group, 2)
	snd := openSender(t, s.source, src, "src_relay", netip.AddrPortFrom(group, probePort))
	const total, clean, unnumbered = 300, 100, 3
	dropped := map[uint32]bool{}
	for q := uint32(150); q < 160; q++ {
		dropped[q] = true
	}
	dropped[200], dropped[277] = true, true
	order := make([]uint32, 0, total+1)
	for q := uint32(0); q < total; q++ {
		switch {
		case dropped[q]:
		case q == 250: // sent twice
			order = append(order, q, q)
		case q == 280: // 281 goes first
			order = append(order, 281, 280)
		case q == 281:
		default:
			order = append(order, q)
		}
	}
	udpBefore := udpCounters(t, s.listener)
	session := mcprobe.NewSession()
	start := time.Now()
	for i, q := range order {
		if d := time.Until(start.Add(time.Duration(i) * 2 * time.Millisecond)); d > 0 { // 500/s
			time.Sleep(d)
		}
		b, _ := mcprobe.Header{Session: session, Seq: q, Sent: time.Now()}.AppendBinary(nil)
		if err := snd.send(append(b, make([]byte, 36)...)); err != nil {
			t.Fatal(err)
		}
		if q == 100 { // datagrams not from send: counted, no figures
			for range unnumbered {
				if err := snd.send([]byte("not numbered")); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	wg.Wait()
	udpAfter := udpCounters(t, s.listener)
	t.Logf("%v", pr)
	if pr.code != 0 {
		t.Fatalf("probe: %v; %s", pr, s.diag())
	}
	t.Logf("sent %d datagrams in %v; the listener's UDP delivered %d datagrams and dropped %d for a full receive buffer; %s", len(order), time.Since(start).Round(time.Millisecond),
		udpAfter["InDatagrams"]-udpBefore["InDatagrams"], udpAfter["RcvbufErrors"]-udpBefore["RcvbufErrors"], s.diag())
	p := decodeJSON[probeJSON](t, pr)
	if len(p.Senders) != 1 {
		t.Fatalf("probe saw %d senders, want 1: %v", len(p.Senders), pr)
	}
	st := p.Senders[0]
	if p.Unnumbered != unnumbered || p.Datagrams != st.Received+st.Duplicates+unnumbered {
		t.Fatalf("probe counted %d datagrams, %d not numbered; want %d not numbered and the rest numbered: %v", p.Datagrams, p.Unnumbered, unnumbered, pr)
	}
	if st.First >= clean || st.Last != total-1 {
		t.Fatalf("probe saw sequence numbers %d to %d, want from below %d (the clean stretch) to %d: %v", st.First, st.Last, clean, total-1, pr)
	}
	wantReceived := uint64(total-st.First) - uint64(len(dropped))
	// The path may reorder too (see flow), so reordered is at least the
	// one swap; nothing on the path drops or duplicates (the kernel's
	// counters above say so when it does).
	if st.Lost != uint64(len(dropped)) || st.Duplicates != 1 || st.Reordered < 1 || st.Received != wantReceived {
		t.Fatalf("probe: received %d lost %d duplicates %d reordered %d; sent %d to %d with %d dropped, 1 duplicated, 1 swapped: want %d %d 1 and at least 1: %v",
			st.Received, st.Lost, st.Duplicates, st.Reordered, st.First, total-1, len(dropped), wantReceived, len(dropped), pr)
	}
	t.Logf("probe: received %d, lost %d, duplicates %d, reordered %d (1 swapped on purpose), %d not numbered", st.Received, st.Lost, st.Duplicates, st.Reordered, p.Unnumbered)
}

// udpCounters reads the UDP counters of ns's /proc/net/snmp.
func udpCounters(t *testing.T, ns *netns) map[string]uint64 {
	t.Helper()
	var b []byte
	if err := ns.Do(func() (err error) { b, err = os.ReadFile("/proc/thread-self/net/snmp"); return err }); err != nil {
		t.Fatal(err)
	}
	var names []string
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i < len(names) {
				out[names[i]], _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	return out
}

// The rate cases: amtctl send asks for 10,000 datagrams/s for 10 s, the
// probe in the listener's namespace counts. Every datagram send sent is in
// the probe's report, received or lost, the ends included, and the kernel's
// counters agree: the listener's UDP stack delivered what the probe
// received and dropped no more than the probe counted lost, and the device
// the datagrams came in by counted at least as many. The speed is
// reported, never asserted: under QEMU/TCG the guest kernel's path costs
// more per datagram than 100 µs, and send reaches what it reaches.
const rateAsked, rateSeconds = 10000, 10

// ratePath is where a rate case's datagrams go.
type ratePath struct {
	group, src netip.Addr
	dev        string                              // the listener's device probe joins on
	rx         func(t *testing.T) (uint64, string) // packets the path's last device received so far, and its name
}

// testProbeRate: through the relay and gateway (the AMT path: the source's
// veth, the relay's multicast routing and amtr, the tunnel, amtg, br0).
func testProbeRate(t *testing.T, s *probeSuite) {
	s.warmUp(t, grpProbeRate4)
	s.rate(t, ratePath{group: grpProbeRate4, src: sourceV4.Addr(), dev: "l_gw", rx: func(t *testing.T) (uint64, string) {
		l, err := s.gw.Get(gatewayDev)
		if err != nil {
			t.Fatal(err)
		}
		return l.Stats.RXPackets, "the gateway's " + gatewayDev
	}})
}

// testProbeRateDirect: the same over plain multicast on the veth pair
// src_l / l_src, without AMT: what send and probe do at the rate where the
// kernel's path is one veth.
func testProbeRateDirect(t *testing.T, s *probeSuite) {
	s.rate(t, ratePath{group: grpProbeVeth4, src: srcDirectV4.Addr(), dev: "l_src", rx: func(t *testing.T) (uint64, string) {
		st, err := s.listener.linkStats("l_src")
		if err != nil {
			t.Fatal(err)
		}
		return st.RXPackets, "the listener's l_src"
	}})
}

func (s *probeSuite) rate(t *testing.T, rp ratePath) {
	group, src := rp.group, rp.src
	rxBefore, rxName := rp.rx(t)
	udpBefore := udpCounters(t, s.listener)
	var wg sync.WaitGroup
	var pr amtctlResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr = amtctl(context.Background(), "-n", nsPath(s.listener), "probe", group.String(), "source", src.String(), "port", strconv.Itoa(probePort),
			"dev", rp.dev, "--count", "0", "--timeout", "2s", "-j")
	}()
	users := 1
	if rp.dev == "l_gw" {
		users = 2 // and warmUp's receiver
	}
	s.waitUsersOn(t, rp.dev, group, users)
	// send runs for 10 s, as with Ctrl-C.
	ctx, cancel := context.WithTimeout(context.Background(), rateSeconds*time.Second)
	defer cancel()
	sr := amtctl(ctx, "-n", nsPath(s.source), "send", group.String(), "port", strconv.Itoa(probePort), "--from", src.String(),
		"--rate", strconv.Itoa(rateAsked), "--size", "64", "-j")
	wg.Wait()
	t.Logf("%v", sr)
	t.Logf("%v", pr)
	if sr.code != 0 || pr.code != 0 {
		t.Fatalf("send: %v; probe: %v; %s", sr, pr, s.diag())
	}
	rxAfter, _ := rp.rx(t)
	udpAfter := udpCounters(t, s.listener)
	snd, p := decodeJSON[sendJSON](t, sr), decodeJSON[probeJSON](t, pr)
	if len(p.Senders) != 1 || p.Senders[0].Session != snd.Session {
		t.Fatalf("probe saw senders %+v, want send's one session %s", p.Senders, snd.Session)
	}
	st := p.Senders[0]
	delivered := udpAfter["InDatagrams"] - udpBefore["InDatagrams"]
	socketDrops := udpAfter["RcvbufErrors"] - udpBefore["RcvbufErrors"]
	rx := rxAfter - rxBefore
	t.Logf("asked %d/s for %ds; send: %d datagrams in %.2fs, %.0f/s; probe: sequence %d to %d, received %d, lost %d, duplicates %d, reordered %d, %.0f/s; "+
		"kernel: %s received %d packets, the listener's UDP delivered %d datagrams and dropped %d for a full receive buffer",
		rateAsked, rateSeconds, snd.Sent, snd.Seconds, snd.Rate, st.First, st.Last, st.Received, st.Lost, st.Duplicates, st.Reordered, p.DPS, rxName, rx, delivered, socketDrops)
	switch {
	case snd.Sent == 0:
		t.Fatalf("send sent nothing in %ds", rateSeconds)
	case st.First != 0 || uint64(st.Last) != snd.Sent-1:
		t.Fatalf("probe saw sequence numbers %d to %d of the 0 to %d sent: the ends were lost without a report", st.First, st.Last, snd.Sent-1)
	case st.Received+st.Lost != snd.Sent:
		t.Fatalf("probe: received %d + lost %d != sent %d", st.Received, st.Lost, snd.Sent)
	case delivered != st.Received+st.Duplicates:
		t.Fatalf("the listener's UDP delivered %d datagrams, the probe received %d (+%d duplicates)", delivered, st.Received, st.Duplicates)
	case socketDrops > st.Lost:
		t.Fatalf("the listener's UDP dropped %d datagrams for a full receive buffer, more than the %d the probe reported lost", socketDrops, st.Lost)
	case rx < st.Received:
		t.Fatalf("%s received %d packets, fewer than the probe's %d", rxName, rx, st.Received)
	}
}

// testProbeNoRoute: the relay has no multicast route for the group (no
// source behind it sends to it); send sends anyway. probe, on the gateway,
// exits 1 saying that the gateway knows its relay and the join was sent.
func testProbeNoRoute(t *testing.T, s *probeSuite) {
	src := sourceV4.Addr()
	pr, _ := probeWhileSending(t,
		[]string{"-n", nsPath(s.gateway), "probe", grpProbeNoRoute.String(), "source", src.String(), "port", strconv.Itoa(probePort), "dev", gatewayDev, "--timeout", "2s", "-j"},
		[]string{"-n", nsPath(s.source), "send", grpProbeNoRoute.String(), "port", strconv.Itoa(probePort), "--from", src.String(), "--rate", "100"})
	expectProbeFails(t, pr, "gateway amtg knows relay "+relayUpV4.Addr().String(), "the relay has no route or source for it", "join sent (")
	p := decodeJSON[probeJSON](t, pr)
	if p.Diagnosis == nil || !p.Diagnosis.RelayKnown || p.Diagnosis.Relay != relayUpV4.Addr().String() || p.Diagnosis.JoinReports == nil || *p.Diagnosis.JoinReports == 0 {
		t.Fatalf("probe's diagnosis %+v, want the relay %s known and join reports sent: %v", p.Diagnosis, relayUpV4.Addr(), pr)
	}
}

// testProbeNoRelay re-creates amtg with a discovery address nobody
// answers: probe exits 1 saying the gateway has not learned a relay. It
// runs last: the topology's gateway is gone afterwards.
func testProbeNoRelay(t *testing.T, s *probeSuite) {
	nowhere := netip.MustParseAddr("10.0.0.9")
	if err := s.gw.Delete(gatewayDev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.gw.Create(amtlink.Spec{
		Name: gatewayDev, Dev: "gw_relay", Master: "br0", Up: true,
		AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway), Local: gwUpV4.Addr(), Discovery: nowhere},
	}); err != nil {
		t.Fatal(err)
	}
	src := sourceV4.Addr()
	pr, _ := probeWhileSending(t,
		[]string{"-n", nsPath(s.gateway), "probe", grpProbeSSM4.String(), "source", src.String(), "port", strconv.Itoa(probePort), "dev", gatewayDev, "--timeout", "2s", "-j"},
		[]string{"-n", nsPath(s.source), "send", grpProbeSSM4.String(), "port", strconv.Itoa(probePort), "--from", src.String(), "--rate", "100"})
	expectProbeFails(t, pr, "gateway amtg has not learned a relay (discovery "+nowhere.String()+" unanswered)")
	p := decodeJSON[probeJSON](t, pr)
	if p.Diagnosis == nil || p.Diagnosis.RelayKnown || p.Diagnosis.Gateway != gatewayDev {
		t.Fatalf("probe's diagnosis %+v, want gateway %s without a relay: %v", p.Diagnosis, gatewayDev, pr)
	}
}

// expectProbeFails checks that probe exited 1 with one line on stderr
// holding every part of want.
func expectProbeFails(t *testing.T, pr amtctlResult, want ...string) {
	t.Helper()
	if pr.code != 1 {
		t.Fatalf("probe exited %d, want 1: %v", pr.code, pr)
	}
	if n := strings.Count(strings.TrimSpace(pr.stderr), "\n"); n != 0 {
		t.Fatalf("probe printed %d lines on stderr, want one: %q", n+1, pr.stderr)
	}
	for _, w := range want {
		if !strings.Contains(pr.stderr, w) {
			t.Fatalf("probe's line lacks %q: %q", w, pr.stderr)
		}
	}
}
