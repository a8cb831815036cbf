// Package testenv holds the helpers that decide whether a test can reach a
// real kernel with the AMT driver, and that give tests a network namespace
// of their own.
//
// Tests that need root and the AMT driver skip, with the reason, on a machine
// that cannot give them those. Inside the VM harness (scripts/vm) the
// variable AMTCTL_REQUIRE_KERNEL=1 is set, and there the same skip is a
// failure: a kernel test that would skip in the VM is a broken harness or a
// regression, never a pass.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// RequireKernelEnv is the variable that turns every kernel skip into a
// failure. scripts/vm sets it inside the guest.
const RequireKernelEnv = "AMTCTL_REQUIRE_KERNEL"

// RequireKernel reports whether kernel tests must run rather than skip.
func RequireKernel() bool { return os.Getenv(RequireKernelEnv) == "1" }

// Skip skips tb with the formatted reason, or fails it when RequireKernel
// reports true.
func Skip(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if RequireKernel() {
		tb.Fatalf("%s=1 but this test would skip: "+format, append([]any{RequireKernelEnv}, args...)...)
	}
	tb.Skipf(format, args...)
}

// KernelRelease returns the running kernel's release, as uname -r prints it.
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

var (
	privOnce sync.Once
	privErr  error
)

// RequireRoot skips tb unless the process may create network namespaces and
// configure them. It probes by unsharing a network namespace on a throwaway
// thread, which holds under capabilities and user namespaces where a uid
// check would not.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	privOnce.Do(func() {
		f, err := newNetNS()
		if err == nil {
			f.Close()
		}
		privErr = err
	})
	if privErr != nil {
		if errors.Is(privErr, unix.EPERM) {
			Skip(tb, "needs root or CAP_SYS_ADMIN+CAP_NET_ADMIN (unshare: %v)", privErr)
		}
		tb.Fatalf("creating a network namespace: %v", privErr)
	}
}

var (
	amtOnce sync.Once
	amtErr  error
)

// ErrNoAMT is what the AMT probe returns when the kernel has no AMT driver.
var ErrNoAMT = errors.New("kernel has no AMT driver (modprobe amt, or a kernel with CONFIG_AMT)")

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

// RequireAMT skips tb (fails it under AMTCTL_REQUIRE_KERNEL=1) unless the
// process is privileged and the kernel has the AMT driver.
func RequireAMT(tb testing.TB) {
	tb.Helper()
	RequireRoot(tb)
	amtOnce.Do(func() { amtErr = ProbeAMT() })
	if errors.Is(amtErr, ErrNoAMT) {
		Skip(tb, "kernel %s: %v", KernelRelease(), amtErr)
	}
	if amtErr != nil {
		tb.Fatal(amtErr)
	}
}

// NewNetNS returns a fresh anonymous network namespace, held by the returned
// file, with its loopback device up. The file is closed in tb.Cleanup; the
// namespace and every device in it go away with the last reference.
func NewNetNS(tb testing.TB) *os.File {
	tb.Helper()
	RequireRoot(tb)
	f, err := newNetNS()
	if err != nil {
		tb.Fatalf("new netns: %v", err)
	}
	tb.Cleanup(func() { f.Close() })
	if err := setLoopbackUp(f); err != nil {
		tb.Fatalf("new netns: %v", err)
	}
	return f
}

// NetNSPath returns a path naming the namespace held by f, usable where a
// namespace path is expected (amtctl -n PATH).
func NetNSPath(f *os.File) string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd())
}

// newNetNS creates a network namespace on a locked thread and returns a file
// that holds it. The thread is switched back to its own namespace before it
// is unlocked; if that fails the goroutine exits still locked, so that the
// runtime ends the thread rather than reuse it. (Exiting locked is not
// enough on its own: the goroutine may be running on the main thread, which
// the runtime never ends, and /proc/self/ns/net would then name the new
// namespace.)
func newNetNS() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		orig, err := os.Open(self)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		f, err := os.Open(self)
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			// Leave the thread locked: the runtime ends it with this goroutine.
			if f != nil {
				f.Close()
			}
			ch <- result{err: fmt.Errorf("restore thread namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{f: f, err: err}
	}()
	r := <-ch
	return r.f, r.err
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
