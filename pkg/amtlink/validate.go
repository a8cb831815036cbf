package amtlink

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/amtctl/amtctl/pkg/ifla"
)

// ifNameMax is IFNAMSIZ-1: the longest interface name the kernel accepts.
const ifNameMax = 15

// MinMTU and MaxMTU bound the MTU of an AMT link, checked before anything is
// sent by Spec.Validate, Set and ParseMTU. The kernel checks the exact range
// of the device (its maximum is the lower device's MTU minus the AMT
// headers); these only catch values no AMT link can ever have.
const (
	MinMTU = 68    // ETH_MIN_MTU, the IPv4 minimum
	MaxMTU = 65535 // ETH_MAX_MTU
)

// CheckName applies the kernel's dev_valid_name rules to name, the value
// given for field ("name", "dev", "master"), plus a ban on "%", which would
// make the kernel choose the name itself (amt%d). The error, if any, is an
// *ifla.FieldError naming field. An empty name is "empty": CheckName is for
// a value someone gave; the checks of a Spec call the same rule and call a
// name left out "required".
func CheckName(field, name string) error {
	if e := nameError(field, name, "empty"); e != nil {
		return e
	}
	return nil
}

// checkIfName is CheckName for a name that is a required field of a
// request (Spec.Name, the name passed to Get, Set, Delete): "" is
// "required".
func checkIfName(field, name string) *ifla.FieldError {
	return nameError(field, name, "required")
}

// nameError is the one dev_valid_name rule; empty is the reason given for "".
// A good name costs no allocation.
func nameError(field, name, empty string) *ifla.FieldError {
	reason, fix := "", "use letters, digits, '-', '_' or '.', such as amt0"
	switch {
	case name == "":
		reason, fix = empty, "give an interface name of 1 to 15 bytes, such as amt0"
	case len(name) > ifNameMax:
		reason = strconv.Itoa(len(name)) + " bytes long, but Linux device names have at most 15 (IFNAMSIZ-1)"
		fix = "use a shorter name"
	case name == "." || name == "..":
		reason, fix = "not a valid device name (reserved)", "use an ordinary name such as amt0"
	case asciiNameOK(name):
		return nil // the common case, without decoding runes
	default:
		if reason = runeReason(name); reason == "" {
			return nil
		}
	}
	return &ifla.FieldError{Field: field, Value: name, Reason: reason, Fix: fix}
}

// runeReason is what is wrong with the first rune of name the kernel's
// dev_valid_name (or the ban on "%") refuses, or "".
func runeReason(name string) string {
	for _, r := range name {
		switch {
		case r == '/':
			return `contains "/"`
		case r == ':':
			return `contains ":" (reserved for address labels)`
		case r == '%':
			return `contains "%" (a name template: the kernel would pick the name)`
		case unicode.IsSpace(r):
			return "contains white space"
		case unicode.IsControl(r):
			return "contains a control character"
		}
	}
	return ""
}

// asciiNameOK reports whether name is all printable ASCII other than
// space, "/", ":" and "%": then nameError's rune loop finds nothing, and a
// batch of names is checked at the cost of one byte comparison each.
func asciiNameOK(name string) bool {
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b <= ' ' || b >= 0x7f, b == '/', b == ':', b == '%':
			return false
		}
	}
	return true
}

// mtuRange is the MTU range as errors word it.
var mtuRange = strconv.Itoa(MinMTU) + " to " + strconv.Itoa(MaxMTU)

// ParseMTU parses s, the value of the generic link keyword "mtu", as a
// decimal MTU from MinMTU to MaxMTU. The error, if any, is an
// *ifla.FieldError with Field "mtu".
func ParseMTU(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < MinMTU || n > MaxMTU {
		return 0, &ifla.FieldError{Field: "mtu", Value: s, Reason: "not an MTU from " + mtuRange,
			Fix: "use a number such as 1500"}
	}
	return uint32(n), nil
}

// checkMTU refuses an MTU outside MinMTU to MaxMTU; fix is said after the
// range.
func checkMTU(mtu uint32, fix string) *ifla.FieldError {
	if mtu >= MinMTU && mtu <= MaxMTU {
		return nil
	}
	return &ifla.FieldError{Field: "mtu", Value: strconv.FormatUint(uint64(mtu), 10), Reason: "out of range",
		Fix: "use " + mtuRange + " (at most the lower device's MTU minus the AMT headers)" + fix}
}

// Missing returns the fields s lacks that Create requires, as the keywords
// amtctl's add and apply use, in the order Validate reports them: "name",
// then what ifla.AMT.Missing reports, counting Dev as "dev". It returns nil
// when nothing is missing.
func (s *Spec) Missing() []string {
	var m []string
	if s.Name == "" {
		m = append(m, "name")
	}
	a := s.AMT
	if s.Dev != "" && a.Link == nil {
		// Dev is resolved to AMT.Link by Create; any index stands in.
		one := uint32(1)
		a.Link = &one
	}
	return append(m, a.Missing()...)
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
	if s.MTU != 0 {
		if err := checkMTU(s.MTU, ", or 0 for the kernel's choice"); err != nil {
			return err
		}
	}
	if err := checkAlias(s.Alias); err != nil {
		return err
	}
	return nil
}

// checkAlias refuses an alias the kernel would refuse (longer than
// IFALIASZ-1) or cut short (a NUL byte).
func checkAlias(a string) *ifla.FieldError {
	switch {
	case len(a) > MaxAlias:
		return &ifla.FieldError{Field: "alias", Value: a, Reason: strconv.Itoa(len(a)) + " bytes long, but the kernel keeps at most " + strconv.Itoa(MaxAlias),
			Fix: "use a shorter alias"}
	case strings.IndexByte(a, 0) >= 0:
		return &ifla.FieldError{Field: "alias", Value: a, Reason: "contains a NUL byte", Fix: "leave the NUL out"}
	}
	return nil
}

// validate checks ch for the link called name without asking the kernel.
func (ch Change) validate(name string) *ifla.FieldError {
	if ch.MTU != nil {
		if err := checkMTU(*ch.MTU, ""); err != nil {
			return err
		}
	}
	if ch.Alias != nil {
		if err := checkAlias(*ch.Alias); err != nil {
			return err
		}
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
