//go:build linux

package selftests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/cli"
	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/amtmetrics"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// testMetrics runs "amtctl metrics" in-process on amt.sh's topology (a case
// of TestIntegrationAMTLifecycle, whose topology it shares) and scrapes its
// real HTTP endpoint: while multicast flows from the source through amtr
// and amtg to the listener, the exposed counters are the kernel's, the
// gateway's relay is known and named, its loss and rediscovery are counted,
// promtool finds the exposition clean, and a namespace that goes away
// drops out while the server keeps serving.
// scraper is "amtctl metrics" running in-process, and its stderr lines.
type scraper struct {
	url    string
	lines  chan string
	done   chan int
	cancel context.CancelFunc
}

func startMetricsCommand(t *testing.T, args ...string) *scraper {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &scraper{lines: make(chan string, 64), done: make(chan int, 1), cancel: cancel}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	go func() {
		root := cli.NewRootCommand(cli.OpenAMTLink, cli.WithMetricsServer(amtmetrics.Serve))
		root.SetContext(ctx)
		code := cli.Execute(root, args, io.Discard, pw)
		pw.Close()
		s.done <- code
	}()
	t.Cleanup(func() { s.stop(t) })
	serving := regexp.MustCompile(`^amtctl: serving amt metrics of .* at (http://\S+/metrics); stop with Ctrl-C$`)
	select {
	case l, ok := <-s.lines:
		m := serving.FindStringSubmatch(l)
		if !ok || m == nil {
			t.Fatalf("amtctl %q: first line %q, want the serving line", args, l)
		}
		s.url = m[1]
	case <-time.After(20 * time.Second):
		t.Fatalf("amtctl %q: not serving within 20s", args)
	}
	return s
}

// stop cancels the command as SIGTERM would and checks it ends with 0.
func (s *scraper) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("amtctl metrics ended with exit %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("amtctl metrics did not end within 20s of being stopped")
	}
}

