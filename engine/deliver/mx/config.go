package mx

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Config configures a Resolver. The zero value is usable: New calls
// SetDefaults and Validate.
type Config struct {
	// Resolvers are the recursive DNS servers asked, as "host:port" (a
	// missing port means 53; an IPv6 literal needs brackets with a port).
	// They are tried in order; the next one gets the question when one
	// times out, fails or answers SERVFAIL/REFUSED. Default: the nameservers
	// of /etc/resolv.conf, or 127.0.0.1:53 when it has none.
	Resolvers []string

	// Port is the SMTP port set on every Host of an MX plan (routes may name
	// their own). Tests point it at a sink. Default 25.
	Port int

	// Timeout bounds one DNS exchange with one resolver (UDP, and TCP when
	// the UDP answer is truncated). Default 5s.
	Timeout time.Duration

	// Attempts is how many passes are made over Resolvers before a question
	// fails temporarily. Default 2.
	Attempts int

	// MinTTL is the floor on how long any answer is cached, positive or
	// negative, so TTL-0 records do not cost a query per lookup. Default 30s.
	MinTTL time.Duration

	// MaxTTL caps how long a positive answer is cached, whatever its TTL.
	// Default 1h.
	MaxTTL time.Duration

	// NegativeTTL caps how long NXDOMAIN and NODATA answers are cached; the
	// SOA's negative TTL (RFC 2308) is used when smaller, NegativeTTL when the
	// answer has no SOA. Default 5m.
	NegativeTTL time.Duration

	// TempFailTTL is how long a temporary failure (timeout, SERVFAIL,
	// REFUSED, network error) is remembered, so a burst of lookups for a
	// failing name sends one query, not one each. Negative: not remembered.
	// Default 5s.
	TempFailTTL time.Duration

	// MaxEntries bounds the cache, in DNS answers (one per name and type).
	// When it is full, expired answers are dropped, then arbitrary ones.
	// Default 1,000,000.
	MaxEntries int

	// Routes send mail for some domains to fixed hosts (smarthosts) instead
	// of their MX. See Route for matching.
	Routes []Route

	// Clock is the time source for TTLs. Default time.Now.
	Clock func() time.Time

	// Rand orders MX hosts of equal preference. A Resolver serialises its
	// use. Default: the math/rand/v2 global source.
	Rand *rand.Rand
}

// Route sends mail for Domain to Hosts, ignoring the domain's MX records.
//
// Domain is "example.com" (that domain only), "*.example.com" (every
// sub-domain of example.com at any depth, not example.com itself) or "*"
// (every domain). An exact route beats a wildcard, a longer wildcard beats a
// shorter one, and "*" comes last.
type Route struct {
	Domain string

	// Hosts are tried in order, as "host" or "host:port" (default port
	// Config.Port); a host is a name (resolved for A and AAAA, not MX) or an
	// IP address ("[2001:db8::1]:2525" with a port).
	Hosts []string
}

// Defaults for Config.
const (
	DefaultPort        = 25
	DefaultTimeout     = 5 * time.Second
	DefaultAttempts    = 2
	DefaultMinTTL      = 30 * time.Second
	DefaultMaxTTL      = time.Hour
	DefaultNegativeTTL = 5 * time.Minute
	DefaultTempFailTTL = 5 * time.Second
	DefaultMaxEntries  = 1_000_000

	// ResolvConf is where SetDefaults finds the system's resolvers.
	ResolvConf = "/etc/resolv.conf"
)

