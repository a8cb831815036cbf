package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/google/go-cmp/cmp"
)

// watchFake is the fake Backend plus Watch: it replays events, then either
// returns err or, with block, waits until monitor is told to stop.
type watchFake struct {
	*fake
	events  []amtlink.Event
	err     error
	block   bool
	opts    []amtlink.WatchOptions
	stopped bool // Watch saw its context end
}

func (w *watchFake) open(netns string) (Backend, error) {
	if _, err := w.fake.open(netns); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *watchFake) Watch(ctx context.Context, opt amtlink.WatchOptions, fn func(amtlink.Event) error) error {
	w.opts = append(w.opts, opt)
	if w.err != nil && len(w.events) == 0 {
		return w.err // as the real Watch fails: before it is ready
	}
	if opt.Ready != nil {
		opt.Ready()
	}
	for _, e := range w.events {
		if err := fn(e); err != nil {
			return err
		}
	}
	if w.block {
		select {
		case <-ctx.Done():
			w.stopped = true
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("watchFake: not stopped within 30s")
		}
	}
	return w.err
}

func runWatch(t *testing.T, w *watchFake, args ...string) (int, string, string) {
	t.Helper()
	return runWatchHooked(t, w, hooks{}, args...)
}

// runWatchHooked is runWatch with test hooks.
func runWatchHooked(t *testing.T, w *watchFake, h hooks, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(newRootCommand(w.open, h), args, &out, &errb)
	if w.closed != len(w.opened) {
		t.Errorf("backend opened %d times, closed %d times", len(w.opened), w.closed)
	}
	return code, out.String(), errb.String()
}

// status is the line monitor prints on stderr once it watches.
func status(where string, interval time.Duration) string {
	return "amtctl: monitoring amt links in " + where + " (gateways' relay polled every " + interval.String() + "); stop with Ctrl-C\n"
}

// sampleEvents is one of each event, on the sample links.
func sampleEvents() []amtlink.Event {
	links := sampleLinks()
	relay, gw, gw2 := links[0], links[1], links[2]
	at := time.Date(2026, 11, 25, 4, 5, 6, 789000000, time.UTC)
	up := gw
	up.Flags |= iffUp
	a := netip.MustParseAddr
	return []amtlink.Event{
		{Type: amtlink.EventCreated, Link: gw, Time: at},
		{Type: amtlink.EventCreated, Link: relay, Time: at},
		{Type: amtlink.EventUp, Link: up, Time: at},
		{Type: amtlink.EventRelayDiscovered, Link: up, Remote: a("10.0.0.1"), Time: at},
		{Type: amtlink.EventRelayChanged, Link: up, Remote: a("10.0.0.9"), Previous: a("10.0.0.1"), Time: at},
		{Type: amtlink.EventRelayLost, Link: up, Previous: a("10.0.0.9"), Time: at},
		{Type: amtlink.EventDown, Link: gw, Time: at},
		{Type: amtlink.EventResynced, Time: at},           // after ENOBUFS; what changed follows
		{Type: amtlink.EventCreated, Link: gw2, Time: at}, // lower device in another namespace
		{Type: amtlink.EventDeleted, Link: gw, Time: at},
	}
}

