//go:build linux

package amtlink

import (
	"context"
	"errors"
)

func (c *client) Watch(ctx context.Context, opt WatchOptions, fn func(Event) error) error {
	return &Error{Op: "watch", Err: errors.New("amtlink: Watch is being written")}
}
