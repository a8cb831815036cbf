package amtlink

import (
	"context"
	"net/netip"
)

// NotificationType says what a Notification reports.
type NotificationType int

// The notifications Subscribe reports.
const (
	// NotifyLink: a link of any kind appeared or changed (RTM_NEWLINK).
	NotifyLink NotificationType = iota
	// NotifyLinkDeleted: a link of any kind went away (RTM_DELLINK).
	NotifyLinkDeleted
	// NotifyAddr: an IPv4 or IPv6 address was added to a device
	// (RTM_NEWADDR).
	NotifyAddr
	// NotifyAddrDeleted: an address was removed (RTM_DELADDR).
	NotifyAddrDeleted
	// NotifyResync: the kernel dropped notifications because the reader
	// fell behind (ENOBUFS, a receive-buffer overrun). Anything may have
	// changed meanwhile: read the whole state again. The subscription
	// goes on.
	NotifyResync
)

var notificationNames = [...]string{
	NotifyLink:        "link",
	NotifyLinkDeleted: "link-deleted",
	NotifyAddr:        "addr",
	NotifyAddrDeleted: "addr-deleted",
	NotifyResync:      "resync",
}

// String returns the notification's name: "link", "link-deleted", "addr",
// "addr-deleted" or "resync".
func (t NotificationType) String() string {
	return enumName(notificationNames[:], t, "notification type")
}

// Notification is one change Subscribe reports: a link of any kind, or an
// address, changed; or notifications were lost (NotifyResync).
type Notification struct {
	Type NotificationType
	// Device is the link of NotifyLink and NotifyLinkDeleted as the
	// notification describes it (Index, Name, Kind, Flags, Type, MTU,
	// Master; Addrs is nil). For NotifyAddr and NotifyAddrDeleted only
	// Device.Index, the address's device, is set. NotifyResync leaves it
	// zero.
	Device Device
	// Addr is the address of NotifyAddr and NotifyAddrDeleted, with its
	// prefix length.
	Addr netip.Prefix

	// msg is the RTM_NEWLINK payload of a link notification, for Watch.
	msg []byte
}

// SubscribeOptions tune Subscribe.
type SubscribeOptions struct {
	// Ready, if not nil, is called once, when the subscription is in
	// place: every change after Ready is reported (or covered by a
	// NotifyResync). A caller that reads the state first calls it from
	// Ready, or after Ready was called, so that no change falls between.
	Ready func()
}

// Subscribe reports the changes to the links (of every kind) and the
// addresses of the Client's namespace to fn, in the kernel's order, until
// ctx is done (it then returns nil) or fn returns an error (which Subscribe
// returns). It tells that something changed, not the whole state: a caller
// that keeps links in a desired state reads what it needs when told.
//
// Subscribe opens its own rtnetlink socket in the Client's namespace,
// subscribed to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR;
// requests on the Client go on as before, on the Client's socket. It sends
// nothing itself and is idle between notifications. When the kernel drops
// notifications because fn fell behind (ENOBUFS; deleting a device that
// carries thousands of VLANs is enough), Subscribe reports NotifyResync
// and goes on: it never stops silently. Any other receive error ends
// Subscribe with an *Error.
//
// Subscribing in the caller's own namespace needs no privilege; for
// another namespace it needs what Watch needs there.
//
// fn is called from Subscribe's goroutine; it may use the Client.
func (c *Client) Subscribe(ctx context.Context, opt SubscribeOptions, fn func(Notification) error) error {
	return c.c.Subscribe(ctx, opt, fn)
}
