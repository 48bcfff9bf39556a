package configs

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Line returns the line of the dotted key path in the file it was last set
// from, or 0 when the key came from the embedded default.
func (c *Config) Line(key string) int { return c.lines[key] }

func (c *Config) errf(key, format string, args ...any) error {
	line := c.lines[key]
	msg := fmt.Sprintf(format, args...)
	return &Error{Line: line, Key: key, Msg: key + ": " + msg}
}

// Validate checks values that decode fine but make no sense together or
// out of range. Each error names the key and, when known, its line.
func (c *Config) Validate() error {
	checks := []func() error{c.validateSpool, c.validateListen, c.validateSMTPIn, c.validateDelivery, c.validateVMTAs, c.validateAPI, c.validateFeedback, c.validateWebhooks, c.validateRest}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateSpool() error {
	if strings.TrimSpace(c.Spool.Dir) == "" {
		return c.errf("spool.dir", "must name a directory")
	}
	if c.Spool.MinFreeSpace < 0 {
		return c.errf("spool.min_free_space", "must not be negative")
	}
	return nil
}

func (c *Config) validateListen() error {
	for key, addr := range map[string]string{
		"listen.smtp": c.Listen.SMTP, "listen.http": c.Listen.HTTP, "listen.grpc": c.Listen.GRPC,
	} {
		if addr == "" {
			continue
		}
		if err := checkHostPort(addr); err != nil {
			return c.errf(key, "%v", err)
		}
	}
	return nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q (want host:port, e.g. 127.0.0.1:2525)", addr)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host in %q", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid port in %q (want 0-65535)", addr)
	}
	return nil
}

func (c *Config) validateSMTPIn() error {
	s := &c.SMTPIn
	switch {
	case s.MaxMessageSize <= 0:
		return c.errf("smtp_in.max_message_size", "must be positive")
	case s.MaxRecipients <= 0:
		return c.errf("smtp_in.max_recipients", "must be positive")
	case s.MaxLineLength < 1000:
		return c.errf("smtp_in.max_line_length", "must be at least 1000 (RFC 5321 4.5.3.1.6)")
	case s.MaxConnections <= 0:
		return c.errf("smtp_in.max_connections", "must be positive")
	case s.MaxConnectionsPerIP <= 0:
		return c.errf("smtp_in.max_connections_per_ip", "must be positive")
	case s.MaxBadCommands <= 0:
		return c.errf("smtp_in.max_bad_commands", "must be positive")
	case s.MaxHeaderLines <= 0:
		return c.errf("smtp_in.max_header_lines", "must be positive")
	case s.MaxHops <= 0:
		return c.errf("smtp_in.max_hops", "must be positive")
	case s.MaxAuthFailures <= 0:
		return c.errf("smtp_in.max_auth_failures", "must be positive")
	case s.AuthFailuresPerIP <= 0:
		return c.errf("smtp_in.auth_failures_per_ip", "must be positive")
	case s.AuthFailureWindow <= 0:
		return c.errf("smtp_in.auth_failure_window", "must be positive")
	case s.CommandTimeout <= 0:
		return c.errf("smtp_in.command_timeout", "must be positive")
	case s.DataTimeout <= 0:
		return c.errf("smtp_in.data_timeout", "must be positive")
	case s.SessionTimeout <= 0:
		return c.errf("smtp_in.session_timeout", "must be positive")
	}
	if (s.TLS.Cert == "") != (s.TLS.Key == "") {
		return c.errf("smtp_in.tls", "set both cert and key, or neither")
	}
	for _, f := range []struct{ key, path string }{{"smtp_in.tls.cert", s.TLS.Cert}, {"smtp_in.tls.key", s.TLS.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return c.errf(f.key, "cannot read %s: %v", f.path, err)
		}
	}
	return c.validateUsers()
}

func (c *Config) validateUsers() error {
	names := map[string]bool{}
	for i, u := range c.SMTPIn.Users {
		key := fmt.Sprintf("smtp_in.users[%d]", i)
		switch {
		case u.Name == "":
			return c.errf(key+".name", "every user needs a name")
		case names[strings.ToLower(u.Name)]:
			return c.errf(key+".name", "user %q is listed twice", u.Name)
		case !strings.HasPrefix(u.PasswordHash, "$2"):
			return c.errf(key+".password_hash", "must be a bcrypt hash (make one with `sluice hash-password`)")
		}
		names[strings.ToLower(u.Name)] = true
		for j, d := range u.FromDomains {
			if d == "" || strings.ContainsAny(d, "@ ") {
				return c.errf(fmt.Sprintf("%s.from_domains[%d]", key, j), "invalid domain %q", d)
			}
		}
	}
	return nil
}

