//go:build !linux

package amtlink

func (*client) Device(string) (*Device, error) { return nil, errUnsupported }
