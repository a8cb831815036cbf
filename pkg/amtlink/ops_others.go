//go:build !linux

package amtlink

import "context"

func (*client) Set(string, Change) (*Link, error) { return nil, errUnsupported }
func (*client) Devices() ([]Device, error)        { return nil, errUnsupported }
func (*client) Watch(context.Context, WatchOptions, func(Event) error) error {
	return errUnsupported
}
func (*client) Subscribe(context.Context, SubscribeOptions, func(Notification) error) error {
	return errUnsupported
}
