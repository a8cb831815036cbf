package testenv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// KernelRelease returns the running kernel's release, as uname -r prints it.
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// skipReason reports whether err, from creating a network namespace, means
// this process may not do it (a skip, or a failure under AMTCTL_REQUIRE_KERNEL)
// rather than that something is broken (always a failure).
func skipReason(err error) (string, bool) {
	if errors.Is(err, unix.EPERM) {
		return fmt.Sprintf("needs root or CAP_SYS_ADMIN+CAP_NET_ADMIN (unshare: %v)", err), true
	}
	return "", false
}

// ProbeAMT asks the running kernel, in a throwaway network namespace, whether
// it knows the link kind "amt". It sends an RTM_NEWLINK for kind amt without
// any AMT attributes: a kernel without the driver answers EOPNOTSUPP
// ("Unknown device type"), one with it refuses the request in amt_validate
// with EINVAL. Nothing is ever created.
func ProbeAMT() error {
	f, err := newNetNS()
	if err != nil {
		return fmt.Errorf("probe amt: %w", err)
	}
	defer f.Close()
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return fmt.Errorf("probe amt: dial rtnetlink: %w", err)
	}
	defer c.Close()
	err = c.Link.New(&rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: "amtprobe0", Info: &rtnetlink.LinkInfo{Kind: "amt"}},
	})
	switch {
	case err == nil:
		return errors.New("probe amt: the kernel created an amt link without attributes")
	case errors.Is(err, unix.EOPNOTSUPP):
		return ErrNoAMT
	case errors.Is(err, unix.EINVAL):
		return nil
	default:
		return fmt.Errorf("probe amt: %w", err)
	}
}

// Do runs fn on an OS thread switched into the network namespace held by
// fd, and returns fn's error. It follows STYLE §8 (cilium's NetNS.Do,
// mdlayher/socket's withNetNS): a fresh goroutine locks its thread,
// remembers the thread's own namespace through /proc/<pid>/task/<tid>/ns/net
// (never /proc/self, which is the main thread's), switches, runs fn,
// switches back, and unlocks only when the switch back worked. A thread that
// could not be restored stays locked, so the runtime ends it with the
// goroutine instead of reusing it; Do then returns that error.
//
// fn must not start goroutines, lock or unlock the thread, or resolve names.
// Sockets and files it opens keep the namespace and may be used from
// anywhere afterwards.
func Do(fd int, fn func() error) error {
	return onThread(func() error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		return nil
	}, fn)
}

// onThread runs enter and then fn on a locked thread of a new goroutine and
// puts the thread back into the network namespace it had before, as Do
// describes. An error from enter or from the restore is returned in
// preference to fn's.
func onThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			// enter failed before it changed the thread (setns and
			// unshare change nothing on error): the thread is clean.
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime ends this thread when the
			// goroutine returns, and the wrong namespace goes with it.
			errc <- fmt.Errorf("restore thread namespace: %w (thread discarded)", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// newNetNS creates a network namespace and returns a file that holds it.
// The namespace is made on a thread of its own, which is switched back
// before it is unlocked (onThread). Exiting locked would not be enough: the
// goroutine may be running on the main thread, which the runtime never ends,
// and /proc/self/ns/net would then name the new namespace.
func newNetNS() (*os.File, error) {
	var f *os.File
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		return nil
	}, func() error {
		var err error
		f, err = os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		return err
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	return f, nil
}

func setLoopbackUp(ns *os.File) error {
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		return fmt.Errorf("dial rtnetlink: %w", err)
	}
	defer c.Close()
	links, err := c.Link.List()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attributes != nil && strings.EqualFold(l.Attributes.Name, "lo") {
			return c.Link.Set(&rtnetlink.LinkMessage{
				Family: unix.AF_UNSPEC, Index: l.Index,
				Flags: unix.IFF_UP, Change: unix.IFF_UP,
			})
		}
	}
	return errors.New("no loopback device in new namespace")
}

