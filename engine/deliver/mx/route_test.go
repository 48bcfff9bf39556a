package mx

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestLookup_Routes_ExactBeatsWildcardBeatsAnyAndAllBeatMX(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{
			{Domain: "*", Hosts: []string{"smarthost.example:587"}},
			{Domain: "*.corp.example", Hosts: []string{"192.0.2.10"}},
			{Domain: "*.eu.corp.example", Hosts: []string{"[2001:db8::20]:2526"}},
			{Domain: "Special.Corp.Example.", Hosts: []string{"relay1.example", "relay2.example:26"}},
		}
	})
	e.dns.SetA("smarthost.example", time.Hour, addr("192.0.2.1"))
	e.dns.SetA("relay1.example", time.Hour, addr("192.0.2.2"))
	e.dns.SetA("relay2.example", time.Hour, addr("2001:db8::2"))
	e.dns.SetMX("special.corp.example", time.Hour, mxs("mx.corp.example", 10)...) // ignored: routed

	tests := []struct {
		domain   string
		wantSite string
		want     string // hosts as name/addrs:port
	}{
		{"special.corp.example", "route:relay1.example:2525,relay2.example:26",
			"[relay1.example/[192.0.2.2]:2525 relay2.example/[2001:db8::2]:26]"},
		{"a.corp.example", "route:192.0.2.10:2525", "[/[192.0.2.10]:2525]"},
		{"a.b.corp.example", "route:192.0.2.10:2525", "[/[192.0.2.10]:2525]"},
		{"x.eu.corp.example", "route:[2001:db8::20]:2526", "[/[2001:db8::20]:2526]"},
		{"corp.example", "route:smarthost.example:587", "[smarthost.example/[192.0.2.1]:587]"}, // *.corp.example is sub-domains only
		{"gmail.com", "route:smarthost.example:587", "[smarthost.example/[192.0.2.1]:587]"},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			p := e.lookup(t, tt.domain)
			var got []string
			for _, h := range p.Hosts {
				got = append(got, fmt.Sprintf("%s/%v:%d", h.Name, h.Addrs, h.Port))
			}
			if !p.Route || p.Site != tt.wantSite || fmt.Sprint(got) != tt.want {
				t.Errorf("route %v site %q hosts %v; want site %q hosts %s", p.Route, p.Site, got, tt.wantSite, tt.want)
			}
		})
	}
}

func TestLookup_RouteHostsUnresolvable_Temporary(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{{Domain: "example.com", Hosts: []string{"missing.example"}}}
	})
	_, err := e.r.Lookup(context.Background(), "example.com")
	if !errors.Is(err, ErrTemporary) || errors.Is(err, ErrNoMailHosts) {
		t.Errorf("Lookup: %v, want ErrTemporary: a broken route is the operator's to fix, not a bounce", err)
	}
}

func TestLookup_WildcardRoute_DoesNotMatchApex(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{{Domain: "*.example.com", Hosts: []string{"192.0.2.1"}}}
	})
	e.dns.SetMX("example.com", time.Hour, mxs("mx.example.com", 10)...)
	e.dns.SetA("mx.example.com", time.Hour, addr("192.0.2.5"))

	if p := e.lookup(t, "example.com"); p.Route || p.Site != "mx.example.com" {
		t.Errorf("example.com got %+v, want its MX", p)
	}
	if p := e.lookup(t, "www.example.com"); !p.Route {
		t.Errorf("www.example.com got %+v, want the route", p)
	}
}
