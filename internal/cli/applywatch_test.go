package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/google/go-cmp/cmp"
)

// subFake is a fake namespace that also reports notifications: what a
// test queues on notes. The watch loop runs every request on its own
// goroutine, and tests change the fake from the loop's goroutine too (see
// watchRun.step), so the fake needs no lock.
type subFake struct {
	*fake
	notes chan amtlink.Notification
	subs  int // Subscribe calls
}

func newSubFake() *subFake {
	return &subFake{fake: newFake(), notes: make(chan amtlink.Notification, 16)}
}

func (s *subFake) Subscribe(ctx context.Context, opt amtlink.SubscribeOptions, fn func(amtlink.Notification) error) error {
	s.subs++
	if opt.Ready != nil {
		opt.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-s.notes:
			if err := fn(n); err != nil {
				return err
			}
		}
	}
}

// subSpaces are fake namespaces by name; a name not in it does not exist.
type subSpaces struct {
	mu     sync.Mutex
	spaces map[string]*subFake
}

func (m *subSpaces) open(netns string) (Backend, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.spaces[netns]
	if !ok {
		return nil, fmt.Errorf("network namespace %q not found: %w", netns, os.ErrNotExist)
	}
	if _, err := f.fake.open(netns); err != nil {
		return nil, err
	}
	return f, nil
}

// syncBuffer is an output that a test reads while the command writes it.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	read int
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// next returns what was written since the last call.
func (b *syncBuffer) next() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()[b.read:]
	b.read = b.b.Len()
	return s
}

// watchRun is "amtctl apply --watch" running in-process on fakes. The test
// acts only while the loop is idle, from the loop's goroutine (step), so
// nothing needs a lock or a sleep.
type watchRun struct {
	t     *testing.T
	steps chan func() bool
	sigs  chan os.Signal
	tick  chan time.Time
	out   *syncBuffer
	errb  *syncBuffer
	done  chan int
}

func startApplyWatch(t *testing.T, open Opener, args ...string) *watchRun {
	t.Helper()
	return startApplyWatchEnv(t, open, func(string) string { return "" }, args...)
}

// startApplyWatchEnv is startApplyWatch with getenv for the systemd
// variables (startApplyWatch: none, whatever the test's environment).
func startApplyWatchEnv(t *testing.T, open Opener, getenv func(string) string, args ...string) *watchRun {
	t.Helper()
	return startApplyWatchHooked(t, open, hooks{getenv: getenv}, args...)
}

// startApplyWatchHooked is startApplyWatch with hooks h, whose signals,
// ticker and idle hook it replaces.
func startApplyWatchHooked(t *testing.T, open Opener, h hooks, args ...string) *watchRun {
	t.Helper()
	if h.getenv == nil {
		h.getenv = func(string) string { return "" }
	}
	r := &watchRun{t: t, steps: make(chan func() bool), sigs: make(chan os.Signal, 1), tick: make(chan time.Time, 1),
		out: &syncBuffer{}, errb: &syncBuffer{}, done: make(chan int, 1)}
	h.watchSignals, h.watchTick, h.watchIdle = r.sigs, r.tick, func() {
		for f := range r.steps {
			if f() {
				return
			}
		}
	}
	go func() {
		r.done <- Execute(newRootCommand(open, h), args, r.out, r.errb)
		close(r.steps)
	}()
	return r
}

// step runs fn on the loop's goroutine once the loop is idle: everything
// the steps before caused has been handled. fn returns whether it woke the
// loop (queued a notification, a signal or a tick).
func (r *watchRun) step(fn func() bool) {
	r.t.Helper()
	ran := make(chan struct{})
	select {
	case r.steps <- func() bool { defer close(ran); return fn() }:
		<-ran
	case code := <-r.done:
		r.t.Fatalf("apply --watch ended: exit %d, stderr %q", code, r.errb.next())
	case <-time.After(20 * time.Second):
		r.t.Fatalf("apply --watch not idle within 20s; stdout %q", r.out.next())
	}
}