func TestMonitorText(t *testing.T) {
	t.Parallel()
	w := &watchFake{fake: newFake(), events: sampleEvents()}
	code, out, errOut := runWatch(t, w, "monitor")
	if code != 0 || errOut != status("this network namespace", 200*time.Millisecond) {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	want := `created amtg gateway local 10.0.0.2 dev veth-g
created amtr relay local 10.0.0.1 dev veth-r
up amtg
relay-discovered amtg 10.0.0.1
relay-changed amtg 10.0.0.9 (was 10.0.0.1)
relay-lost amtg (was 10.0.0.9)
down amtg
resynced (the kernel dropped notifications; links listed again)
created amtg2 gateway local 10.0.0.3 dev ifindex 9
deleted amtg
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("monitor output (-want +got):\n%s", diff)
	}
	if len(w.opts) != 1 || w.opts[0].PollInterval != amtlink.DefaultPollInterval {
		t.Errorf("Watch options %+v, want the default poll interval", w.opts)
	}
}

func TestMonitorJSON(t *testing.T) {
	t.Parallel()
	w := &watchFake{fake: newFake(), events: sampleEvents()}
	code, out, errOut := runWatch(t, w, "-n", "gw", "monitor", "-j", "--interval", "1s")
	if code != 0 || errOut != status(`network namespace "gw"`, time.Second) {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(w.events) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(w.events), out)
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", l, err)
		}
		got = append(got, m)
	}
	const ts = "2026-11-25T04:05:06.789Z"
	gw := func(event string, up bool, extra map[string]any) map[string]any {
		m := map[string]any{"time": ts, "event": event, "ifindex": float64(6), "ifname": "amtg", "mode": "gateway",
			"local": "10.0.0.2", "discovery": "10.0.0.1", "dev": "veth-g", "up": up}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want := []map[string]any{
		gw("created", false, nil),
		{"time": ts, "event": "created", "ifindex": float64(5), "ifname": "amtr", "mode": "relay", "local": "10.0.0.1", "dev": "veth-r", "up": true},
		gw("up", true, nil),
		gw("relay-discovered", true, map[string]any{"remote": "10.0.0.1"}),
		gw("relay-changed", true, map[string]any{"remote": "10.0.0.9", "previous": "10.0.0.1"}),
		gw("relay-lost", true, map[string]any{"previous": "10.0.0.9"}),
		gw("down", false, nil),
		{"time": ts, "event": "resynced"},
		{"time": ts, "event": "created", "ifindex": float64(7), "ifname": "amtg2", "mode": "gateway", "local": "10.0.0.3",
			"discovery": "10.0.0.1", "dev": "ifindex 9", "up": true},
		gw("deleted", false, nil),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("monitor -j (-want +got):\n%s", diff)
	}
	if len(w.opts) != 1 || w.opts[0].PollInterval != time.Second {
		t.Errorf("Watch options %+v, want PollInterval 1s", w.opts)
	}
	if diff := cmp.Diff([]string{"gw"}, w.opened); diff != "" {
		t.Errorf("namespaces opened (-want +got):\n%s", diff)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestMonitorErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		err  error
		code int
		want []string
	}{
		{"interval too short", words("monitor --interval 1ms"), nil, 2, []string{"--interval 1ms: too short", "10ms or more"}},
		{"interval negative", words("monitor --interval -1s"), nil, 2, []string{"--interval -1s: too short"}},
		{"interval not a duration", words("monitor --interval fast"), nil, 2, []string{`invalid argument "fast" for "--interval"`}},
		{"arguments", words("monitor amtg"), nil, 2, []string{`monitor takes no arguments, got "amtg"`}},
		{"permission", words("monitor"), &amtlink.Error{Op: "watch", Err: syscall.EPERM}, 1, []string{"watch: permission denied: needs root or CAP_NET_ADMIN"}},
		{"socket fails", words("monitor"), &amtlink.Error{Op: "watch", Err: syscall.EBADF}, 1, []string{"watch: bad file descriptor"}},
		{"other failure", words("monitor"), errors.New("boom"), 1, []string{"monitor: boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &watchFake{fake: newFake(), err: tc.err}
			code, out, errOut := runWatch(t, w, tc.args...)
			if code != tc.code || out != "" {
				t.Errorf("exit %d stdout %q, want %d and nothing", code, out, tc.code)
			}
			checkOneLine(t, errOut, tc.want)
			if tc.code == ExitUsage && len(w.opened) != 0 {
				t.Errorf("usage error, yet the backend was opened")
			}
		})
	}

	w := &watchFake{fake: newFake(), events: sampleEvents()}
	var errb bytes.Buffer
	code := Execute(NewRootCommand(w.open), []string{"monitor"}, failWriter{}, &errb)
	if code != 1 {
		t.Errorf("monitor with a broken stdout: exit %d, want 1", code)
	}
	// The status line, then the error.
	st := status("this network namespace", 200*time.Millisecond)
	if !strings.HasPrefix(errb.String(), st) {
		t.Errorf("stderr %q does not start with the status line", errb.String())
	}
	checkOneLine(t, strings.TrimPrefix(errb.String(), st), []string{"monitor: writing output", "broken pipe"})
}

func TestMonitorHelp(t *testing.T) {
	t.Parallel()
	w := &watchFake{fake: newFake()}
	code, out, _ := runWatch(t, w, "monitor", "--help")
	for _, s := range []string{"--interval", "default 200ms", "no notification", "relay-discovered NAME ADDR", "SIGTERM"} {
		if !strings.Contains(out, s) {
			t.Errorf("monitor --help lacks %q", s)
		}
	}
	if code != 0 || len(w.opened) != 0 {
		t.Errorf("monitor --help: code %d, opened %d backends", code, len(w.opened))
	}
}
