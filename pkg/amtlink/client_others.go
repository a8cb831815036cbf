//go:build !linux

package amtlink

// client is the stub used on platforms without rtnetlink.
type client struct{}

func newClient(*NetNS) (*client, error)    { return nil, errUnsupported }
func (*client) Close() error               { return errUnsupported }
func (*client) Create(Spec) (*Link, error) { return nil, errUnsupported }
func (*client) Add(Spec) error             { return errUnsupported }
func (*client) Get(string) (*Link, error)  { return nil, errUnsupported }
func (*client) List() ([]Link, error)      { return nil, errUnsupported }
func (*client) Delete(string) error        { return errUnsupported }
