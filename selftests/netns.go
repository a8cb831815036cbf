//go:build linux

package selftests

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
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
// error; testenv.Do states the contract (fn must not start goroutines, lock
// or unlock the thread, or resolve names; what it opens keeps the
// namespace).
func (n *netns) Do(fn func() error) error {
	var ferr error
	if err := testenv.Do(n.fd, func() error { ferr = fn(); return nil }); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return ferr
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
