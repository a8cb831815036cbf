//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/jsimonetti/rtnetlink/v2"
)

// burstVLANs is how many VLANs the overrun test deletes at once, through
// their parent: more notifications than a socket's buffer holds.
const burstVLANs = 2000

func linkIndex(t *testing.T, c *rtnetlink.Conn, name string) uint32 {
	t.Helper()
	links, err := c.Link.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l.Index
		}
	}
	t.Fatalf("no link %s", name)
	return 0
}

// deleteLink deletes name in ns, and whatever sits on it.
func deleteLink(t *testing.T, ns *os.File, name string) {
	t.Helper()
	c := dialNS(t, ns)
	if err := c.Link.Delete(linkIndex(t, c, name)); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// lineReader hands out the lines written to its pipe, logging each under
// who.
func lineReader(t *testing.T, who string) (*io.PipeWriter, <-chan string) {
	pr, pw := io.Pipe()
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			t.Logf("%s: %s", who, sc.Text())
			lines <- sc.Text()
		}
	}()
	return pw, lines
}

// waitLine waits (bounded) for a line starting with prefix, skipping
// others.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within 30s", prefix)
		}
	}
}

// backWithin waits until kc has the amt link name again, failing after
// limit.
func backWithin(t *testing.T, kc *amtlink.Client, name string, limit time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for {
		if _, err := kc.Get(name); err == nil {
			t.Logf("%s: %s back after %v", what, name, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: %s not back within %v", what, name, limit)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel, which says nothing when asked to wait
	}
}

// watching is "amtctl -n NS apply --watch -f FILE" running in-process.
type watching struct {
	lines <-chan string
	done  <-chan int // the exit status, once apply returned
	errb  *bytes.Buffer
}

// startKernelWatch runs apply --watch on file in the namespace path with
// the hooks h (whose watchReady it sets) and apply's flags extra, and
// returns once it has converged and watches.
func startKernelWatch(t *testing.T, path, file string, h hooks, extra ...string) *watching {
	t.Helper()
	ready := make(chan struct{})
	h.watchReady = func() { close(ready) }
	pw, lines := lineReader(t, "apply")
	done := make(chan int, 1)
	errb := &bytes.Buffer{}
	go func() {
		code := Execute(newRootCommand(OpenAMTLink, h), append([]string{"-n", path, "apply", "--watch", "-f", file}, extra...), pw, errb)
		pw.Close()
		done <- code
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("apply --watch ended: exit %d, stderr %q", code, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatal("apply --watch not ready within 20s")
	}
	return &watching{lines: lines, done: done, errb: errb}
}

// exited waits (bounded) for what to end, and checks it ended with exit 0.
func exited(t *testing.T, what string, done <-chan int, errb *bytes.Buffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("%s: exit %d, stderr %q; want 0", what, code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still running after 20s", what)
	}
}

// rewrite replaces the apply file's text.
func rewrite(t *testing.T, file, text string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const amtrFile = "links:\n  - {name: amtr, mode: relay, local: 10.0.0.1, dev: eth0, up: true}\n"

// TestIntegrationApplyWatch runs "amtctl -n NS apply --watch" in-process on
// a real namespace: a link whose lower device is deleted and re-created is
// back within a second, so is one deleted by hand; SIGHUP with a broken
// file keeps the old links; SIGTERM ends it with exit 0 and leaves the
// link.
func TestIntegrationApplyWatch(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	kc := nsClient(t, ns)
	file := writeFile(t, "links.yaml", amtrFile)
	w := startKernelWatch(t, testenv.NetNSPath(ns), file, hooks{})
	waitLine(t, w.lines, "created amtr: mode relay local 10.0.0.1 dev eth0 up")

	// The lower device deleted (the driver deletes amtr with it) and
	// re-created.
	deleteLink(t, ns, "eth0")
	addDummy(t, ns, "eth0", "10.0.0.1")
	backWithin(t, kc, "amtr", time.Second, "eth0 re-created")

	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand")

	// SIGHUP with a broken file: refused, the old links kept.
	rewrite(t, file, "links:\n  - {name: amtr, mode: relay, local: nope}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, w.lines, "reload refused: ")
	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand after a refused reload")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited(t, "apply --watch after SIGTERM", w.done, w.errb)
	if _, err := kc.Get("amtr"); err != nil {
		t.Errorf("after SIGTERM: %v; want amtr left in place", err)
	}
}

// TestIntegrationOverrun is the kernel test of every notification reader
// against a receive-buffer overrun, all four on one burst (creating and
// deleting 2,000 VLANs is most of what this costs under TCG): in one
// namespace, "amtctl apply --watch" held busy, "amtctl monitor" held in its
// Ready, and pkg/amtlink's Subscribe and Watch held in theirs, while a
// dummy carrying 2,000 VLANs is deleted, which sends its 2,001 RTM_DELLINKs
// at once. Each must say it resynced and go on: the next amt link created
// is reported by monitor ("created amtx ..."), by Subscribe (a link
// notification) and by Watch (its events exactly resynced, created amtx);
// apply still puts back a link deleted by hand within a second. One SIGTERM
// then ends apply and monitor with exit 0.
func TestIntegrationOverrun(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	// The VLANs first, while nothing listens: their creation overruns no
	// one, so every resync below comes from their deletion.
	start := time.Now()
	testenv.AddVLANs(t, ns, "bulk0", burstVLANs)
	t.Logf("%d VLANs created in %v", burstVLANs, time.Since(start).Round(time.Millisecond))
	path := testenv.NetNSPath(ns)
	kc := nsClient(t, ns)
	file := writeFile(t, "links.yaml", amtrFile)

	// Every reader is held until the burst is over: apply in watchIdle,
	// the others in their Ready.
	release := make(chan struct{})
	var busy atomic.Bool
	w := startKernelWatch(t, path, file, hooks{watchIdle: func() {
		if busy.Load() {
			<-release
		}
	}})
	waitLine(t, w.lines, "created amtr: mode relay local 10.0.0.1 dev eth0 up")
	busy.Store(true)
	ready := make(chan string, 3)
	hold := func(who string) func() { return func() { ready <- who; <-release } }

	mpw, mlines := lineReader(t, "monitor")
	mdone := make(chan int, 1)
	merrb := &bytes.Buffer{}
	go func() {
		root := newRootCommand(OpenAMTLink, hooks{monitorReady: hold("monitor")})
		code := Execute(root, []string{"-n", path, "monitor"}, mpw, merrb)
		mpw.Close()
		mdone <- code
	}()

	// The library's readers, each reporting its first overrun on
	// resynced, and its whole story on done once it saw amtx.
	type story struct {
		who string
		got []string
		err error
	}
	resynced, done := make(chan string, 2), make(chan story, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	subCtx, subCancel := context.WithCancel(ctx)
	defer subCancel()
	go func() {
		var got []string
		err := kc.Subscribe(subCtx, amtlink.SubscribeOptions{Ready: hold("Subscribe")}, func(n amtlink.Notification) error {
			switch {
			case n.Type == amtlink.NotifyResync:
				if got = append(got, "resync"); len(got) == 1 {
					resynced <- "Subscribe"
				}
			case n.Type == amtlink.NotifyLink && n.Device.Name == "amtx" && len(got) > 0:
				got = append(got, "link amtx")
				subCancel()
			}
			return nil
		})
		done <- story{"Subscribe", got, err}
	}()
	watchCtx, watchCancel := context.WithCancel(ctx)
	defer watchCancel()
	go func() {
		var got []string
		said := false
		err := kc.Watch(watchCtx, amtlink.WatchOptions{Ready: hold("Watch")}, func(e amtlink.Event) error {
			got = append(got, e.Type.String()+" "+e.Link.Name)
			switch {
			case e.Type == amtlink.EventResynced && !said: // once: resynced has room for one each
				said = true
				resynced <- "Watch"
			case e.Type == amtlink.EventCreated && e.Link.Name == "amtx":
				watchCancel()
			}
			return nil
		})
		done <- story{"Watch", got, err}
	}()
	for range 3 {
		select {
		case <-ready:
		case code := <-mdone:
			t.Fatalf("monitor ended: exit %d, stderr %q", code, merrb.String())
		case s := <-done:
			t.Fatalf("%s ended before it was ready: %v", s.who, s.err)
		case <-ctx.Done():
			t.Fatal("monitor, Subscribe and Watch not all ready within 3 minutes")
		}
	}

	start = time.Now()
	deleteLink(t, ns, "bulk0") // 2,001 RTM_DELLINKs at once
	t.Logf("%d VLANs deleted through their parent in %v", burstVLANs, time.Since(start).Round(time.Millisecond))
	busy.Store(false)
	close(release)

	// Nothing else happened since apply's last line and the others' Ready:
	// the next line of each is the resync.
	if l := waitLine(t, w.lines, ""); !strings.HasPrefix(l, "resynced: the kernel dropped notifications") {
		t.Fatalf("apply's first line after the burst: %q, want resynced: ...", l)
	}
	if l := waitLine(t, mlines, ""); !strings.HasPrefix(l, "resynced (the kernel dropped notifications") {
		t.Fatalf("monitor's first line after the burst: %q, want resynced (...", l)
	}
	for range 2 {
		select {
		case who := <-resynced:
			t.Logf("%s reported the overrun %v after the burst", who, time.Since(start).Round(time.Millisecond))
		case s := <-done:
			t.Fatalf("%s ended before it reported the overrun: %v; saw %q", s.who, s.err, s.got)
		case <-ctx.Done():
			t.Fatal("the overrun not reported by both Subscribe and Watch within 3 minutes")
		}
	}

	// All still report: the next amt link (a gateway, down, which apply's
	// file does not name and leaves alone).
	if code, _, errOut := runKernel("", "-n", path, "add", "amtx", "mode", "gateway", "local", "10.0.0.1", "discovery", "10.0.0.2", "dev", "eth0"); code != 0 {
		t.Fatalf("add amtx: exit %d, %q", code, errOut)
	}
	if l := waitLine(t, mlines, ""); l != "created amtx gateway local 10.0.0.1 dev eth0" {
		t.Errorf("monitor's line after the resync: %q, want created amtx gateway local 10.0.0.1 dev eth0", l)
	}
	for range 2 {
		var s story
		select {
		case s = <-done:
		case <-ctx.Done():
			t.Fatal("amtx not reported by both Subscribe and Watch within 3 minutes")
		}
		if s.err != nil {
			t.Errorf("%s: %v", s.who, s.err)
		}
		switch s.who {
		case "Subscribe":
			if len(s.got) < 2 || s.got[0] != "resync" || s.got[len(s.got)-1] != "link amtx" {
				t.Errorf("Subscribe after deleting %d VLANs at once: %q; want resync first and the link amtx after it", burstVLANs, s.got)
			}
		case "Watch":
			if len(s.got) != 2 || s.got[0] != "resynced " || s.got[1] != "created amtx" {
				t.Errorf("Watch after deleting %d VLANs at once: events %q, want resynced, then created amtx", burstVLANs, s.got)
			}
		}
	}
	// apply still converges.
	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand after the overrun")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited(t, "apply --watch after SIGTERM", w.done, w.errb)
	exited(t, "monitor after SIGTERM", mdone, merrb)
}
