//go:build linux

package cli

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/sdnotify"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"golang.org/x/sys/unix"
)

// manager is the service manager's end of $NOTIFY_SOCKET: a real unixgram
// socket in the test's directory.
type manager struct {
	t    *testing.T
	c    *net.UnixConn
	path string
}

func newManager(t *testing.T) *manager {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &manager{t: t, c: c, path: path}
}

func (m *manager) env(watchdogUsec string) func(string) string {
	return func(k string) string {
		switch k {
		case sdnotify.SocketEnv:
			return m.path
		case sdnotify.WatchdogUsecEnv:
			return watchdogUsec
		}
		return ""
	}
}

// next waits (bounded) for the next notification.
func (m *manager) next() string {
	m.t.Helper()
	if err := m.c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		m.t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := m.c.Read(b)
	if err != nil {
		m.t.Fatalf("no notification: %v", err)
	}
	return string(b[:n])
}

// pending is the notification already queued, without waiting or taking
// it: a unixgram send is in the receiver's queue when it returns.
func (m *manager) pending() string {
	rc, err := m.c.SyscallConn()
	if err != nil {
		m.t.Fatal(err)
	}
	b := make([]byte, 4096)
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _, _ = unix.Recvfrom(int(fd), b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	})
	if n <= 0 {
		return ""
	}
	return string(b[:n])
}

// beforeReady is a namespace whose every create checks that systemd was
// not yet told READY=1.
type beforeReady struct {
	*subFake
	m *manager
}

func (b beforeReady) Add(s amtlink.Spec) error {
	if p := b.m.pending(); p != "" {
		b.m.t.Errorf("create %s after systemd was notified %q", s.Name, p)
	}
	return b.subFake.Add(s)
}

// TestApplyWatchSystemd: under systemd apply --watch says READY=1 only once
// the first convergence is done, RELOADING=1 then READY=1 around each
// SIGHUP (a refused one too: the old file is still being watched), and
// STOPPING=1 on SIGTERM, to a real unixgram socket.
func TestApplyWatchSystemd(t *testing.T) {
	t.Parallel()
	m := newManager(t)
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	open := func(netns string) (Backend, error) {
		b, err := sp.open(netns)
		if err != nil {
			return nil, err
		}
		return beforeReady{b.(*subFake), m}, nil
	}
	file := writeFile(t, "links.yaml", watchFile)
	r := startApplyWatchEnv(t, open, m.env(""), "apply", "--watch", "-f", file)
	ready := "READY=1\nSTATUS=watching 2 link(s) of " + file + " in 1 namespace(s)"
	if got := m.next(); got != ready {
		t.Errorf("first notification %q, want %q", got, ready)
	}
	r.expect(
		"created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up",
		"created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300",
	)
	reload := func() {
		t.Helper()
		r.step(func() bool { r.sigs <- syscall.SIGHUP; return true })
		if got := m.next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
			t.Errorf("on SIGHUP: %q, want RELOADING=1 and MONOTONIC_USEC", got)
		}
	}
	reload()
	if got := m.next(); got != ready {
		t.Errorf("after the reload: %q, want %q", got, ready)
	}
	rewrite(t, file, "links:\n  - {name: amtr, mode: relay, local: nope}\n")
	reload()
	if got := m.next(); got != ready {
		t.Errorf("after a refused reload: %q, want %q (the old file still watched)", got, ready)
	}
	r.stop()
	if got := m.next(); got != "STOPPING=1" {
		t.Errorf("on SIGTERM: %q, want STOPPING=1", got)
	}
	if got := r.errb.next(); strings.Contains(got, "warning") {
		t.Errorf("stderr %q", got)
	}
}

// TestApplyWatchWatchdog: with WatchdogSec= (WATCHDOG_USEC) the loop sends
// WATCHDOG=1 every half period while it is free to.
func TestApplyWatchWatchdog(t *testing.T) {
	t.Parallel()
	m := newManager(t)
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	file := writeFile(t, "links.yaml", watchFile)
	r := startApplyWatchEnv(t, sp.open, m.env("20000"), "apply", "--watch", "-f", file)
	if got := m.next(); !strings.HasPrefix(got, "READY=1\n") {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	for range 3 {
		// The loop waits, nothing queued, until its 10ms watchdog tick.
		r.step(func() bool { return true })
		if got := m.next(); got != "WATCHDOG=1" {
			t.Errorf("%q, want WATCHDOG=1", got)
		}
	}
	// Let a tick come due (10 ms), so that SIGTERM and a ping are both
	// ready when the loop wakes: the signal must go first. (Picked at
	// random, the ping won 12 of 30 runs, and the loop waited in the idle
	// hook for a step that never came.)
	time.Sleep(30 * time.Millisecond)
	r.stop()
}

// TestApplyWatchSystemdGone: a service manager that went away is one
// warning on stderr, not an end to apply --watch.
func TestApplyWatchSystemdGone(t *testing.T) {
	t.Parallel()
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	file := writeFile(t, "links.yaml", watchFile)
	sock := filepath.Join(t.TempDir(), "gone")
	r := startApplyWatchEnv(t, sp.open, func(k string) string {
		if k == sdnotify.SocketEnv {
			return sock
		}
		return ""
	}, "apply", "--watch", "-f", file)
	r.expect(
		"created amtg: mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up",
		"created amtr: mode relay local 10.0.0.1 dev veth0 relay_port 2300",
	)
	r.step(func() bool { r.sigs <- syscall.SIGHUP; return true })
	r.expect("reloaded " + file + ": 2 link(s) in 1 namespace(s)")
	r.stop()
	got := r.errb.next()
	if n := strings.Count(got, "amtctl: warning: sdnotify: NOTIFY_SOCKET "+sock); n != 1 {
		t.Errorf("stderr %q: want one warning naming %s", got, sock)
	}
}