// scrape GETs /metrics and parses it.
func (s *scraper) scrape(t *testing.T) (string, exposition) {
	t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		t.Fatalf("GET %s: %v", s.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", s.url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	e := exposition{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			e[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return string(body), e
}

// exposition maps `name{label=value,...}` (labels sorted, as the text
// format has them) to the sample's value.
type exposition map[string]float64

// get returns the sample of name with exactly these labels ("k=v", sorted).
func (e exposition) get(name string, labels ...string) (float64, bool) {
	v, ok := e[name+"{"+strings.Join(labels, ",")+"}"]
	return v, ok
}

// has reports whether any sample has the label k=v.
func (e exposition) has(label string) bool {
	for k := range e {
		if strings.Contains(k, "{"+label+",") || strings.Contains(k, ","+label+",") || strings.Contains(k, ","+label+"}") || strings.Contains(k, "{"+label+"}") {
			return true
		}
	}
	return false
}

// waitFor scrapes until cond holds, for up to limit.
func (s *scraper) waitFor(t *testing.T, limit time.Duration, what string, cond func(exposition) bool) exposition {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, e := s.scrape(t)
		if cond(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v the metrics never showed %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statNames are the exposed counters, in the order of statsOf.
var statNames = []string{
	"amt_link_receive_packets_total", "amt_link_receive_bytes_total", "amt_link_receive_errors_total", "amt_link_receive_dropped_total",
	"amt_link_transmit_packets_total", "amt_link_transmit_bytes_total", "amt_link_transmit_errors_total", "amt_link_transmit_dropped_total",
}

// statsOf reads the link's counters from the kernel, through amtlink.
func statsOf(t *testing.T, c *amtlink.Client, name string) [8]uint64 {
	t.Helper()
	l, err := c.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stats == nil {
		t.Fatalf("%s: the kernel sent no statistics", name)
	}
	s := l.Stats
	return [8]uint64{s.RXPackets, s.RXBytes, s.RXErrors, s.RXDropped, s.TXPackets, s.TXBytes, s.TXErrors, s.TXDropped}
}

func testMetrics(t *testing.T, at *amtTopology) {
	start := time.Now()
	// promtool, Prometheus's own checker, is a 48 MB Go binary that takes
	// seconds to start under TCG: it starts now, reading stdin, and is
	// given the scraped body once there is one.
	var (
		check    *exec.Cmd
		checkIn  io.WriteCloser
		checkOut bytes.Buffer
	)
	promtool, promErr := exec.LookPath("promtool")
	if promErr == nil {
		check = exec.Command(promtool, "check", "metrics")
		check.Stdout, check.Stderr = &checkOut, &checkOut
		if checkIn, promErr = check.StdinPipe(); promErr == nil {
			promErr = check.Start()
		}
		if promErr != nil {
			t.Fatalf("start promtool: %v", promErr)
		}
		defer func() {
			if check.ProcessState == nil {
				check.Process.Kill()
				check.Wait()
			}
		}()
	}
	// A second reference to the gateway's namespace, by a path that goes
	// away when it is closed: what ip netns del does to /run/netns/NAME.
	gwFile, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", at.gateway.fd), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer gwFile.Close()
	gwNS := testenv.NetNSPath(gwFile)
	rlNS := testenv.NetNSPath(at.relay.file)
	s := startMetricsCommand(t, "metrics", "--listen", "127.0.0.1:0", "--interval", "100ms", "-n", gwNS, "-n", rlNS, "-n", "")
	t.Logf("serving after %v", time.Since(start).Round(time.Millisecond))
	gwL := []string{"link=" + gatewayDev, "netns=" + gwNS}
	rlL := []string{"link=" + relayDev, "netns=" + rlNS}
	relay := relayUpV4.Addr().String()

	// The gateway found its relay before metrics started: known, named.
	_, e := s.scrape(t)
	t.Logf("first scrape done after %v", time.Since(start).Round(time.Millisecond))
	if v, ok := e.get("amt_gateway_relay_known", append(gwL, "relay="+relay)...); !ok || v != 1 {
		t.Errorf("amt_gateway_relay_known of %s = %v (present %v), want 1 with relay=%s", gatewayDev, v, ok, relay)
	}
	info := []string{"dev=gw_relay", "discovery=" + relay, "gateway_port=2268", "link=" + gatewayDev, "local=" + gwUpV4.Addr().String(),
		"max_tunnels=128", "mode=gateway", "netns=" + gwNS, "relay_port=2268"}
	if v, ok := e.get("amt_link_info", info...); !ok || v != 1 {
		t.Errorf("amt_link_info of %s with %v: %v (present %v)", gatewayDev, info, v, ok)
	}
	for _, ns := range []string{gwNS, rlNS, ""} {
		if v, ok := e.get("amt_netns_up", "netns="+ns); !ok || v != 1 {
			t.Errorf("amt_netns_up{netns=%q} = %v (present %v), want 1", ns, v, ok)
		}
	}

	// Down and up: the gateway loses its relay and finds it again, and
	// both are counted.
	if err := at.gateway.setLink(gatewayDev, 0, unix.IFF_UP, nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.waitFor(t, 20*time.Second, "relay lost once and the relay unknown", func(e exposition) bool {
		lost, _ := e.get("amt_relay_lost_total", "netns="+gwNS)
		unknown, _ := e.get("amt_gateway_relay_known", append(gwL, "relay=")...)
		v, ok := e.get("amt_link_up", gwL...)
		down := ok && v == 0
		return lost == 1 && unknown == 0 && down && !e.has("relay="+relay)
	})
	t.Logf("relay-lost counted %v after %s went down", time.Since(t0).Round(time.Millisecond), gatewayDev)
	if err := at.gateway.up(gatewayDev); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	s.waitFor(t, discoveryWait, "relay discovered once and known again", func(e exposition) bool {
		found, _ := e.get("amt_relay_discovered_total", "netns="+gwNS)
		known, _ := e.get("amt_gateway_relay_known", append(gwL, "relay="+relay)...)
		return found == 1 && known == 1
	})
	t.Logf("relay-discovered counted %v after %s came up", time.Since(t0).Round(time.Millisecond), gatewayDev)

	// Multicast from the source, through the tunnel, to a listener joined
	// with IGMPv3 (S,G).
	const extra = 50
	dst := netip.AddrPortFrom(group4, 4100)
	rcv := openReceiver(t, at.listener, "l_gw", dst, sourceV4.Addr())
	snd := openSender(t, at.source, sourceV4.Addr(), "src_relay", dst)
	expectDelivery(t, snd, rcv, deliveryTimeout, at.diag)
	before := statsOf(t, at.gw, gatewayDev)
	for i := 0; i < extra; i++ {
		if err := snd.send(fmt.Appendf(nil, "metrics %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < extra {
		if _, err := rcv.recv(time.Now().Add(5 * time.Second)); err != nil {
			break
		}
		got++
	}
	t.Logf("the listener received %d of %d more datagrams (%v since the start)", got, extra, time.Since(start).Round(time.Millisecond))

	// The scrape's counters are the kernel's: read before and after it
	// through amtlink, they must equal both when nothing moved between
	// (the gateway's own requests and reports tick now and then: then
	// try again), and lie between them otherwise.
	var body string
	for attempt := 1; ; attempt++ {
		t0 = time.Now()
		gw1, rl1 := statsOf(t, at.gw, gatewayDev), statsOf(t, at.rl, relayDev)
		var e exposition
		body, e = s.scrape(t)
		gw2, rl2 := statsOf(t, at.gw, gatewayDev), statsOf(t, at.rl, relayDev)
		quiet := gw1 == gw2 && rl1 == rl2
		if !quiet && attempt < 10 {
			continue
		}
		for _, l := range []struct {
			labels []string
			k1, k2 [8]uint64
		}{{gwL, gw1, gw2}, {rlL, rl1, rl2}} {
			for i, name := range statNames {
				v, ok := e.get(name, l.labels...)
				if !ok || v < float64(l.k1[i]) || v > float64(l.k2[i]) {
					t.Errorf("%s%v = %v (present %v); the kernel counted %d before the scrape and %d after", name, l.labels, v, ok, l.k1[i], l.k2[i])
				}
			}
		}
		rx, _ := e.get("amt_link_receive_packets_total", gwL...)
		tx, _ := e.get("amt_link_transmit_packets_total", rlL...)
		if rx < float64(before[0]+uint64(got)) || tx < float64(got) {
			t.Errorf("after %d datagrams through the tunnel: %s received %v packets (%d before them), %s sent %v", got, gatewayDev, rx, before[0], relayDev, tx)
		}
		t.Logf("scrape %d (kernel quiet around it: %v, %v): %s rx %v packets, %s tx %v packets", attempt, quiet, time.Since(t0).Round(time.Millisecond), gatewayDev, rx, relayDev, tx)
		break
	}

	// promtool on the real exposition.
	if promErr != nil {
		testenv.Skip(t, "promtool not installed (Debian package prometheus; make kernel-test installs it): %v", promErr)
	}
	t0 = time.Now()
	if _, err := io.WriteString(checkIn, body); err != nil {
		t.Fatalf("promtool's stdin: %v", err)
	}
	checkIn.Close()
	if err := check.Wait(); err != nil || len(bytes.TrimSpace(checkOut.Bytes())) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, checkOut.Bytes())
	}
	t.Logf("promtool check metrics: clean, %v after it had the body", time.Since(t0).Round(time.Millisecond))

	// The gateway's namespace goes away by that path: its series vanish,
	// a line says so, the others are still served.
	gwFile.Close()
	t0 = time.Now()
	s.waitFor(t, 10*time.Second, "the gone namespace dropped", func(e exposition) bool {
		up, _ := e.get("amt_netns_up", "netns="+gwNS)
		gone, _ := e.get("amt_netns_gone_total", "netns="+gwNS)
		_, relayThere := e.get("amt_link_up", rlL...)
		_, gwThere := e.get("amt_link_up", gwL...)
		return up == 0 && gone == 1 && relayThere && !gwThere
	})
	t.Logf("the gone namespace dropped out after %v", time.Since(t0).Round(time.Millisecond))
	want := fmt.Sprintf("amtctl: network namespace %q is gone (ip netns del?); its metrics are dropped until it is back", gwNS)
	select {
	case l := <-s.lines:
		if l != want {
			t.Errorf("stderr line %q, want %q", l, want)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no line on stderr within 10s; want %q", want)
	}
	t0 = time.Now()
	s.stop(t)
	t.Logf("stopped in %v", time.Since(t0).Round(time.Millisecond))
}