// vlanBatch is how many RTM_NEWLINKs AddVLANs sends in one write: their
// acknowledgements must fit the socket's receive buffer, or the kernel
// drops them (netlink_ack never blocks).
const vlanBatch = 200

// AddVLANs creates the dummy device parent in the namespace held by ns and
// n VLANs on it, named v1 … vN with IDs 1 … N, and returns once the kernel
// has made them all. Deleting parent then deletes the n VLANs in one go,
// and the kernel sends their n+1 RTM_DELLINKs at once: more than a
// notification socket's buffer holds for n in the thousands, which is how
// the overrun tests make the kernel drop notifications.
//
// The requests go vlanBatch to a write on one socket, each acknowledged:
// under emulation (TCG) a request per round trip costs far more in thread
// switches than the kernel's own work. A kernel without the dummy or the
// 802.1Q VLAN driver skips tb (fails it under AMTCTL_REQUIRE_KERNEL=1).
func AddVLANs(tb testing.TB, ns *os.File, parent string, n int) {
	tb.Helper()
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		tb.Fatalf("dial rtnetlink: %v", err)
	}
	defer c.Close()
	err = c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: parent, Info: &rtnetlink.LinkInfo{Kind: "dummy"}}})
	if errors.Is(err, unix.EOPNOTSUPP) {
		Skip(tb, "kernel %s has no dummy driver (CONFIG_DUMMY) for the VLANs' parent: %v", KernelRelease(), err)
	} else if err != nil {
		tb.Fatalf("create dummy %s: %v", parent, err)
	}
	index := LinkIndex(tb, c, parent)
	nc, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		tb.Fatalf("dial rtnetlink: %v", err)
	}
	defer nc.Close()
	for first := 1; first <= n; first += vlanBatch {
		var msgs []netlink.Message
		for id := first; id < first+vlanBatch && id <= n; id++ {
			data, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_VLAN_ID, Data: binary.NativeEndian.AppendUint16(nil, uint16(id))}})
			if err != nil {
				tb.Fatal(err)
			}
			b, err := (&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
				Name: fmt.Sprintf("v%d", id), Type: index,
				Info: &rtnetlink.LinkInfo{Kind: "vlan", Data: &rtnetlink.LinkData{Name: "vlan", Data: data}},
			}}).MarshalBinary()
			if err != nil {
				tb.Fatalf("vlan %d: %v", id, err)
			}
			msgs = append(msgs, netlink.Message{Header: netlink.Header{
				Type:  unix.RTM_NEWLINK,
				Flags: netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge,
			}, Data: b})
		}
		if _, err := nc.SendMessages(msgs); err != nil {
			tb.Fatalf("send vlans %d…: %v", first, err)
		}
		for acked := 0; acked < len(msgs); {
			replies, err := nc.Receive()
			if err != nil {
				tb.Fatalf("vlans %d…: acknowledgements: %v", first, err)
			}
			for _, r := range replies {
				if r.Header.Type != netlink.Error || len(r.Data) < 4 {
					continue
				}
				acked++
				if errno := int32(binary.NativeEndian.Uint32(r.Data)); errno != 0 {
					err := unix.Errno(-errno)
					if first == 1 && errors.Is(err, unix.EOPNOTSUPP) {
						Skip(tb, "kernel %s has no 802.1Q VLAN driver (CONFIG_VLAN_8021Q): %v", KernelRelease(), err)
					}
					tb.Fatalf("create a vlan on %s (request %d of the batch from %d): %v", parent, r.Header.Sequence, first, err)
				}
			}
		}
	}
}

// LinkIndex is the index of the link called name on c's namespace, from a
// list of its links; tb fails when there is none.
func LinkIndex(tb testing.TB, c *rtnetlink.Conn, name string) uint32 {
	tb.Helper()
	links, err := c.Link.List()
	if err != nil {
		tb.Fatalf("list links: %v", err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l.Index
		}
	}
	tb.Fatalf("no link %s in the list of links", name)
	return 0
}