func (c *Config) validateDelivery() error {
	d := &c.Delivery
	switch {
	case d.BounceAfter <= 0:
		return c.errf("delivery.bounce_after", "must be positive")
	case d.MXPort <= 0 || d.MXPort > 65535:
		return c.errf("delivery.mx_port", "must be a port number (1-65535)")
	case d.MaxSMTPOut <= 0:
		return c.errf("delivery.max_smtp_out", "must be positive")
	case d.MaxMsgPerConnection <= 0:
		return c.errf("delivery.max_msg_per_connection", "must be positive")
	case d.MaxRcptPerMsg <= 0:
		return c.errf("delivery.max_rcpt_per_msg", "must be positive")
	case d.IdleTimeout <= 0:
		return c.errf("delivery.idle_timeout", "must be positive")
	case len(d.RetryAfter) == 0:
		return c.errf("delivery.retry_after", "needs at least one interval")
	case d.BatchSize <= 0:
		return c.errf("delivery.batch_size", "must be positive")
	case d.MaxInflight < d.BatchSize:
		return c.errf("delivery.max_inflight", "must be at least delivery.batch_size (%d)", d.BatchSize)
	}
	switch d.TLS {
	case "require", "opportunistic", "off":
	default:
		return c.errf("delivery.tls", "invalid policy %q (want require, opportunistic or off)", d.TLS)
	}
	if d.Chunking != "auto" && d.Chunking != "off" {
		return c.errf("delivery.chunking", "invalid value %q (want auto or off)", d.Chunking)
	}
	for i, r := range d.RetryAfter {
		if r <= 0 {
			return c.errf(fmt.Sprintf("delivery.retry_after[%d]", i), "must be positive")
		}
	}
	if d.SourceIP != "" && net.ParseIP(d.SourceIP) == nil {
		return c.errf("delivery.source_ip", "invalid IP address %q", d.SourceIP)
	}
	for i, r := range c.DNS.Resolvers {
		if _, _, err := net.SplitHostPort(r); err != nil && net.ParseIP(r) == nil {
			return c.errf(fmt.Sprintf("dns.resolvers[%d]", i), "invalid resolver %q (want host:port or an IP)", r)
		}
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Domain == "" {
			return c.errf(key+".domain", "every route needs a domain")
		}
		if len(r.Hosts) == 0 {
			return c.errf(key+".hosts", "route for %q lists no hosts", r.Domain)
		}
	}
	switch c.Acct.Format {
	case "csv", "jsonl":
	default:
		return c.errf("accounting.format", "invalid format %q (want csv or jsonl)", c.Acct.Format)
	}
	return nil
}

func (c *Config) validateVMTAs() error {
	names := map[string]bool{}
	for i, v := range c.VMTAs {
		key := fmt.Sprintf("vmtas[%d]", i)
		switch {
		case v.Name == "" || strings.ContainsAny(v.Name, " \t/\x00"):
			return c.errf(key+".name", "every vmta needs a name without spaces or slashes")
		case names[v.Name]:
			return c.errf(key+".name", "vmta %q is defined twice", v.Name)
		case net.ParseIP(v.SourceIP) == nil:
			return c.errf(key+".source_ip", "invalid IP address %q", v.SourceIP)
		case v.HELO == "" || strings.ContainsAny(v.HELO, " \t"):
			return c.errf(key+".helo", "vmta %q needs a HELO name (its IP's PTR)", v.Name)
		}
		names[v.Name] = true
	}
	pools := map[string]bool{}
	for i, p := range c.Pools {
		key := fmt.Sprintf("pools[%d]", i)
		switch {
		case p.Name == "":
			return c.errf(key+".name", "every pool needs a name")
		case pools[p.Name]:
			return c.errf(key+".name", "pool %q is defined twice", p.Name)
		case len(p.Members) == 0:
			return c.errf(key+".members", "pool %q has no members", p.Name)
		}
		pools[p.Name] = true
		for j, m := range p.Members {
			mk := fmt.Sprintf("%s.members[%d]", key, j)
			if !names[m.VMTA] && !(len(c.VMTAs) == 0 && m.VMTA == "default") {
				return c.errf(mk+".vmta", "pool %q names unknown vmta %q", p.Name, m.VMTA)
			}
			if m.Weight < 0 {
				return c.errf(mk+".weight", "weight must be at least 1")
			}
		}
	}
	return nil
}

