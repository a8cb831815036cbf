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
	_, err = OpenNetNS("/nonexistent/ns/net")
	if want := `network namespace "/nonexistent/ns/net" not found`; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenNetNS(missing path) = %v, want %q", err, want)
	}
	for _, bad := range []string{"", ".", ".."} {
		if _, err := OpenNetNS(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("OpenNetNS(%q) = %v, want fs.ErrInvalid", bad, err)
		}
	}
}

func TestOpenNetNSWrongFile(t *testing.T) {
	for _, p := range []string{"/proc/self/status", "/proc/self/ns/uts"} {
		_, err := OpenNetNS(p)
		if !errors.Is(err, errNotNetNS) {
			t.Errorf("OpenNetNS(%s) = %v, want %v", p, err, errNotNetNS)
		}
	}
}

func TestOpenNetNSOwn(t *testing.T) {
	p := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	ns, err := OpenNetNS(p)
	if err != nil {
		t.Fatalf("OpenNetNS(%s): %v", p, err)
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
