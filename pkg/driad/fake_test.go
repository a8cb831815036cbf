package driad

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeServer answers every UDP query on loopback with one AMTRELAY record
// whose RDATA is rdata; with rdata nil it never answers.
func fakeServer(t *testing.T, rdata []byte) netip.AddrPort {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if rdata == nil {
				continue
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			_ = b.UnknownResource(dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: q.Class, TTL: 60}, dnsmessage.UnknownResource{Type: q.Type, Data: rdata})
			msg, _ := b.Finish()
			_, _ = c.WriteTo(msg, from)
		}
	}()
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

func TestLookupMalformedRecord(t *testing.T) {
	s := fakeServer(t, []byte{10, 1, 203, 0, 113}) // an IPv4 relay one byte short
	r := &Resolver{Servers: []netip.AddrPort{s}, Timeout: time.Second, Attempts: 1}
	res, err := r.Lookup(context.Background(), netip.MustParseAddr("198.51.100.12"))
	want := "asked " + s.String() + " for AMTRELAY 12.100.51.198.in-addr.arpa., got a malformed AMTRELAY record (RDATA 0a01cb0071): relay: 3 bytes, but a type 1 relay (ipv4) is 4"
	if res != nil || !errors.Is(err, ErrMalformed) || err.Error() != want {
		t.Errorf("Lookup = %v, %v\nwant error %s", res, err, want)
	}
}

func TestLookupUnknownTypeSkipped(t *testing.T) {
	s := fakeServer(t, []byte{10, 0x85, 1, 2, 3})
	r := &Resolver{Servers: []netip.AddrPort{s}, Timeout: time.Second, Attempts: 1}
	res, err := r.Lookup(context.Background(), netip.MustParseAddr("198.51.100.12"))
	if !errors.Is(err, ErrNoIPv4Relay) || res == nil || len(res.Candidates) != 1 || !strings.Contains(res.Candidates[0].Note, "relay type 5 is not assigned") {
		t.Errorf("Lookup = %+v, %v; want the record listed as skipped and ErrNoIPv4Relay", res, err)
	}
}

func TestLookupTimeout(t *testing.T) {
	s := fakeServer(t, nil)
	r := &Resolver{Servers: []netip.AddrPort{s}, Timeout: 100 * time.Millisecond, Attempts: 2}
	start := time.Now()
	_, err := r.Lookup(context.Background(), netip.MustParseAddr("2001:db8::12"))
	want := "asked " + s.String() + " for AMTRELAY 2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa., got no answer within 100ms (2 attempts)"
	if !errors.Is(err, ErrTimeout) || err.Error() != want {
		t.Errorf("Lookup = %v; want %s", err, want)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v; want about 2 x 100ms", d)
	}
}

// TestLookupDial checks that a Resolver's Dial opens every connection.
func TestLookupDial(t *testing.T) {
	s := fakeServer(t, []byte{10, 1, 203, 0, 113, 15})
	var dialed []string
	r := &Resolver{Servers: []netip.AddrPort{s}, Timeout: time.Second, Attempts: 1,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			dialed = append(dialed, network+" "+address)
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		}}
	res, err := r.Lookup(context.Background(), netip.MustParseAddr("198.51.100.12"))
	if err != nil || res.Relay != netip.MustParseAddr("203.0.113.15") {
		t.Fatalf("Lookup = %+v, %v", res, err)
	}
	if want := "udp " + s.String(); len(dialed) != 1 || dialed[0] != want {
		t.Errorf("dialed %q, want [%q]", dialed, want)
	}
}
