//go:build !linux

package cli

import (
	"context"
	"errors"
	"net"
)

// nsDialer: network namespaces are Linux's alone.
func nsDialer(int) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("network namespaces are only supported on Linux")
	}
}
