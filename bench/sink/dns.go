package sink

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/sluice-mta/sluice/bench/fakedns"
)

// DNSSuffix is the tree of names StartDNS answers: every domain under .test.
const DNSSuffix = "test"

// StartDNS starts a fakedns server on addr ("127.0.0.1:5353") that sends
// mail for every domain under .test to the sink listening on sinkAddr: in
// synthetic mode (fakedns.Server.Synthetic) domain d gets MX mx.<d>, or with
// mxHosts > 0 one of mxHosts shared hosts mx<k>.test, and every such host
// resolves to sinkAddr's IP. An unspecified IP (a sink listening on ":2526"
// or "0.0.0.0:2526") resolves to 127.0.0.1. The caller closes the server.
func StartDNS(addr string, mxHosts int, sinkAddr net.Addr) (*fakedns.Server, error) {
	return StartDNSSpread(addr, mxHosts, []net.Addr{sinkAddr})
}

// StartDNSSpread is StartDNS for a sink listening on several addresses
// (one port, many loopback IPs): MX host mx<k>.test resolves to the IP of
// sinkAddrs[k mod len], so the sender's connections spread over them.
func StartDNSSpread(addr string, mxHosts int, sinkAddrs []net.Addr) (*fakedns.Server, error) {
	if mxHosts < 0 {
		return nil, fmt.Errorf("sink: dns: mxHosts %d is negative (0 means one MX per domain)", mxHosts)
	}
	if len(sinkAddrs) == 0 {
		return nil, fmt.Errorf("sink: dns: no sink address")
	}
	var ips []netip.Addr
	for _, sa := range sinkAddrs {
		ap, err := netip.ParseAddrPort(sa.String())
		if err != nil {
			return nil, fmt.Errorf("sink: dns: sink address %s: %w", sa, err)
		}
		ip := ap.Addr().Unmap()
		if ip.IsUnspecified() {
			// NB: Go reports every wildcard listener as [::], which also
			// accepts IPv4, so 127.0.0.1 reaches it whichever it was.
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		ips = append(ips, ip)
	}
	srv, err := fakedns.Start(addr)
	if err != nil {
		return nil, fmt.Errorf("sink: dns: %w", err)
	}
	srv.SyntheticSpread(DNSSuffix, mxHosts, ips)
	return srv, nil
}
