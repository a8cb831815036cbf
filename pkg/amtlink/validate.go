package amtlink

import (
	"strconv"
	"unicode"

	"github.com/amtctl/amtctl/pkg/ifla"
)

// ifNameMax is IFNAMSIZ-1: the longest interface name the kernel accepts.
const ifNameMax = 15

// MTU bounds checked before anything is sent. The kernel checks the exact
// range of the device (its maximum is the lower device's MTU minus the AMT
// headers); these only catch values no AMT link can ever have.
const (
	minMTU = 68    // ETH_MIN_MTU, the IPv4 minimum
	maxMTU = 65535 // ETH_MAX_MTU
)

// checkIfName applies the kernel's dev_valid_name rules to name, plus a ban
// on "%", which would make the kernel choose the name itself (amt%d).
func checkIfName(field, name string) *ifla.FieldError {
	e := &ifla.FieldError{Field: field, Value: name}
	switch {
	case name == "":
		e.Reason = "required"
		e.Fix = "give an interface name of 1 to 15 bytes, e.g. amt0"
	case len(name) > ifNameMax:
		e.Reason = strconv.Itoa(len(name)) + " bytes, longer than the kernel's limit of 15 (IFNAMSIZ-1)"
		e.Fix = "use a name of at most 15 bytes"
	case name == "." || name == "..":
		e.Reason = "reserved name"
		e.Fix = "use an ordinary name such as amt0"
	default:
		for _, r := range name {
			switch {
			case r == '/':
				e.Reason = `contains "/"`
			case r == ':':
				e.Reason = `contains ":" (reserved for address labels)`
			case r == '%':
				e.Reason = `contains "%" (a name template, the kernel would pick the name)`
			case unicode.IsSpace(r) || r < 0x20 || r == 0x7f:
				e.Reason = "contains white space or a control character"
			default:
				continue
			}
			e.Fix = "use letters, digits, '-', '_' or '.', e.g. amt0"
			return e
		}
		return nil
	}
	return e
}

// validate checks everything in s that can be checked without asking the
// kernel. It returns the first problem as an *ifla.FieldError.
func (s *Spec) validate() error {
	if err := checkIfName("name", s.Name); err != nil {
		return err
	}
	a := s.AMT
	if s.Dev != "" {
		if a.Link != nil {
			return &ifla.FieldError{Field: "dev", Value: s.Dev,
				Reason: "given together with AMT.Link (ifindex " + strconv.FormatUint(uint64(*a.Link), 10) + ")",
				Fix:    "set either Dev (a device name) or AMT.Link (an ifindex), not both"}
		}
		if err := checkIfName("dev", s.Dev); err != nil {
			return err
		}
		// Stand in for the index Dev will resolve to, so that Validate
		// checks everything else now, before any request is sent.
		a.Link = ifla.Ptr(uint32(1))
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if s.Master != "" {
		if err := checkIfName("master", s.Master); err != nil {
			return err
		}
		if s.Master == s.Name {
			return &ifla.FieldError{Field: "master", Value: s.Master, Reason: "is the link itself",
				Fix: "name a bridge or VRF device, or leave master empty"}
		}
	}
	if s.Dev != "" && s.Dev == s.Name {
		return &ifla.FieldError{Field: "dev", Value: s.Dev, Reason: "is the link itself",
			Fix: "name the lower device the tunnel runs over, e.g. eth0"}
	}
	if s.MTU != 0 && (s.MTU < minMTU || s.MTU > maxMTU) {
		return &ifla.FieldError{Field: "mtu", Value: strconv.FormatUint(uint64(s.MTU), 10),
			Reason: "out of range",
			Fix:    "use 68 to 65535 (at most the lower device's MTU minus the AMT headers), or 0 for the kernel's choice"}
	}
	return nil
}

// validate checks ch for the link called name without asking the kernel.
func (ch Change) validate(name string) *ifla.FieldError {
	if ch.MTU != nil && (*ch.MTU < minMTU || *ch.MTU > maxMTU) {
		return &ifla.FieldError{Field: "mtu", Value: strconv.FormatUint(uint64(*ch.MTU), 10),
			Reason: "out of range",
			Fix:    "use 68 to 65535 (at most the lower device's MTU minus the AMT headers)"}
	}
	if ch.Master != nil && *ch.Master != "" {
		if err := checkIfName("master", *ch.Master); err != nil {
			return err
		}
		if *ch.Master == name {
			return &ifla.FieldError{Field: "master", Value: *ch.Master, Reason: "is the link itself",
				Fix: "name a bridge or VRF device, or use nomaster to detach the link"}
		}
	}
	return nil
}