// SetDefaults fills every zero field of c with its default and adds port 53
// to resolvers given without one.
func (c *Config) SetDefaults() {
	if len(c.Resolvers) == 0 {
		c.Resolvers = systemResolvers()
	}
	for i, r := range c.Resolvers {
		c.Resolvers[i] = withPort(r, 53)
	}
	setDefault(&c.Port, DefaultPort)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.Attempts, DefaultAttempts)
	setDefault(&c.MinTTL, DefaultMinTTL)
	setDefault(&c.MaxTTL, DefaultMaxTTL)
	setDefault(&c.NegativeTTL, DefaultNegativeTTL)
	setDefault(&c.TempFailTTL, DefaultTempFailTTL)
	setDefault(&c.MaxEntries, DefaultMaxEntries)
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// systemResolvers reads ResolvConf, falling back to 127.0.0.1:53.
func systemResolvers() []string {
	conf, err := dns.ClientConfigFromFile(ResolvConf)
	if err != nil || len(conf.Servers) == 0 {
		return []string{"127.0.0.1:53"}
	}
	rs := make([]string, len(conf.Servers))
	for i, s := range conf.Servers {
		rs[i] = net.JoinHostPort(s, conf.Port)
	}
	return rs
}

// withPort returns hostport with port added when it has none.
func withPort(hostport string, port int) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), strconv.Itoa(port))
}

// Validate reports the first field of c that is out of range. Call it after
// SetDefaults.
func (c *Config) Validate() error {
	for _, r := range c.Resolvers {
		if _, err := parseHostPort(r, 53); err != nil {
			return fmt.Errorf("mx: resolver %q: %w", r, err)
		}
	}
	switch {
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("mx: Port %d is not a TCP port (1-65535; 0 means 25)", c.Port)
	case c.Timeout < 0:
		return errors.New("mx: Timeout must not be negative (0 means the 5s default)")
	case c.Attempts < 0:
		return errors.New("mx: Attempts must not be negative (0 means the default of 2)")
	case c.MinTTL < 0 || c.MaxTTL < 0 || c.NegativeTTL < 0:
		return errors.New("mx: MinTTL, MaxTTL and NegativeTTL must not be negative (0 means the default)")
	case c.MinTTL > c.MaxTTL:
		return fmt.Errorf("mx: MinTTL %v is above MaxTTL %v", c.MinTTL, c.MaxTTL)
	case c.MaxEntries < 0:
		return errors.New("mx: MaxEntries must not be negative (0 means the default of 1,000,000)")
	}
	return validateRoutes(c.Routes, c.Port)
}

// validateRoutes checks route domains and hosts, and that no domain has two.
func validateRoutes(routes []Route, port int) error {
	seen := make(map[string]bool, len(routes))
	for _, rt := range routes {
		d := normalize(rt.Domain)
		name := strings.TrimPrefix(d, "*.")
		if _, ok := dns.IsDomainName(name); d != "*" && (!ok || name == "" || strings.Contains(name, "*")) {
			return fmt.Errorf("mx: route %q: domain must be a name, \"*.name\" or \"*\"", rt.Domain)
		}
		if seen[d] {
			return fmt.Errorf("mx: route %q appears twice", rt.Domain)
		}
		seen[d] = true
		if len(rt.Hosts) == 0 {
			return fmt.Errorf("mx: route %q has no hosts", rt.Domain)
		}
		for _, h := range rt.Hosts {
			if _, err := parseHostPort(h, port); err != nil {
				return fmt.Errorf("mx: route %q host %q: %w", rt.Domain, h, err)
			}
		}
	}
	return nil
}

// hostPort is a parsed "host[:port]": an IP address or a normalised name.
type hostPort struct {
	name string     // normalised host name; empty when addr is set
	addr netip.Addr // valid for an IP literal
	port int
}

// parseHostPort parses "host", "host:port", "[v6]:port" or a bare IP.
func parseHostPort(s string, defPort int) (hostPort, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		host, portStr = strings.Trim(s, "[]"), strconv.Itoa(defPort)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return hostPort{}, fmt.Errorf("bad port %q", portStr)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return hostPort{addr: a.Unmap(), port: port}, nil
	}
	name := normalize(host)
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return hostPort{}, fmt.Errorf("%q is neither an IP address nor a host name", host)
	}
	return hostPort{name: name, port: port}, nil
}

// String formats h as "host:port", brackets around IPv6.
func (h hostPort) String() string {
	host := h.name
	if h.addr.IsValid() {
		host = h.addr.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(h.port))
}

// normalize lowercases a domain name and drops its trailing dot.
func normalize(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}