// expect checks, once the loop is idle, the lines printed since the last
// check.
func (r *watchRun) expect(want ...string) {
	r.t.Helper()
	var got string
	r.step(func() bool { got = r.out.next(); return false })
	w := strings.Join(want, "\n")
	if w != "" {
		w += "\n"
	}
	if diff := cmp.Diff(w, got); diff != "" {
		r.t.Errorf("apply --watch printed (-want +got):\n%s", diff)
	}
}

// stop sends SIGTERM and checks that apply exits 0.
func (r *watchRun) stop() {
	r.t.Helper()
	r.step(func() bool { r.sigs <- syscall.SIGTERM; return true })
	select {
	case code := <-r.done:
		if code != 0 {
			r.t.Errorf("apply --watch after SIGTERM: exit %d, stderr %q", code, r.errb.next())
		}
	case <-time.After(20 * time.Second):
		r.t.Fatalf("apply --watch still running 20s after SIGTERM")
	}
}

const watchFile = `links:
  - name: amtg
    mode: gateway
    local: 10.0.0.2
    discovery: 10.0.0.1
    dev: eth0
    up: true
  - name: amtr
    mode: relay
    local: 10.0.0.1
    dev: veth0
    relay_port: 2300
`

func amtNote(typ amtlink.NotificationType, name, kind string) amtlink.Notification {
	return amtlink.Notification{Type: typ, Device: amtlink.Device{Name: name, Kind: kind}}
}

// TestApplyWatch: converge, then put back a link deleted by hand, set one
// brought down, ignore devices the file does not use, log a failure once
// and create the link when its lower device comes back, resync after an
// overrun, and leave everything in place on SIGTERM.
func TestApplyWatch(t *testing.T) {
	t.Parallel()
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	file := writeFile(t, "links.yaml", watchFile)
	r := startApplyWatch(t, sp.open, "apply", "--watch", "-f", file)
	r.expect(
		"created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up",
		"created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300",
	)
	if got := r.errb.next(); got != "amtctl: watching 2 link(s) of "+file+" in 1 namespace(s), resync every 30s; reload with SIGHUP, stop with SIGTERM or Ctrl-C\n" {
		t.Errorf("stderr %q", got)
	}

	// Deleted by hand: back.
	r.step(func() bool {
		_ = f.fake.Delete("amtg")
		f.notes <- amtNote(amtlink.NotifyLinkDeleted, "amtg", amtlink.Kind)
		return true
	})
	r.expect("created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up")

	// Brought down by hand: up again, in place.
	r.step(func() bool {
		_, _ = f.fake.Set("amtg", amtlink.Change{Up: new(bool)})
		f.notes <- amtNote(amtlink.NotifyLink, "amtg", amtlink.Kind)
		return true
	})
	r.expect("set amtg: down → up")

	// A device the file does not use costs nothing.
	var lists int
	r.step(func() bool {
		lists = f.lists
		f.notes <- amtNote(amtlink.NotifyLink, "vlan7", "vlan")
		return true
	})
	r.step(func() bool {
		if f.lists != lists {
			t.Errorf("a notification for vlan7 listed the links %d time(s), want none", f.lists-lists)
		}
		return false
	})
	r.expect()

	// The lower device goes, with its amt link (the driver deletes it):
	// the failure is logged once, however often it is retried.
	r.step(func() bool {
		f.ifs = f.ifs[:2] // lo, eth0: veth0 and br0 are gone
		_ = f.fake.Delete("amtr")
		f.notes <- amtNote(amtlink.NotifyLinkDeleted, "veth0", "veth")
		return true
	})
	r.expect(`failed create amtr: dev "veth0" not found in this network namespace; check the device names (ip link show)`)
	r.step(func() bool { f.notes <- amtNote(amtlink.NotifyLinkDeleted, "amtr", amtlink.Kind); return true })
	r.expect()
	// It comes back: so does amtr.
	r.step(func() bool {
		f.ifs = newFake().ifs
		f.notes <- amtNote(amtlink.NotifyLink, "veth0", "veth")
		return true
	})
	r.expect("created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300")

	// An overrun: said, and converged.
	r.step(func() bool {
		_ = f.fake.Delete("amtg")
		f.notes <- amtlink.Notification{Type: amtlink.NotifyResync}
		return true
	})
	r.expect("resynced: the kernel dropped notifications (receive buffer overrun); links listed again",
		"created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up")

	// A periodic resync: one listing, nothing to do, nothing said.
	r.step(func() bool { lists = f.lists; r.tick <- time.Now(); return true })
	r.step(func() bool {
		if f.lists != lists+1 {
			t.Errorf("a resync listed the links %d time(s), want once", f.lists-lists)
		}
		return false
	})
	r.expect()

	r.stop()
	if names := linkNames(f.links); !cmp.Equal(names, []string{"amtr", "amtg"}) {
		t.Errorf("links after SIGTERM: %q, want both left in place", names)
	}
	if f.closed != len(f.opened) {
		t.Errorf("backend opened %d times, closed %d times", len(f.opened), f.closed)
	}
}

