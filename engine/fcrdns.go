package engine

import (
	"context"
	"net"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/vmta"
)

// checkFCrDNS warns, for each configured vmta, when forward-confirmed
// reverse DNS does not hold for (source IP, HELO): big receivers reject or
// junk mail from IPs whose PTR does not match the HELO. It asks the
// configured resolvers (dns.resolvers) and runs in the background: a slow
// DNS never delays start-up.
func (e *Engine) checkFCrDNS(cfg *configs.Config) {
	if len(cfg.VMTAs) == 0 {
		return
	}
	r := net.DefaultResolver
	if len(cfg.DNS.Resolvers) > 0 {
		addr := cfg.DNS.Resolvers[0]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "53")
		}
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	}
	vs := make([]*vmta.VMTA, 0, len(cfg.VMTAs))
	for _, c := range cfg.VMTAs {
		if v, err := vmta.New(vmta.Config{Name: c.Name, SourceIP: c.SourceIP, HELO: c.HELO}); err == nil {
			vs = append(vs, v)
		}
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		for _, v := range vs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := v.CheckFCrDNS(ctx, r); err != nil {
				e.log.Warn("vmta HELO and PTR do not match (forward-confirmed reverse DNS); receivers may reject or junk its mail",
					"vmta", v.Name, "err", err)
			}
			cancel()
		}
	}()
}
