package amtlink

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
)

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "create", Name: "amtg", Err: syscall.EPERM}, "create amtg: permission denied: needs root or CAP_NET_ADMIN"},
		{&Error{Op: "create", Name: "amtg", Err: syscall.EEXIST}, `create amtg: a link named "amtg" already exists`},
		{&Error{Op: "create", Name: "amtg", Err: &lookupError{field: "dev", name: "eth9", err: syscall.ENODEV}}, `create amtg: dev "eth9" not found in this namespace`},
		{&Error{Op: "create", Name: "amtg", Message: "Invalid Local address", Err: syscall.EINVAL}, "create amtg: kernel: Invalid Local address (invalid argument)"},
		{&Error{Op: "create", Name: "amtg", Err: &kernelErr{sentinel: ErrNoDriver, errno: syscall.EOPNOTSUPP}}, "create amtg: kernel has no AMT driver (modprobe amt, or build with CONFIG_AMT)"},
		{&Error{Op: "list", Err: syscall.ENOBUFS}, "list: no buffer space available"},
		{&Error{Op: "get", Name: "eth0", Err: &notAMTError{name: "eth0", kind: "veth"}}, "get eth0: eth0 is a veth link, not amt"},
		{&Error{Op: "create", Name: "amtg", Err: &ifla.FieldError{Field: "mtu", Value: "9", Reason: "out of range", Fix: "use 68 to 65535"}}, `create amtg: mtu "9": out of range; use 68 to 65535`},
		{&Error{Op: "create"}, "create: unknown error"},
		{&Error{Op: "dial netns blue", Err: syscall.EPERM}, "dial netns blue: permission denied: entering another network namespace needs root or CAP_SYS_ADMIN"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	for _, tt := range []struct {
		err    error
		is     []error
		isNot  []error
		target string
	}{
		{err: syscall.EPERM, is: []error{os.ErrPermission, syscall.EPERM}, isNot: []error{os.ErrExist, os.ErrNotExist}},
		{err: syscall.EACCES, is: []error{os.ErrPermission}},
		{err: syscall.EEXIST, is: []error{os.ErrExist}, isNot: []error{os.ErrNotExist}},
		{err: syscall.ENODEV, is: []error{os.ErrNotExist, syscall.ENODEV}, isNot: []error{os.ErrExist}},
		{err: syscall.ENOENT, is: []error{os.ErrNotExist}},
		{err: &notAMTError{name: "x", kind: "veth"}, is: []error{os.ErrNotExist, ErrNotAMT}, isNot: []error{os.ErrExist}},
		{err: &kernelErr{sentinel: ErrNoDriver, errno: syscall.EOPNOTSUPP}, is: []error{ErrNoDriver, syscall.EOPNOTSUPP, errors.ErrUnsupported}, isNot: []error{ErrNotSupported, os.ErrNotExist}},
		{err: &kernelErr{sentinel: ErrNotSupported, errno: syscall.EOPNOTSUPP}, is: []error{ErrNotSupported, errors.ErrUnsupported}, isNot: []error{ErrNoDriver}},
		{err: syscall.EINVAL, isNot: []error{os.ErrNotExist, os.ErrExist, os.ErrPermission, ErrNoDriver}},
	} {
		e := &Error{Op: "op", Name: "n", Err: tt.err}
		for _, target := range tt.is {
			if !errors.Is(e, target) {
				t.Errorf("errors.Is(%v, %v) = false", e, target)
			}
		}
		for _, target := range tt.isNot {
			if errors.Is(e, target) {
				t.Errorf("errors.Is(%v, %v) = true", e, target)
			}
		}
	}
}