func linkNames(ls []amtlink.Link) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

// TestApplyWatchReload: SIGHUP with a broken file keeps the old links,
// with one line per problem; with a good one, the new file is converged.
func TestApplyWatchReload(t *testing.T) {
	t.Parallel()
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	file := writeFile(t, "links.yaml", watchFile)
	r := startApplyWatch(t, sp.open, "apply", "--watch", "--prune", "-f", file)
	r.expect(
		"created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up",
		"created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300",
	)
	r.errb.next()

	r.step(func() bool {
		if err := os.WriteFile(file, []byte("links:\n  - name: amtg\n    mode: gateway\n    local: 10.0.0.300\n    bogus: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r.sigs <- syscall.SIGHUP
		return true
	})
	r.expect("reload refused: apply: " + file + " has 4 problem(s); nothing was changed; keeping the 2 link(s) of the previous file")
	var errOut string
	r.step(func() bool { errOut = r.errb.next(); return false })
	if n := strings.Count(errOut, "\n"); n != 4 || !strings.Contains(errOut, `unknown key "bogus"`) || !strings.Contains(errOut, "10.0.0.300") {
		t.Errorf("stderr after a broken reload: %d line(s), want 4, one per problem:\n%s", n, errOut)
	}
	// The old file still holds.
	r.step(func() bool {
		_ = f.fake.Delete("amtr")
		f.notes <- amtNote(amtlink.NotifyLinkDeleted, "amtr", amtlink.Kind)
		return true
	})
	r.expect("created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300")

	r.step(func() bool {
		if err := os.WriteFile(file, []byte(watchFile[:strings.Index(watchFile, "  - name: amtr")]+"    mtu: 1400\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r.sigs <- syscall.SIGHUP
		return true
	})
	r.expect("reloaded "+file+": 1 link(s) in 1 namespace(s)",
		"deleted amtr: not in the file (--prune)",
		"set amtg: mtu 1476 → 1400")
	r.stop()
	if f.subs != 2 {
		t.Errorf("%d subscriptions, want 2: the first, none for the refused file, one for the reload", f.subs)
	}
}

// TestApplyWatchNamespaces: links in two namespaces, one of which appears
// only later and is picked up at the next resync (its name was not seen
// appearing); JSON lines with -j.
func TestApplyWatchNamespaces(t *testing.T) {
	t.Parallel()
	a, b := newSubFake(), newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"a": a}}
	file := writeFile(t, "links.yaml", `links:
  - {name: amtr, netns: a, mode: relay, local: 10.0.0.1, dev: eth0}
  - {name: amtr, netns: b, mode: relay, local: 10.0.0.1, dev: eth0}
`)
	r := startApplyWatchHooked(t, sp.open, hooks{netnsDir: t.TempDir()}, "-j", "apply", "--watch", "-f", file)
	var got []watchLogJSON
	read := func() {
		r.step(func() bool {
			for _, l := range strings.Split(strings.TrimSpace(r.out.next()), "\n") {
				var j watchLogJSON
				if err := json.Unmarshal([]byte(l), &j); err != nil {
					t.Errorf("line %q: %v", l, err)
				}
				if _, err := time.Parse(time.RFC3339Nano, j.Time); err != nil {
					t.Errorf("line %q: time: %v", l, err)
				}
				j.Time = ""
				got = append(got, j)
			}
			return false
		})
	}
	read()
	r.step(func() bool {
		sp.mu.Lock()
		sp.spaces["b"] = b
		sp.mu.Unlock()
		r.tick <- time.Now()
		return true
	})
	read()
	r.stop()
	want := []watchLogJSON{
		{Action: "waiting", Netns: "b", Msg: "waiting for netns b: not found (ip netns add b?); opened as soon as it is added"},
		{Action: "created", Netns: "a", Ifname: "amtr", Msg: "created amtr (netns a): mode relay local 10.0.0.1 dev eth0"},
		{Action: "created", Netns: "b", Ifname: "amtr", Msg: "created amtr (netns b): mode relay local 10.0.0.1 dev eth0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("apply --watch -j (-want +got):\n%s", diff)
	}
	if a.subs != 1 || b.subs != 1 {
		t.Errorf("subscriptions: a %d, b %d; want one each", a.subs, b.subs)
	}
}

// TestApplyWatchNetnsDir: a namespace the file names is opened as soon as
// its name appears in the namespace directory (inotify; here a directory
// of the test's), tried again while it cannot be opened yet (ip netns add
// creates the file before it bind-mounts the namespace); one deleted is
// let go of, said once, and its links put back when it is added again.
func TestApplyWatchNetnsDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, b2 := newSubFake(), newSubFake(), newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"a": a}}
	file := writeFile(t, "links.yaml", `links:
  - {name: amtr, netns: a, mode: relay, local: 10.0.0.1, dev: eth0}
  - {name: amtr, netns: b, mode: relay, local: 10.0.0.1, dev: eth0}
`)
	// A name whose file is there but is no namespace yet (ip netns add
	// has not bind-mounted it) fails as OpenNetNS does, not with
	// os.ErrNotExist.
	open := func(netns string) (Backend, error) {
		be, err := sp.open(netns)
		if _, serr := os.Stat(filepath.Join(dir, netns)); errors.Is(err, os.ErrNotExist) && serr == nil {
			return nil, fmt.Errorf("open netns %q: not a network namespace (the file is not a namespace; is the bind mount gone?)", netns)
		}
		return be, err
	}
	r := startApplyWatchHooked(t, open, hooks{netnsDir: dir}, "apply", "--watch", "-f", file)
	r.expect("waiting for netns b: not found (ip netns add b?); opened as soon as it is added",
		"created amtr (netns a): mode relay local 10.0.0.1 dev eth0")
	name := filepath.Join(dir, "b")
	// The file first, the namespace not yet openable: retried.
	r.step(func() bool {
		if err := os.WriteFile(name, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		return true // the inotify event wakes the loop
	})
	r.expect()
	r.step(func() bool {
		sp.mu.Lock()
		sp.spaces["b"] = b
		sp.mu.Unlock()
		return true // the next retry finds it
	})
	r.expect("created amtr (netns b): mode relay local 10.0.0.1 dev eth0")

	// Deleted: let go of, once.
	r.step(func() bool {
		b.fake.gone = true
		sp.mu.Lock()
		delete(sp.spaces, "b")
		sp.mu.Unlock()
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		return true
	})
	r.expect("lost netns b: it is gone (ip netns del?); its links are put back when it is there again, opened as soon as it is added")
	// A resync while it is away says nothing more.
	r.step(func() bool { r.tick <- time.Now(); return true })
	r.expect()

	// Added again: its link is put back.
	r.step(func() bool {
		sp.mu.Lock()
		sp.spaces["b"] = b2
		sp.mu.Unlock()
		if err := os.WriteFile(name, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		return true
	})
	r.expect("created amtr (netns b): mode relay local 10.0.0.1 dev eth0")
	r.stop()
	if a.subs != 1 || b.subs != 1 || b2.subs != 1 {
		t.Errorf("subscriptions: a %d, b %d, b again %d; want one each", a.subs, b.subs, b2.subs)
	}
	if _, err := b2.Get("amtr"); err != nil {
		t.Errorf("amtr in the namespace added again: %v", err)
	}
}

// TestApplyWatchNetnsDirLater: the namespace directory itself does not
// exist when apply starts (no ip netns add yet on this machine): its
// parent is watched, and a namespace in the directory made later is
// opened at once.
func TestApplyWatchNetnsDirLater(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "netns")
	b := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{}}
	file := writeFile(t, "links.yaml", "links:\n  - {name: amtr, netns: b, mode: relay, local: 10.0.0.1, dev: eth0}\n")
	r := startApplyWatchHooked(t, sp.open, hooks{netnsDir: dir}, "apply", "--watch", "-f", file)
	r.expect("waiting for netns b: not found (ip netns add b?); opened as soon as it is added")
	// One step per inotify event, each waking the loop once: the
	// directory (seen by the parent's watch, which then watches it) ...
	r.step(func() bool {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return true
	})
	r.expect()
	// ... then the namespace in it.
	r.step(func() bool {
		if err := os.WriteFile(filepath.Join(dir, "b"), nil, 0o444); err != nil {
			t.Fatal(err)
		}
		sp.mu.Lock()
		sp.spaces["b"] = b
		sp.mu.Unlock()
		return true
	})
	r.expect("created amtr (netns b): mode relay local 10.0.0.1 dev eth0")
	r.stop()
}