func (c *Config) validateAPI() error {
	t := c.API.TLS
	if (t.Cert == "") != (t.Key == "") {
		return c.errf("api.tls", "set both cert and key, or neither")
	}
	if t.ClientCA != "" && t.Cert == "" {
		return c.errf("api.tls.client_ca", "mTLS needs cert and key too")
	}
	if t.Cert == "" && !c.API.AllowPublicWithoutTLS {
		for key, addr := range map[string]string{"listen.grpc": c.Listen.GRPC, "listen.http": c.Listen.HTTP} {
			if addr != "" && !loopbackAddr(addr) {
				return c.errf(key, "%s is not a loopback address and api.tls is not set: API keys would cross the network in clear (set api.tls, or api.allow_public_without_tls: true)", addr)
			}
		}
	}
	for i, k := range c.API.Keys {
		key := fmt.Sprintf("api.keys[%d]", i)
		switch {
		case k.Name == "":
			return c.errf(key+".name", "every API key needs a name")
		case !strings.HasPrefix(k.KeyHash, "sha256:") || len(k.KeyHash) != len("sha256:")+64:
			return c.errf(key+".key_hash", "must be \"sha256:\" and 64 hex digits (make one with `sluice api-key new`)")
		}
		switch k.Role {
		case "inject", "admin", "read":
		default:
			return c.errf(key+".role", "invalid role %q (want inject, admin or read)", k.Role)
		}
	}
	for i, d := range c.DKIM {
		key := fmt.Sprintf("dkim[%d]", i)
		switch {
		case d.Domain == "":
			return c.errf(key+".domain", "every DKIM key needs a domain")
		case d.Selector == "":
			return c.errf(key+".selector", "every DKIM key needs a selector")
		case d.KeyFile == "":
			return c.errf(key+".key_file", "every DKIM key needs a key_file")
		}
	}
	return nil
}

func (c *Config) validateFeedback() error {
	f := c.Feedback
	switch f.Suppression.OnSubmit {
	case "refuse", "drop":
	default:
		return c.errf("feedback.suppression.on_submit", "invalid value %q (want refuse or drop)", f.Suppression.OnSubmit)
	}
	switch f.Suppression.Scope {
	case "global", "sender_domain", "tenant":
	default:
		return c.errf("feedback.suppression.scope", "invalid value %q (want global, sender_domain or tenant)", f.Suppression.Scope)
	}
	if (f.VERP.Domain == "") != (f.VERP.Key == "") {
		return c.errf("feedback.verp", "set both domain and key, or neither")
	}
	if f.VERP.Key != "" && len(f.VERP.Key) < 16 {
		return c.errf("feedback.verp.key", "too short: use at least 16 random characters")
	}
	if d := f.VERP.Domain; d != "" && (strings.ContainsAny(d, "@ ") || !strings.Contains(d, ".")) {
		return c.errf("feedback.verp.domain", "%q is not a domain name", d)
	}
	for i, a := range f.FBLAddresses {
		if !strings.Contains(a, "@") || strings.ContainsAny(a, " <>") {
			return c.errf(fmt.Sprintf("feedback.fbl_addresses[%d]", i), "%q is not an address or @domain", a)
		}
	}
	a := f.Adaptive
	switch {
	case a.DecreaseFactor < 0 || a.DecreaseFactor >= 1:
		return c.errf("feedback.adaptive.decrease_factor", "%v not in (0, 1)", a.DecreaseFactor)
	case a.DeferralPercent > 100:
		return c.errf("feedback.adaptive.deferral_percent", "%v is over 100", a.DeferralPercent)
	case a.BouncePercent > 100:
		return c.errf("feedback.adaptive.bounce_percent", "%v is over 100", a.BouncePercent)
	case a.WindowMinReplies < 0:
		return c.errf("feedback.adaptive.window_min_replies", "%d is negative", a.WindowMinReplies)
	}
	return nil
}

func (c *Config) validateWebhooks() error {
	names := map[string]bool{}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case w.Name == "":
			return c.errf(key+".name", "every webhook needs a name")
		case names[w.Name]:
			return c.errf(key+".name", "webhook %q is listed twice", w.Name)
		case !webhookURL(w.URL):
			return c.errf(key+".url", "must be an http:// or https:// URL with a host")
		case w.BatchSize < 0:
			return c.errf(key+".batch_size", "must not be negative")
		case w.FlushInterval < 0 || w.Timeout < 0 || w.RetryInitial < 0 || w.RetryMax < 0:
			return c.errf(key, "flush_interval, timeout, retry_initial and retry_max must not be negative")
		case w.RetryMax > 0 && w.RetryMax < w.RetryInitial:
			return c.errf(key+".retry_max", "%s is below retry_initial %s", w.RetryMax, w.RetryInitial)
		}
		names[w.Name] = true
		for j, t := range w.Events {
			if !slices.Contains(WebhookEventTypes, t) {
				return c.errf(fmt.Sprintf("%s.events[%d]", key, j), "unknown event type %q (want one of %s)", t,
					strings.Join(WebhookEventTypes, ", "))
			}
		}
	}
	return nil
}

// webhookURL reports whether s is an http or https URL with a host.
func webhookURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *Config) validateRest() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return c.errf("log.level", "invalid level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return c.errf("log.format", "invalid format %q (want text or json)", c.Log.Format)
	}
	return nil
}

// YAML renders the effective configuration (defaults filled in) as YAML,
// with every secret that is set written as Hidden.
func (c *Config) YAML() ([]byte, error) {
	return yaml.Marshal(c.redacted())
}

// loopbackAddr reports whether host:port names a loopback host.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
