package vmta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrFCrDNS is wrapped by CheckFCrDNS's error when the DNS answers but does
// not confirm the pair (SourceIP, HELO). A lookup failure (timeout,
// SERVFAIL) wraps the resolver's error instead.
var ErrFCrDNS = errors.New("forward-confirmed reverse DNS does not hold")

// Resolver is the part of *net.Resolver that CheckFCrDNS uses; tests pass a
// fake.
type Resolver interface {
	// LookupAddr returns the PTR names of addr (with or without the trailing
	// dot).
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	// LookupNetIP returns the addresses of host; network is "ip".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// CheckFCrDNS checks forward-confirmed reverse DNS: a PTR of SourceIP is
// HELO (case-insensitively, trailing dot ignored) and HELO's A/AAAA records
// include SourceIP. Both directions are checked and every problem is
// reported in one error naming the vmta, for the engine to log as a
// warning at start:
//
//	vmta ip2: forward-confirmed reverse DNS does not hold: PTR of 192.0.2.2 is [mail.example.net], not the HELO mta2.example.test; mta2.example.test resolves to [192.0.2.7], not 192.0.2.2
//
// A name that does not exist (NXDOMAIN) counts as an empty answer.
func (v *VMTA) CheckFCrDNS(ctx context.Context, r Resolver) error {
	var problems []string
	names, err := r.LookupAddr(ctx, v.SourceIP.String())
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("vmta %s: PTR lookup of %s: %w", v.Name, v.SourceIP, err)
	}
	if !containsName(names, v.HELO) {
		problems = append(problems, fmt.Sprintf("PTR of %s is %v, not the HELO %s", v.SourceIP, names, v.HELO))
	}
	addrs, err := r.LookupNetIP(ctx, "ip", v.HELO)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("vmta %s: address lookup of %s: %w", v.Name, v.HELO, err)
	}
	if !containsAddr(addrs, v.SourceIP) {
		problems = append(problems, fmt.Sprintf("%s resolves to %v, not %s", v.HELO, addrs, v.SourceIP))
	}
	if problems != nil {
		return fmt.Errorf("vmta %s: %w: %s", v.Name, ErrFCrDNS, strings.Join(problems, "; "))
	}
	return nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func containsName(names []string, host string) bool {
	host = strings.TrimSuffix(host, ".")
	for _, n := range names {
		if strings.EqualFold(strings.TrimSuffix(n, "."), host) {
			return true
		}
	}
	return false
}

func containsAddr(addrs []netip.Addr, ip netip.Addr) bool {
	for _, a := range addrs {
		if a.Unmap().WithZone("") == ip.WithZone("") {
			return true
		}
	}
	return false
}
