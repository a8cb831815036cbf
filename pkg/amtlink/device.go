package amtlink

// Device returns the network device called name in the client's namespace,
// of any kind, with its addresses: one RTM_GETLINK by name (without
// statistics) and one address dump of that device only. It is the cheap
// form of [Client.Devices] for a caller that needs one device, whatever the
// number of devices in the namespace.
//
// A missing device gives an *Error compatible with
// errors.Is(err, os.ErrNotExist).
func (c *Client) Device(name string) (*Device, error) { return c.c.Device(name) }
