package vmta

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrInvalid is wrapped by every error Validate and New return.
var ErrInvalid = errors.New("invalid vmta")

// MaxNameLen is the longest vmta name accepted.
const MaxNameLen = 64

// VMTA is a virtual MTA: a name, the source IP its connections leave from and
// the HELO/EHLO name it greets with. It is a plain value; build one with New
// (from configuration) or directly and call Validate.
type VMTA struct {
	// Name identifies the vmta in configuration, pools, queues and spool keys:
	// 1 to 64 characters of [A-Za-z0-9._-].
	Name string
	// SourceIP is the address outbound connections bind to, IPv4 or IPv6
	// (an IPv6 link-local address carries its zone). Required.
	SourceIP netip.Addr
	// HELO is the name sent in EHLO/HELO: a fully qualified host name that
	// should be the PTR of SourceIP (see CheckFCrDNS). Required.
	HELO string
	// Disabled vmtas are not picked by pools; queued mail stays queued.
	// Default false.
	Disabled bool
}

// Config is the plain form of a vmta as configuration holds it (the engine's
// config layer maps YAML onto it).
type Config struct {
	// Name is the vmta's name (see VMTA.Name).
	Name string
	// SourceIP is the source address in text form, "192.0.2.10" or
	// "2001:db8::10".
	SourceIP string
	// HELO is the EHLO name (see VMTA.HELO).
	HELO string
}

// New parses and validates c.
func New(c Config) (*VMTA, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(c.SourceIP))
	if err != nil {
		return nil, fmt.Errorf("vmta %s: source_ip %q: %w: not an IP address", c.Name, c.SourceIP, ErrInvalid)
	}
	v := &VMTA{Name: c.Name, SourceIP: ip, HELO: c.HELO}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// Validate reports the first thing wrong with v; the error names the vmta
// and the field and wraps ErrInvalid.
func (v *VMTA) Validate() error {
	if err := validName(v.Name); err != nil {
		return fmt.Errorf("vmta %q: name: %w: %s", v.Name, ErrInvalid, err)
	}
	if err := validSource(v.SourceIP); err != nil {
		return fmt.Errorf("vmta %s: source_ip: %w: %s", v.Name, ErrInvalid, err)
	}
	if err := validHost(v.HELO); err != nil {
		return fmt.Errorf("vmta %s: helo %q: %w: %s", v.Name, v.HELO, ErrInvalid, err)
	}
	return nil
}

func validName(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("longer than %d characters", MaxNameLen)
	}
	for _, c := range []byte(s) {
		if !(isAlnum(c) || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("character %q not allowed (use letters, digits, '.', '_', '-')", c)
		}
	}
	return nil
}

func validSource(ip netip.Addr) error {
	switch {
	case !ip.IsValid():
		return errors.New("required")
	case ip.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address: write it as %s", ip, ip.Unmap())
	case ip.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address: name the address to send from", ip)
	case ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address", ip)
	}
	return nil
}

// validHost accepts a fully qualified host name: at least two labels of
// letters, digits and inner hyphens, 63 bytes a label, 253 in all, no
// trailing dot.
func validHost(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if len(s) > 253 {
		return errors.New("longer than 253 characters")
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return errors.New("not a fully qualified host name (RFC 5321 asks for one)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for _, c := range []byte(l) {
			if !isAlnum(c) && c != '-' {
				return fmt.Errorf("character %q not allowed in a host name", c)
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CheckBindable reports whether SourceIP can be bound on this host: it
// listens on SourceIP:0 (TCP) and closes at once. The error names the vmta,
// so the engine can return it as a start-up error as is:
//
//	vmta ip2: source IP 192.0.2.9 is not configured on this host: listen tcp 192.0.2.9:0: bind: cannot assign requested address
//
// NB: a host with net.ipv4.ip_nonlocal_bind (or the IPv6 equivalent) set
// binds any address, so the check then passes for addresses it lacks.
func (v *VMTA) CheckBindable() error {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(v.SourceIP, 0)))
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return fmt.Errorf("vmta %s: source IP %s is not configured on this host: %w", v.Name, v.SourceIP, err)
		}
		return fmt.Errorf("vmta %s: source IP %s cannot be bound: %w", v.Name, v.SourceIP, err)
	}
	return ln.Close()
}

// Network is the dial network that matches SourceIP's family, "tcp4" or
// "tcp6": a dialer bound to an IPv4 source cannot reach an IPv6 MX host and
// the other way round, so the engine dials MX addresses of this family only.
func (v *VMTA) Network() string {
	if v.SourceIP.Is4() {
		return "tcp4"
	}
	return "tcp6"
}

// Dialer returns a net.Dialer whose connections leave from SourceIP (an
// ephemeral port) and whose connect attempts give up after timeout (0 means
// the operating system's limit). Each call returns a new Dialer.
func (v *VMTA) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(v.SourceIP, 0)),
		Timeout:   timeout,
	}
}
