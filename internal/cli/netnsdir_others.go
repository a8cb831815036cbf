//go:build !linux

package cli

import "errors"

// netnsDir: named network namespaces are Linux's alone.
type netnsDir struct{ names chan string }

func watchNetnsDir(string) (*netnsDir, error) {
	return nil, errors.New("network namespaces are only supported on Linux")
}

func (d *netnsDir) close() {}
