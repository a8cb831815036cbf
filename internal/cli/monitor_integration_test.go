//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
)

// runningMonitor is "amtctl -n NS monitor ..." running in-process, its
// stdout readable line by line.
type runningMonitor struct {
	lines <-chan string
	done  <-chan int // the exit status, once monitor returned
	errb  *bytes.Buffer
}

// startMonitor runs monitor with args in a goroutine and returns once it is
// watching. ctx, when not nil, is the command's context.
func startMonitor(t *testing.T, ctx context.Context, args ...string) *runningMonitor {
	t.Helper()
	ready := make(chan struct{})

	pr, pw := io.Pipe()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	done := make(chan int, 1)
	errb := &bytes.Buffer{}
	go func() {
		root := newRootCommand(OpenAMTLink, hooks{monitorReady: func() { close(ready) }})
		if ctx != nil {
			root.SetContext(ctx)
		}
		code := Execute(root, args, pw, errb)
		pw.Close()
		done <- code
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("amtctl %q ended before watching: exit %d, stderr %q", args, code, errb.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("amtctl %q not watching within 15s", args)
	}
	return &runningMonitor{lines: lines, done: done, errb: errb}
}

// next waits (bounded) for monitor's next line.
func (m *runningMonitor) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-m.lines:
		if !ok {
			t.Fatalf("monitor's output ended early; stderr %q", m.errb.String())
		}
		t.Logf("monitor: %s", l)
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("no monitor line within 20s")
	}
	return ""
}