func TestApplyWatchUsage(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "links.yaml", watchFile)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--watch", "--dry-run", "-f", file}, "--dry-run and --watch cannot be combined"},
		{[]string{"apply", "--watch", "-f", "-"}, "--watch needs a file it can read again on SIGHUP"},
		{[]string{"apply", "--watch", "--resync", "10ms", "-f", file}, "--resync 10ms: too short; use 1s or more"},
		{[]string{"apply", "--resync", "1m", "-f", file}, "--resync only applies with --watch"},
	} {
		f := newSubFake()
		code, out, errOut := runWith(t, (&subSpaces{spaces: map[string]*subFake{"": f}}).open, "", tc.args...)
		if code != ExitUsage || out != "" || len(f.opened) != 0 {
			t.Errorf("%q: exit %d stdout %q, opened %d; want 2, nothing, none", tc.args, code, out, len(f.opened))
		}
		checkOneLine(t, errOut, []string{tc.want})
	}
}

// BenchmarkApplyWatchResync1000 is one resync of 1,000 links that match the
// file: one listing (one dump; the fake counts them) and a plan with nothing
// in it. BenchmarkIntegrationApplyWatchResync1000 is the same on the real
// kernel, its requests counted by the kernel.
func BenchmarkApplyWatchResync1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("links:\n")
	f := newFake()
	for i := range 1000 {
		name := fmt.Sprintf("amt%d", i)
		fmt.Fprintf(&sb, "  - {name: %s, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: %d, up: true}\n", name, 2000+i)
		s, err := parseAdd([]string{name, "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "relay_port", fmt.Sprint(2000 + i), "up"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Create(s); err != nil {
			b.Fatal(err)
		}
	}
	links, probs := parseApplyFile(strings.NewReader(sb.String()))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	ns := &nsState{b: f, links: links}
	w := &applyWatch{d: &desired{spaces: []*nsState{ns}}, failed: map[string]string{}, log: watchLog{w: &bytes.Buffer{}, now: time.Now}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w.converge(ns)
	}
	b.StopTimer()
	b.ReportMetric(float64(f.lists)/float64(b.N), "dumps/resync")
	if f.lists != b.N {
		b.Errorf("%d listings for %d resyncs, want one each", f.lists, b.N)
	}
	if out := w.log.w.(*bytes.Buffer).String(); out != "" {
		b.Errorf("a resync of converged links said %q", out)
	}
}
