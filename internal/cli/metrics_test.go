package cli

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtmetrics"
)

// serveHere is what amtctl-metrics passes: the real server, in-process.
var serveHere = WithMetricsServer(amtmetrics.Serve)

// runMetrics runs amtctl with h and opts on open, returning its exit
// status and output.
func runMetrics(t *testing.T, open Opener, h hooks, opts []Option, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(newRootCommand(open, h, opts...), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestMetricsUsage: bad input is one line, exit 2, and opens nothing.
func TestMetricsUsage(t *testing.T) {
	t.Parallel()
	fix := "give HOST:PORT, such as :9477, 127.0.0.1:9477 or [::1]:9477"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"metrics"}, "metrics: --listen is required; " + fix},
		{[]string{"metrics", "--listen", "9477"}, `metrics: --listen "9477": not HOST:PORT; ` + fix},
		{[]string{"metrics", "--listen", ":http"}, `metrics: --listen ":http": port "http" is not a number from 0 to 65535; ` + fix},
		{[]string{"metrics", "--listen", ":65536"}, `metrics: --listen ":65536": port "65536" is not a number from 0 to 65535; ` + fix},
		{[]string{"metrics", "--listen", "prom.example:9477"}, `metrics: --listen "prom.example:9477": host "prom.example" is not an IP address; ` + fix},
		{[]string{"metrics", "--listen", ":0", "--interval", "1ms"}, "--interval 1ms: too short; use 10ms or more, such as 200ms (how late relay events may be counted)"},
		{[]string{"metrics", "--listen", ":0", "-n", "gw", "-n", "gw"}, `-n "gw" is given twice; name each network namespace once`},
		{[]string{"metrics", "--listen", ":0", "extra"}, `metrics takes no arguments, got "extra"; usage: amtctl metrics --listen ADDR [-n NS]... [--interval D]`},
		{[]string{"metrics", "--listen", ":0", "-n", "nope"}, `metrics: -n: network namespace "nope" not found (ip netns add nope?): file does not exist`}, // multiFake's wording
	} {
		spaces := multiFake{"": newFake(), "gw": newFake()}
		code, out, errOut := runMetrics(t, spaces.open, hooks{}, []Option{serveHere}, tc.args...)
		if code != ExitUsage || out != "" || errOut != "amtctl: "+tc.want+"\n" {
			t.Errorf("amtctl-metrics %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		for ns, f := range spaces {
			if f.closed != len(f.opened) {
				t.Errorf("amtctl %q: namespace %q opened %d times, closed %d", tc.args, ns, len(f.opened), f.closed)
			}
		}
		if strings.Contains(tc.want, `"nope" not found`) {
			continue // amtctl-metrics opens the namespaces, not amtctl
		}
		// amtctl, which execs amtctl-metrics, says the same and execs
		// nothing.
		h := hooks{metricsExec: func(path string, _, _ []string) error {
			t.Errorf("amtctl %q: exec'ed %s", tc.args, path)
			return nil
		}}
		code, out, errOut = runMetrics(t, spaces.open, h, nil, tc.args...)
		if code != ExitUsage || out != "" || errOut != "amtctl: "+tc.want+"\n" {
			t.Errorf("amtctl %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// metricsRun is "amtctl metrics" running in-process on fakes.
type metricsRun struct {
	addr string
	stop chan struct{}
	done chan int
	errb *bytes.Buffer
}

func startMetrics(t *testing.T, open Opener, args ...string) *metricsRun {
	t.Helper()
	m := &metricsRun{stop: make(chan struct{}), done: make(chan int, 1), errb: &bytes.Buffer{}}
	ready := make(chan string, 1)
	h := hooks{metricsSignals: m.stop, metricsRecheck: time.Hour, metricsReady: func(addr string) { ready <- addr }}
	go func() {
		m.done <- Execute(newRootCommand(open, h, serveHere), args, io.Discard, m.errb)
	}()
	select {
	case m.addr = <-ready:
	case code := <-m.done:
		t.Fatalf("amtctl %q ended before serving: exit %d, stderr %q", args, code, m.errb.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("amtctl %q not serving within 15s", args)
	}
	return m
}

// end stops metrics as SIGTERM does and returns its exit status.
func (m *metricsRun) end(t *testing.T) int {
	t.Helper()
	close(m.stop)
	select {
	case code := <-m.done:
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("metrics did not stop within 15s")
	}
	return -1
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// TestMetricsServe serves two fake namespaces, the current one and gw,
// over real HTTP on loopback: /metrics has their links, /healthz says ok;
// when gw goes away its series vanish and a line says so; the end is exit 0
// with every namespace closed.
func TestMetricsServe(t *testing.T) {
	here := &watchFake{fake: newFake(), block: true}
	here.links = sampleLinks()[:2]
	gw := &watchFake{fake: newFake(), block: true}
	gw.links = sampleLinks()[2:]
	open := func(ns string) (Backend, error) {
		switch ns {
		case "":
			return here.open(ns)
		case "gw":
			return gw.open(ns)
		}
		return multiFake{}.open(ns)
	}
	m := startMetrics(t, open, "metrics", "--listen", "127.0.0.1:0", "-n", "", "-n", "gw")
	base := "http://" + m.addr
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d", code)
	}
	for _, want := range []string{
		`amt_link_receive_packets_total{link="amtr",netns=""} 12`,
		`amt_link_transmit_bytes_total{link="amtr",netns=""} 3400`,
		`amt_link_info{dev="veth-r",discovery="0.0.0.0",gateway_port="2268",link="amtr",local="10.0.0.1",max_tunnels="128",mode="relay",netns="",relay_port="2268"} 1`,
		`amt_gateway_relay_known{link="amtg",netns="",relay=""} 0`,
		`amt_gateway_relay_known{link="amtg2",netns="gw",relay="10.0.0.1"} 1`,
		`amt_netns_up{netns="gw"} 1`,
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := httpGet(t, base+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: status %d, want 404", code)
	}

	gw.gone = true
	_, body = httpGet(t, base+"/metrics")
	if strings.Contains(body, `netns="gw"}`) && !strings.Contains(body, `amt_netns_up{netns="gw"} 0`) || strings.Contains(body, `link="amtg2"`) {
		t.Errorf("after gw went away, /metrics still has its links or lacks amt_netns_up 0:\n%s", body)
	}
	if code := m.end(t); code != 0 {
		t.Errorf("exit %d, want 0; stderr %q", code, m.errb.String())
	}
	wantErr := "amtctl: serving amt metrics of 2 network namespaces at http://" + m.addr + "/metrics; stop with Ctrl-C\n" +
		`amtctl: network namespace "gw" is gone (ip netns del?); its metrics are dropped until it is back` + "\n"
	if got := m.errb.String(); got != wantErr {
		t.Errorf("stderr %q, want %q", got, wantErr)
	}
	if here.closed != 1 || gw.closed != 1 {
		t.Errorf("closed: current namespace %d times, gw %d times; want once each", here.closed, gw.closed)
	}
}

// TestMetricsListenFails: an address that cannot be had is exit 1, one
// line, namespaces closed.
func TestMetricsListenFails(t *testing.T) {
	w := &watchFake{fake: newFake(), block: true}
	m := startMetrics(t, w.open, "metrics", "--listen", "127.0.0.1:0")
	other := &watchFake{fake: newFake(), block: true}
	code, _, errOut := runMetrics(t, other.open, hooks{}, []Option{serveHere}, "metrics", "--listen", m.addr)
	if other.closed != len(other.opened) {
		t.Errorf("backend opened %d times, closed %d times", len(other.opened), other.closed)
	}
	if want := "amtctl: metrics: --listen " + m.addr + ": bind: address already in use; pick another address or port\n"; code != ExitError || errOut != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	m.end(t)
}
