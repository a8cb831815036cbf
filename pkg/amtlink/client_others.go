//go:build !linux

package amtlink

import (
	"fmt"
	"runtime"
)

// errUnsupported is returned by every operation on platforms other than
// Linux.
var errUnsupported = fmt.Errorf("amtlink: this library is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)

// client is the stub used on platforms without rtnetlink.
type client struct{}

func newClient(*NetNS) (*client, error)    { return nil, errUnsupported }
func (*client) Close() error               { return errUnsupported }
func (*client) Create(Spec) (*Link, error) { return nil, errUnsupported }
func (*client) Add(Spec) error             { return errUnsupported }
func (*client) Get(string) (*Link, error)  { return nil, errUnsupported }
func (*client) List() ([]Link, error)      { return nil, errUnsupported }
func (*client) Delete(string) error        { return errUnsupported }
