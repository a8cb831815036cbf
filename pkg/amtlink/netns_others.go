//go:build !linux

package amtlink

// OpenNetNS opens a network namespace by name or path. Network namespaces
// exist only on Linux; elsewhere it returns an error.
func OpenNetNS(nameOrPath string) (*NetNS, error) {
	return nil, errUnsupported
}
