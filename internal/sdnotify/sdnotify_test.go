package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen is a service manager's end: a real unixgram socket at addr.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen unixgram %q: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next reads one datagram.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("read a notification: %v", err)
	}
	return string(b[:n])
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestNotify sends every kind of notification to a socket bound at a path,
// as systemd's is, and reads each datagram back.
func TestNotify(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unixgram sockets on windows (and no systemd)")
	}
	sock := filepath.Join(t.TempDir(), "notify")
	c := listen(t, sock)
	n, err := FromEnv(env(map[string]string{SocketEnv: sock}))
	if err != nil || n == nil {
		t.Fatalf("FromEnv: %v, %v", n, err)
	}
	if err := n.Ready("watching 3 link(s)\nin 2 namespace(s)"); err != nil {
		t.Fatal(err)
	}
	if got, want := next(t, c), "READY=1\nSTATUS=watching 3 link(s) in 2 namespace(s)"; got != want {
		t.Errorf("Ready sent %q, want %q", got, want)
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := next(t, c)
	if runtime.GOOS == "linux" {
		rest, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
		if us, err := strconv.ParseUint(rest, 10, 64); !ok || err != nil || us == 0 {
			t.Errorf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=<microseconds>", got)
		}
	} else if got != "RELOADING=1" {
		t.Errorf("Reloading sent %q, want RELOADING=1", got)
	}
	for _, c2 := range []struct {
		send func() error
		want string
	}{
		{n.Stopping, "STOPPING=1"},
		{n.Watchdog, "WATCHDOG=1"},
		{func() error { return n.Notify("STATUS=x", "EXTEND_TIMEOUT_USEC=1000") }, "STATUS=x\nEXTEND_TIMEOUT_USEC=1000"},
	} {
		if err := c2.send(); err != nil {
			t.Fatal(err)
		}
		if got := next(t, c); got != c2.want {
			t.Errorf("sent %q, want %q", got, c2.want)
		}
	}
	for _, bad := range []string{"READY", "STATUS=a\nREADY=1"} {
		if err := n.Notify(bad); err == nil {
			t.Errorf("Notify(%q) = nil, want an error", bad)
		}
	}
}

// TestNotifyAbstract: "@name" is a socket in Linux's abstract namespace,
// as systemd --user and test managers use.
func TestNotifyAbstract(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract unix sockets are Linux's")
	}
	name := fmt.Sprintf("@amtctl-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := listen(t, name)
	n, err := FromEnv(env(map[string]string{SocketEnv: name}))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("ok"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "READY=1\nSTATUS=ok" {
		t.Errorf("got %q", got)
	}
}

// TestNotifyNoManager: with nobody listening the error says where it
// tried; without $NOTIFY_SOCKET there is no Notifier, and a nil one sends
// nothing and fails at nothing.
func TestNotifyNoManager(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unixgram sockets on windows")
	}
	sock := filepath.Join(t.TempDir(), "nobody")
	n, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("x"); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("Ready with no listener: %v, want an error naming %s", err, sock)
	}
	n, err = FromEnv(env(nil))
	if n != nil || err != nil {
		t.Fatalf("FromEnv without NOTIFY_SOCKET: %v, %v; want nil, nil", n, err)
	}
	if err := n.Ready("x"); err != nil {
		t.Errorf("nil Notifier: Ready: %v", err)
	}
	if d := n.WatchdogInterval(); d != 0 {
		t.Errorf("nil Notifier: WatchdogInterval %v", d)
	}
}

func TestFromEnv(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		vars     map[string]string
		watchdog time.Duration
		err      string
	}{
		{vars: map[string]string{SocketEnv: "/run/systemd/notify"}},
		{vars: map[string]string{SocketEnv: "/run/systemd/notify", WatchdogUsecEnv: "20000000"}, watchdog: 10 * time.Second},
		{vars: map[string]string{SocketEnv: "/run/systemd/notify", WatchdogUsecEnv: "20000000", WatchdogPIDEnv: self}, watchdog: 10 * time.Second},
		{vars: map[string]string{SocketEnv: "/run/systemd/notify", WatchdogUsecEnv: "20000000", WatchdogPIDEnv: "1"}}, // someone else's
		{vars: map[string]string{SocketEnv: "/run/systemd/notify", WatchdogUsecEnv: "soon"}, err: `WATCHDOG_USEC="soon": not a positive number`},
		{vars: map[string]string{SocketEnv: "/run/systemd/notify", WatchdogUsecEnv: "0"}, err: `WATCHDOG_USEC="0"`},
		{vars: map[string]string{SocketEnv: "notify"}, err: `NOTIFY_SOCKET="notify": want an absolute socket path or an abstract @name`},
		{vars: map[string]string{SocketEnv: "@"}, err: `NOTIFY_SOCKET="@"`},
		{vars: map[string]string{SocketEnv: "vsock:2:1234"}, err: "vsock: addresses are not supported"},
	} {
		n, err := FromEnv(env(tc.vars))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.vars, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.vars, err)
		case n.WatchdogInterval() != tc.watchdog:
			t.Errorf("%v: WatchdogInterval %v, want %v", tc.vars, n.WatchdogInterval(), tc.watchdog)
		}
	}
}

// Outside systemd nothing is sent and nothing fails.
func ExampleFromEnv() {
	n, err := FromEnv(func(string) string { return "" })
	fmt.Println(n == nil, err, n.Ready("up"))
	// Output: true <nil> <nil>
}

// TestNotifyManagerNotReading: a manager that stopped reading fills its
// queue (net.unix.max_dgram_qlen datagrams); Notify then fails after
// writeTimeout instead of holding its caller's loop for ever. apply
// --watch's watchdog test hung on SIGTERM that way before.
func TestNotifyManagerNotReading(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unixgram sockets on windows")
	}
	sock := filepath.Join(t.TempDir(), "notify")
	listen(t, sock) // never read
	n, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; ; i++ {
		err := n.Notify("WATCHDOG=1")
		if err == nil {
			if i > 10000 {
				t.Fatalf("%d notifications queued and none refused", i)
			}
			continue
		}
		if !strings.Contains(err.Error(), sock) {
			t.Errorf("notification %d: %v, want an error naming %s", i, err, sock)
		}
		break
	}
	if d := time.Since(start); d > writeTimeout+10*time.Second {
		t.Errorf("Notify took %v to give up, want about %v", d, writeTimeout)
	}
}
