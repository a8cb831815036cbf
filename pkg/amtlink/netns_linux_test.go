//go:build linux

package amtlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// These need no privileges: they open namespace files of this process.

func TestOpenNetNSMissing(t *testing.T) {
	_, err := OpenNetNS("amtctl-no-such-ns")
	if want := `network namespace "amtctl-no-such-ns" not found (ip netns add amtctl-no-such-ns?)`; err == nil || err.Error() != want {
		t.Errorf("OpenNetNS(missing) = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v is not os.ErrNotExist", err)
	}
	_, err = NetNSFromPath("/nonexistent/ns/net")
	if want := `network namespace "/nonexistent/ns/net" not found`; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NetNSFromPath(missing path) = %v, want %q", err, want)
	}
	if _, err := NetNSFromPath(""); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NetNSFromPath(\"\") = %v, want fs.ErrInvalid", err)
	}
}

// TestOpenNetNSRefusesPaths: what `ip netns` refuses as a name is refused
// before anything is opened, so a name can never reach outside /run/netns.
func TestOpenNetNSRefusesPaths(t *testing.T) {
	long := string(make([]byte, 256))
	for _, bad := range []string{"", ".", "..", "../../proc/1/ns/net", "a/b", "/proc/self/ns/net", long} {
		_, err := OpenNetNS(bad)
		if !errors.Is(err, fs.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
			t.Errorf("OpenNetNS(%.20q) = %v, want fs.ErrInvalid and nothing opened", bad, err)
		}
	}
}

func TestOpenNetNSWrongFile(t *testing.T) {
	for _, p := range []string{"/proc/self/status", "/proc/self/ns/uts"} {
		_, err := NetNSFromPath(p)
		if !errors.Is(err, errNotNetNS) {
			t.Errorf("NetNSFromPath(%s) = %v, want %v", p, err, errNotNetNS)
		}
	}
}

func TestOpenNetNSOwn(t *testing.T) {
	p := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	ns, err := NetNSFromPath(p)
	if err != nil {
		t.Fatalf("NetNSFromPath(%s): %v", p, err)
	}
	if ns.FD() < 0 || ns.String() != p {
		t.Errorf("FD %d String %q", ns.FD(), ns.String())
	}
	if err := ns.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if ns.FD() != -1 {
		t.Errorf("FD after Close = %d, want -1", ns.FD())
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Dial(ns); err == nil {
		t.Error("Dial with a closed NetNS succeeded")
	}
}
