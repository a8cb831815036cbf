//go:build !linux

package testenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errNotLinux is what every namespace and kernel helper returns here: network
// namespaces, setns and the AMT driver exist only on Linux. The tests that need
// them skip with this reason (and fail under AMTCTL_REQUIRE_KERNEL=1, which
// only the Linux VM harness sets).
var errNotLinux = fmt.Errorf("testenv: network namespaces and the AMT driver need Linux, not %s/%s: %w",
	runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)

// KernelRelease returns the running kernel's release, as uname -r prints it
// on Linux; elsewhere it names the operating system, which has no AMT driver.
func KernelRelease() string { return "none (" + runtime.GOOS + ")" }

func skipReason(err error) (string, bool) {
	if errors.Is(err, errNotLinux) {
		return err.Error(), true
	}
	return "", false
}

// ProbeAMT reports errNotLinux: only Linux has the AMT driver.
func ProbeAMT() error { return fmt.Errorf("probe amt: %w", errNotLinux) }

// Do reports errNotLinux without calling fn: only Linux has network
// namespaces.
func Do(fd int, fn func() error) error { return errNotLinux }

func newNetNS() (*os.File, error) { return nil, errNotLinux }

func setLoopbackUp(*os.File) error { return errNotLinux }
