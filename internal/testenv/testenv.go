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
	"sync"
	"testing"
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
		if reason, ok := skipReason(privErr); ok {
			Skip(tb, "%s", reason)
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