// TestIntegrationMonitor runs "amtctl -n NS monitor" in-process against a
// real namespace while another goroutine adds, sets up and down, and
// deletes amt links with amtctl, and checks every line monitor prints, then
// stops it with SIGINT (exit 0).
func TestIntegrationMonitor(t *testing.T) {
	testenv.RequireAMT(t)
	t.Logf("kernel %s", testenv.KernelRelease())
	nsR, nsG := testenv.NewNetNS(t), testenv.NewNetNS(t)
	vethPair(t, nsR, "eth0", "10.0.0.1", nsG, "eth1", "10.0.0.2")
	pathR, pathG := testenv.NetNSPath(nsR), testenv.NetNSPath(nsG)
	amtctl := func(path string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(NewRootCommand(OpenAMTLink), append([]string{"-n", path}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errOut := amtctl(pathR, "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "up"); code != 0 || errOut != "" {
		t.Fatalf("add relay: exit %d, %q", code, errOut)
	}

	m := startMonitor(t, nil, "-n", pathG, "monitor", "--interval", "50ms")

	// The changes, from another goroutine, each step only after monitor
	// has reported the one before (step), so the order is fixed.
	step := make(chan string)
	failed := make(chan string, 1)
	go func() {
		for _, args := range [][]string{
			{"add", "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth1"},
			{"set", "amtg", "up"},
			{"set", "amtg", "down", "mtu", "1400"},
			{"set", "amtg", "up"},
			{"del", "amtg"},
		} {
			if _, ok := <-step; !ok {
				return
			}
			if code, _, errOut := amtctl(pathG, args...); code != 0 || errOut != "" {
				failed <- strings.Join(args, " ") + ": " + errOut
				return
			}
		}
	}()
	expectLines := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case f := <-failed:
				t.Fatalf("amtctl %s", f)
			default:
			}
			if got := m.next(t); got != w {
				t.Fatalf("monitor printed %q, want %q", got, w)
			}
		}
	}
	step <- "add"
	expectLines("created amtg gateway local 10.0.0.2 dev eth1")
	step <- "up"
	expectLines("up amtg", "relay-discovered amtg 10.0.0.1")
	step <- "down"
	expectLines("down amtg", "relay-lost amtg (was 10.0.0.1)")
	step <- "up"
	expectLines("up amtg", "relay-discovered amtg 10.0.0.1")
	step <- "del"
	expectLines("down amtg", "relay-lost amtg (was 10.0.0.1)", "deleted amtg")
	close(step)

	// SIGINT ends monitor cleanly.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-m.done:
		if want := status(`network namespace "`+pathG+`"`, 50*time.Millisecond); code != 0 || m.errb.String() != want {
			t.Errorf("monitor after SIGINT: exit %d, stderr %q; want 0 and only %q", code, m.errb.String(), want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("monitor still running 15s after SIGINT")
	}
	if l, ok := <-m.lines; ok {
		t.Errorf("monitor printed %q after the last change", l)
	}
}

// TestIntegrationMonitorJSON: monitor -j in a namespace, stopped through the
// command's context; and add's warnings and set against the kernel with -n.
func TestIntegrationMonitorJSON(t *testing.T) {
	testenv.RequireAMT(t)
	nsR, nsG := testenv.NewNetNS(t), testenv.NewNetNS(t)
	vethPair(t, nsR, "eth0", "10.0.0.1", nsG, "eth1", "10.0.0.2")
	pathR, pathG := testenv.NetNSPath(nsR), testenv.NetNSPath(nsG)
	amtctl := func(path string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(NewRootCommand(OpenAMTLink), append([]string{"-n", path}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errOut := amtctl(pathR, "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "up"); code != 0 || errOut != "" {
		t.Fatalf("add relay: exit %d, %q", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := startMonitor(t, ctx, "-n", pathG, "monitor", "-j")

	// add in another namespace with -n: the warning reads that namespace's
	// devices (local 10.0.0.9 is not on eth1 there).
	code, _, errOut := amtctl(pathG, "add", "amtg", "mode", "gateway", "local", "10.0.0.9", "discovery", "10.0.0.1", "dev", "eth1")
	if code != 0 || !strings.Contains(errOut, "amtctl: warning: local 10.0.0.9 is not an address of dev eth1") {
		t.Errorf("add with local not on dev, -n: exit %d stderr %q; want the warning", code, errOut)
	}
	if code, _, errOut := amtctl(pathG, "add", "amtg2", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth1"); code != 0 || errOut != "" {
		t.Errorf("add with local on dev, -n: exit %d stderr %q; want no warning", code, errOut)
	}
	code, out, errOut := amtctl(pathG, "-j", "set", "amtg2", "up", "mtu", "1300")
	if code != 0 || errOut != "" || !strings.Contains(out, `"mtu":1300,`) || !strings.Contains(out, `"UP"`) {
		t.Errorf("set amtg2 up mtu 1300: exit %d stdout %s stderr %q", code, out, errOut)
	}
	if code, _, errOut := amtctl(pathG, "set", "amtg2", "local", "10.0.0.3"); code != ExitUsage || !strings.Contains(errOut, "no changelink") {
		t.Errorf("set local: exit %d stderr %q; want exit 2 and the changelink explanation", code, errOut)
	}
	if code, _, errOut := amtctl(pathG, "set", "eth1", "down"); code != ExitError || !strings.Contains(errOut, "eth1 is not an amt link") {
		t.Errorf("set on a veth: exit %d stderr %q", code, errOut)
	}

	type ev struct {
		Time, Event, Ifname, Mode, Local, Discovery, Dev, Remote, Previous string
		Ifindex                                                            uint32
		Up                                                                 bool
	}
	var got []ev
	for len(got) < 4 {
		var e ev
		l := m.next(t)
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || e.Ifindex == 0 {
			t.Errorf("line %q: time %q (%v), ifindex %d", l, e.Time, err, e.Ifindex)
		}
		got = append(got, e)
	}
	want := []struct{ event, name string }{{"created", "amtg"}, {"created", "amtg2"}, {"up", "amtg2"}, {"relay-discovered", "amtg2"}}
	for i, w := range want {
		if got[i].Event != w.event || got[i].Ifname != w.name {
			t.Errorf("event %d: %s %s, want %s %s", i, got[i].Event, got[i].Ifname, w.event, w.name)
		}
	}
	if g := got[1]; g.Mode != "gateway" || g.Local != "10.0.0.2" || g.Discovery != "10.0.0.1" || g.Dev != "eth1" || g.Up {
		t.Errorf("created amtg2: %+v", g)
	}
	if g := got[3]; g.Remote != "10.0.0.1" || !g.Up {
		t.Errorf("relay-discovered: %+v, want remote 10.0.0.1", g)
	}

	cancel()
	select {
	case code := <-m.done:
		if want := status(`network namespace "`+pathG+`"`, 200*time.Millisecond); code != 0 || m.errb.String() != want {
			t.Errorf("monitor after cancel: exit %d, stderr %q; want 0 and only %q", code, m.errb.String(), want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("monitor still running 15s after its context ended")
	}
}
