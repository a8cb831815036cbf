// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): a service started with Type=notify tells the service
// manager, in datagrams of newline-separated VAR=VALUE assignments on the
// unix socket $NOTIFY_SOCKET names, that it is ready (READY=1), reloading
// (RELOADING=1), stopping (STOPPING=1), what it is doing (STATUS=...), and,
// when WatchdogSec= is set, that it is alive (WATCHDOG=1).
//
// It is the protocol's few lines rather than coreos/go-systemd's daemon
// package: that package is these same lines, but has no RELOADING=1 with
// MONOTONIC_USEC, and a module for them is more to track than they are.
// Only the unix-socket form of $NOTIFY_SOCKET is spoken: a path, or an
// abstract name written with a leading '@' (systemd's own is a path;
// vsock addresses, for services in VMs, are not supported).
//
// Outside systemd (no $NOTIFY_SOCKET) FromEnv returns a nil *Notifier,
// whose methods do nothing: callers need no second code path.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The variables the service manager sets for the service's main process.
const (
	// SocketEnv names the socket notifications go to.
	SocketEnv = "NOTIFY_SOCKET"
	// WatchdogUsecEnv is WatchdogSec= in microseconds, when set.
	WatchdogUsecEnv = "WATCHDOG_USEC"
	// WatchdogPIDEnv, when set, is the process the watchdog is meant for.
	WatchdogPIDEnv = "WATCHDOG_PID"
)

// Notifier sends notifications to one service manager socket. A nil
// *Notifier is valid and sends nothing.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // WATCHDOG_USEC; 0 when no watchdog
}

// FromEnv returns the Notifier of $NOTIFY_SOCKET, with the watchdog
// interval of $WATCHDOG_USEC when $WATCHDOG_PID is unset or names this
// process; getenv reads the variables (os.Getenv, or a test's). It returns
// nil, nil when $NOTIFY_SOCKET is unset or empty (not started by systemd,
// or not as Type=notify), and an error naming the variable when a value
// cannot be used.
func FromEnv(getenv func(string) string) (*Notifier, error) {
	sock := getenv(SocketEnv)
	if sock == "" {
		return nil, nil
	}
	n, err := New(sock)
	if err != nil {
		return nil, err
	}
	if pid := getenv(WatchdogPIDEnv); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return n, nil // another process's watchdog
	}
	if v := getenv(WatchdogUsecEnv); v != "" {
		us, err := strconv.ParseUint(v, 10, 63)
		if err != nil || us == 0 {
			return nil, fmt.Errorf("sdnotify: %s=%q: not a positive number of microseconds", WatchdogUsecEnv, v)
		}
		n.watchdog = time.Duration(us) * time.Microsecond
	}
	return n, nil
}

// New returns a Notifier for socket: an absolute path, or '@' and an
// abstract socket name, as $NOTIFY_SOCKET holds them.
func New(socket string) (*Notifier, error) {
	switch {
	case strings.HasPrefix(socket, "/"), len(socket) > 1 && socket[0] == '@':
		// Go's net package turns a leading '@' into the abstract
		// namespace's leading NUL byte.
		return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}, nil
	}
	return nil, fmt.Errorf("sdnotify: %s=%q: want an absolute socket path or an abstract @name (vsock: addresses are not supported)", SocketEnv, socket)
}

// writeTimeout is how long Notify waits for room in the manager's queue.
const writeTimeout = 2 * time.Second

// Notify sends the assignments ("READY=1", "STATUS=...") in one datagram.
// A value must not contain a newline, which would end it early.
func (n *Notifier) Notify(assignments ...string) error {
	if n == nil {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sdnotify: %q: want one VAR=VALUE assignment without a newline", a)
		}
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %s %s: %w", SocketEnv, n.addr.Name, err)
	}
	defer c.Close()
	// A manager that stopped reading leaves its queue full (10 datagrams,
	// net.unix.max_dgram_qlen), and the write would wait for it forever,
	// and with it the caller's loop: it waits writeTimeout at most.
	if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("sdnotify: %s %s: %w", SocketEnv, n.addr.Name, err)
	}
	if _, err := c.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("sdnotify: %s %s: %w", SocketEnv, n.addr.Name, err)
	}
	return nil
}

// Status is the STATUS= assignment of text, flattened to one line.
func Status(text string) string {
	return "STATUS=" + strings.ReplaceAll(text, "\n", " ")
}

// Ready says the service is up (READY=1), with a status line.
func (n *Notifier) Ready(status string) error { return n.Notify("READY=1", Status(status)) }

// Reloading says the service is reloading its configuration (RELOADING=1,
// with MONOTONIC_USEC where the clock is known, which Type=notify-reload
// needs); Ready ends it.
func (n *Notifier) Reloading() error {
	if us, ok := monotonicUsec(); ok {
		return n.Notify("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatUint(us, 10))
	}
	return n.Notify("RELOADING=1")
}

// Stopping says the service is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog says the service is alive (WATCHDOG=1).
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// WatchdogInterval is how often Watchdog should be called: half of
// WatchdogSec=, as sd_watchdog_enabled(3) advises; 0 when there is no
// watchdog (or no Notifier).
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}
