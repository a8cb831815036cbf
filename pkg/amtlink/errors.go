package amtlink

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// ErrNoDriver reports that the kernel does not know the link kind "amt":
// it answered EOPNOTSUPP ("Unknown device type") to a create request.
// Load the module (modprobe amt) or use a kernel built with CONFIG_AMT.
var ErrNoDriver = errors.New("amtlink: kernel has no AMT driver (modprobe amt, or build with CONFIG_AMT)")

// ErrNotSupported reports an EOPNOTSUPP answer to anything but creating a
// link, for example changing the AMT parameters of an existing link (the
// kernel's AMT driver has no changelink).
var ErrNotSupported = errors.New("amtlink: operation not supported by the kernel")

// ErrDumpInterrupted reports that the kernel's list changed while it was
// being read (NLM_F_DUMP_INTR) on every attempt, so no consistent listing
// could be had. Asking again later usually works.
var ErrDumpInterrupted = errors.New("amtlink: the kernel's list kept changing while it was read (NLM_F_DUMP_INTR); try again")

// ErrNotAMT reports that a link exists under the given name but is not an
// AMT link. Errors carrying it also match os.ErrNotExist: there is no AMT
// link of that name.
var ErrNotAMT = errors.New("amtlink: not an amt link")

// Error is the error returned by every Client method and by Dial. It keeps
// the kernel's extended acknowledgement text in Message and the cause in Err.
//
// Callers branch with errors.Is, never on the text:
//   - os.ErrPermission: EPERM or EACCES (root or CAP_NET_ADMIN is needed);
//   - os.ErrExist: EEXIST (a link of that name already exists);
//   - os.ErrNotExist: ENODEV or ENOENT (no such link, lower device, master
//     or namespace), and ErrNotAMT;
//   - ErrNoDriver: the kernel has no AMT driver;
//   - ErrNotSupported: any other EOPNOTSUPP;
//   - the raw errno (syscall.Errno or unix.Errno) also matches.
type Error struct {
	Op      string // "create", "get", "list", "delete", "dial"
	Name    string // the link the operation was about, "" for list and dial
	Message string // the kernel's extended acknowledgement message, if any
	Err     error  // the cause: an errno, ErrNoDriver, ErrNotAMT, a *ifla.FieldError, ...
}

// Error returns one line, e.g.
//
//	create amtg: permission denied: needs root or CAP_NET_ADMIN
//	create amtg: a link named "amtg" already exists
//	create amtg: dev "eth9" not found in this namespace
//	create amtg: kernel: Invalid Local address (invalid argument)
func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(e.Op)
	if e.Name != "" {
		sb.WriteByte(' ')
		sb.WriteString(e.Name)
	}
	sb.WriteString(": ")
	msgShown := false
	var errno syscall.Errno
	switch {
	case e.Err == nil:
		sb.WriteString("unknown error")
	case errors.Is(e.Err, ErrNoDriver):
		sb.WriteString(strings.TrimPrefix(ErrNoDriver.Error(), "amtlink: "))
	case (errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EACCES)) && strings.HasPrefix(e.Op, "dial netns"):
		sb.WriteString("permission denied: entering another network namespace needs root or CAP_SYS_ADMIN")
	case errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EACCES):
		sb.WriteString("permission denied: needs root or CAP_NET_ADMIN")
	case errors.Is(e.Err, syscall.EEXIST) && e.Name != "":
		sb.WriteString(`a link named "` + e.Name + `" already exists`)
	case e.Message != "" && errors.As(e.Err, &errno):
		// A bare errno with the kernel's explanation: the explanation
		// is the useful part, the errno text goes in parentheses.
		sb.WriteString("kernel: " + e.Message + " (" + errno.Error() + ")")
		msgShown = true
	default:
		sb.WriteString(strings.TrimPrefix(e.Err.Error(), "amtlink: "))
	}
	if e.Message != "" && !msgShown {
		sb.WriteString(" (kernel: " + e.Message + ")")
	}
	return sb.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Is maps kernel errors onto the os package's sentinels, so callers need not
// import x/sys/unix: EEXIST matches os.ErrExist, ENODEV and ENOENT match
// os.ErrNotExist, EPERM and EACCES match os.ErrPermission. ErrNotAMT also
// matches os.ErrNotExist, ErrNoDriver and ErrNotSupported match
// errors.ErrUnsupported.
func (e *Error) Is(target error) bool {
	switch target {
	case os.ErrExist:
		return errors.Is(e.Err, syscall.EEXIST)
	case os.ErrNotExist:
		return errors.Is(e.Err, syscall.ENODEV) || errors.Is(e.Err, syscall.ENOENT) ||
			errors.Is(e.Err, ErrNotAMT)
	case os.ErrPermission:
		return errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EACCES)
	case errors.ErrUnsupported:
		return errors.Is(e.Err, ErrNoDriver) || errors.Is(e.Err, ErrNotSupported)
	}
	return false
}

// kernelErr couples one of our sentinels with the errno the kernel sent, so
// both match errors.Is: errors.Is(err, ErrNoDriver) and
// errors.Is(err, unix.EOPNOTSUPP).
type kernelErr struct {
	sentinel error
	errno    error
}

func (k *kernelErr) Error() string   { return k.sentinel.Error() }
func (k *kernelErr) Unwrap() []error { return []error{k.sentinel, k.errno} }

// lookupError reports a device named in a Spec (dev, master) that the
// namespace does not have. It unwraps to the kernel's errno (ENODEV), so the
// surrounding *Error matches os.ErrNotExist.
type lookupError struct {
	field string // "dev" or "master"
	name  string
	err   error
}

func (l *lookupError) Error() string {
	return l.field + ` "` + l.name + `" not found in this namespace`
}
func (l *lookupError) Unwrap() error { return l.err }

// notAMTError reports a link that exists but is of another kind.
type notAMTError struct {
	name, kind string
	refuse     bool // Delete: say that nothing was deleted
}

func (n *notAMTError) Error() string {
	var s string
	if n.kind == "" {
		s = n.name + " is not an amt link (it has no link kind: a physical or loopback device?)"
	} else {
		s = n.name + " is a " + n.kind + " link, not amt"
	}
	if n.refuse {
		s += "; refusing to delete it"
	}
	return s
}
func (n *notAMTError) Unwrap() error { return ErrNotAMT }
