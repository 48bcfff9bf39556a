package mx

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// routeTable finds the static route for a domain.
type routeTable struct {
	exact    map[string]route // "example.com"
	wildcard map[string]route // "*.example.com", keyed by "example.com"
	any      *route           // "*"
}

// route is a validated Route.
type route struct {
	hosts []hostPort
	site  string
}

func newRouteTable(routes []Route, port int) routeTable {
	t := routeTable{exact: map[string]route{}, wildcard: map[string]route{}}
	for _, rt := range routes {
		var r route
		names := make([]string, len(rt.Hosts))
		for i, h := range rt.Hosts {
			hp, _ := parseHostPort(h, port) // Validate checked it
			r.hosts = append(r.hosts, hp)
			names[i] = hp.String()
		}
		r.site = "route:" + strings.Join(names, ",")
		switch d := normalize(rt.Domain); {
		case d == "*":
			t.any = &r
		case strings.HasPrefix(d, "*."):
			t.wildcard[d[2:]] = r
		default:
			t.exact[d] = r
		}
	}
	return t
}

// match returns the route for domain d: exact, else the wildcard of the
// nearest parent, else "*".
func (t routeTable) match(d string) (route, bool) {
	if r, ok := t.exact[d]; ok {
		return r, true
	}
	for parent := d; ; {
		i := strings.IndexByte(parent, '.')
		if i < 0 {
			break
		}
		parent = parent[i+1:]
		if r, ok := t.wildcard[parent]; ok {
			return r, true
		}
	}
	if t.any != nil {
		return *t.any, true
	}
	return route{}, false
}

// routePlan resolves a route's hosts (A and AAAA; IP literals as they are).
// A route whose hosts have no address is an operator's problem, not the
// recipient's: the error wraps ErrTemporary, never a permanent one.
func (r *Resolver) routePlan(ctx context.Context, d string, rt route) (*Plan, error) {
	hosts := make([]Host, 0, len(rt.hosts))
	expires := r.cfg.Clock().Add(r.cfg.MaxTTL)
	for i, hp := range rt.hosts {
		if hp.addr.IsValid() {
			hosts = append(hosts, Host{Pref: i, Addrs: []netip.Addr{hp.addr}, Port: hp.port})
			continue
		}
		resolved, exp, err := r.resolveHosts(ctx, []string{hp.name}, []int{i}, hp.port, false)
		expires = earliest(expires, exp)
		if err == nil {
			hosts = append(hosts, resolved...)
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("mx: lookup %s: %w: no host of %s has an address", d, ErrTemporary, rt.site)
	}
	return &Plan{Domain: d, Hosts: hosts, Site: rt.site, Route: true, Expires: expires}, nil
}
