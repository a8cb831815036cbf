//go:build linux

package amtlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// netnsRunDir is where `ip netns add NAME` bind-mounts named namespaces.
const netnsRunDir = "/run/netns"

// OpenNetNS opens a network namespace by name or path.
//
// A name without "/" is a named namespace as `ip netns add NAME` creates it,
// /run/netns/NAME. Anything containing "/" is a path, such as
// /proc/1234/ns/net or /var/run/netns/blue.
//
// A missing namespace gives an error compatible with
// errors.Is(err, os.ErrNotExist) that reads
// `network namespace "NAME" not found (ip netns add NAME?)`. A file that is
// not a network namespace (for example a stale /run/netns entry whose bind
// mount is gone) is rejected too, so a Client never silently talks to the
// wrong namespace.
func OpenNetNS(nameOrPath string) (*NetNS, error) {
	if nameOrPath == "" {
		return nil, &netnsError{name: nameOrPath, msg: "network namespace name is empty; give a name from `ip netns list` or a path such as /proc/PID/ns/net", err: fs.ErrInvalid}
	}
	path, named := nameOrPath, !strings.Contains(nameOrPath, "/")
	if named {
		if nameOrPath == "." || nameOrPath == ".." {
			return nil, &netnsError{name: nameOrPath, msg: fmt.Sprintf("network namespace name %q is not valid; use a name from `ip netns list`", nameOrPath), err: fs.ErrInvalid}
		}
		path = filepath.Join(netnsRunDir, nameOrPath)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			msg := fmt.Sprintf("network namespace %q not found", nameOrPath)
			if named {
				msg += " (ip netns add " + nameOrPath + "?)"
			}
			return nil, &netnsError{name: nameOrPath, msg: msg, err: err}
		}
		return nil, &netnsError{name: nameOrPath, msg: fmt.Sprintf("network namespace %q: %v", nameOrPath, err), err: err}
	}
	if err := checkNetNS(f); err != nil {
		f.Close()
		return nil, &netnsError{name: nameOrPath, msg: fmt.Sprintf("network namespace %q: %v", nameOrPath, err), err: err}
	}
	return &NetNS{fd: int(f.Fd()), owned: true, name: nameOrPath, close: f.Close}, nil
}

var errNotNetNS = errors.New("not a network namespace")

// checkNetNS makes sure f is a namespace file (nsfs) of type network.
func checkNetNS(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("fstatfs: %w", err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%w (the file is not a namespace; is the bind mount gone?)", errNotNetNS)
	}
	// NS_GET_NSTYPE (Linux 4.11+) tells which kind of namespace it is.
	const nsGetNSType = 0xb703 // _IO(0xb7, 0x3)
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return nil // older kernel: cannot tell, trust the path
		}
		return fmt.Errorf("NS_GET_NSTYPE: %w", err)
	}
	if t != unix.CLONE_NEWNET {
		return fmt.Errorf("%w (it is another kind of namespace)", errNotNetNS)
	}
	return nil
}

// netnsError is the error of OpenNetNS: one readable line, unwrapping to the
// cause (an *fs.PathError for a missing namespace).
type netnsError struct {
	name string
	msg  string
	err  error
}

func (e *netnsError) Error() string { return e.msg }
func (e *netnsError) Unwrap() error { return e.err }
