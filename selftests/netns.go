package selftests

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// netns is one anonymous network namespace of a topology: the file that
// holds it and an rtnetlink connection dialled into it.
type netns struct {
	name string // role plus a random suffix, for messages ("relay-1a2b3c4d")
	file *os.File
	fd   int
	rt   *rtnetlink.Conn
}

// randomSuffix returns 8 hex digits, so that names in logs from two runs side
// by side never look alike.
func randomSuffix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// openNetNS wraps a namespace file (from testenv.NewNetNS, which owns and
// closes it) and dials rtnetlink into it. The caller closes the result before
// the file goes.
func openNetNS(role string, f *os.File) (*netns, error) {
	n := &netns{name: role + "-" + randomSuffix(), file: f, fd: int(f.Fd())}
	rt, err := rtnetlink.Dial(&netlink.Config{NetNS: n.fd})
	if err != nil {
		return nil, fmt.Errorf("%s: dial rtnetlink: %w", n.name, err)
	}
	// The kernel's own words ("Unknown device type", ...) land in
	// netlink.OpError.Message; failure to enable is not an error.
	_ = rt.SetOption(netlink.ExtendedAcknowledge, true)
	n.rt = rt
	onSignal(f)
	onSignal(rt)
	return n, nil
}

// Close closes the rtnetlink connection. The namespace itself lives until
// its file and every socket created in it are closed.
func (n *netns) Close() error { return n.rt.Close() }

// String returns the namespace's name.
func (n *netns) String() string { return n.name }

// Do runs fn on an OS thread switched into the namespace and returns fn's
// error. It follows the pattern of cilium's NetNS.Do and mdlayher/socket's
// withNetNS: a fresh goroutine locks its thread, remembers the thread's own
// namespace through /proc/<pid>/task/<tid>/ns/net (never /proc/self, which is
// the main thread's), switches, runs fn, switches back, and unlocks only when
// the switch back worked. A thread that could not be restored stays locked,
// so the runtime ends it with the goroutine instead of reusing it.
//
// fn must not start goroutines, lock or unlock the thread, or resolve names.
// Sockets and files it opens keep the namespace and may be used from
// anywhere afterwards.
func (n *netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("%s: open own namespace: %w", n.name, err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("%s: setns: %w", n.name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime terminates this thread when the
			// goroutine returns, and the wrong namespace goes with it.
			errc <- fmt.Errorf("%s: restore namespace after Do: %w (thread discarded)", n.name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// writeSysctl writes value to /proc/sys/<key with dots as slashes> inside
// the namespace, as `sysctl -w key=value` would. Keys may name a device
// ("net.ipv4.conf.l_gw.force_igmp_version").
func (n *netns) writeSysctl(key, value string) error {
	path := "/proc/sys/" + sysctlPath(key)
	err := n.Do(func() error {
		// /proc/sys/net answers for the namespace of the opening thread.
		return os.WriteFile(path, []byte(value), 0)
	})
	if err != nil {
		return fmt.Errorf("%s: sysctl %s=%s: %w", n.name, key, value, err)
	}
	return nil
}

// sysctlPath turns net.ipv4.conf.l_gw.force_igmp_version into
// net/ipv4/conf/l_gw/force_igmp_version. Device names in our topologies
// contain no dots, so the plain replacement is exact.
func sysctlPath(key string) string {
	b := []byte(key)
	for i := range b {
		if b[i] == '.' {
			b[i] = '/'
		}
	}
	return string(b)
}
