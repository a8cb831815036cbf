package driad

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// The defaults and limits of glibc's resolver (resolv.conf(5)).
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 2
	maxServers      = 3
	maxTimeout      = 30 * time.Second
	maxAttempts     = 5
)

// ResolvConfPath is where [ReadResolvConf] looks by default.
const ResolvConfPath = "/etc/resolv.conf"

// ReadResolvConf reads a resolv.conf file (path; "" means
// /etc/resolv.conf) with [ParseResolvConf].
func ReadResolvConf(path string) (*Resolver, error) {
	if path == "" {
		path = ResolvConfPath
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read resolver configuration: %w", err)
	}
	defer f.Close()
	r, err := ParseResolvConf(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseResolvConf reads the parts of resolv.conf(5) a DRIAD lookup needs:
// up to three "nameserver ADDR" lines (port 53) and the "timeout:N" and
// "attempts:N" options, capped as glibc caps them (30 s, 5 attempts).
// Other keywords and options (search, domain, ndots, rotate, ...) are
// ignored: the reverse names this package asks for are absolute. With no
// nameserver line the resolver is 127.0.0.1:53, as glibc's is. A
// nameserver that is not an IP address is an error naming its line.
func ParseResolvConf(rd io.Reader) (*Resolver, error) {
	r := &Resolver{Timeout: DefaultTimeout, Attempts: DefaultAttempts}
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: nameserver without an address", n)
			}
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				return nil, fmt.Errorf("line %d: nameserver %q is not an IP address", n, f[1])
			}
			if len(r.Servers) < maxServers {
				r.Servers = append(r.Servers, netip.AddrPortFrom(a, 53))
			}
		case "options":
			for _, o := range f[1:] {
				k, v, ok := strings.Cut(o, ":")
				if !ok {
					continue
				}
				i, err := strconv.Atoi(v)
				if err != nil || i < 0 {
					continue // glibc ignores what it cannot read
				}
				switch k {
				case "timeout":
					r.Timeout = min(time.Duration(max(i, 1))*time.Second, maxTimeout)
				case "attempts":
					r.Attempts = min(max(i, 1), maxAttempts)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.Servers) == 0 {
		r.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}
	}
	return r, nil
}

// ParseServer parses a --dns value: an IP address, with an optional port
// (ADDR:PORT, or [ADDR]:PORT for IPv6); the port defaults to 53.
func ParseServer(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("dns %q: not an IP address or ADDR:PORT; use an address such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53", s)
	}
	return ap, nil
}
