//go:build !linux

package amtlink

// OpenNetNS opens the named network namespace. Network namespaces exist
// only on Linux; elsewhere it returns an error.
func OpenNetNS(name string) (*NetNS, error) { return nil, errUnsupported }

// NetNSFromPath opens the network namespace file at path. Network
// namespaces exist only on Linux; elsewhere it returns an error.
func NetNSFromPath(path string) (*NetNS, error) { return nil, errUnsupported }

// Gone reports whether the name n was opened with no longer leads to its
// namespace. Network namespaces exist only on Linux; elsewhere it is false.
func (n *NetNS) Gone() bool { return false }
