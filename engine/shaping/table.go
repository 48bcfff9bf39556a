package shaping

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every error NewTable returns.
var ErrInvalid = errors.New("invalid shaping rule")

// Table resolves Limits for (vmta, domain, site). It is built once by
// NewTable and never changes, so any number of goroutines may call Resolve
// and Scope at once; a configuration reload builds a new Table.
type Table struct {
	defaults Limits
	domains  ruleList
	sites    ruleList
	vmtas    map[string]*ruleList
}

// ruleList is one list of rules with its pattern index.
type ruleList struct {
	rules []Rule
	idx   index
}

// NewTable validates defaults and every rule and returns the table. The
// error names the list, the rule's position and pattern, and the
// configuration key: `domains[2] ("*.test"): max_smtp_out: must be at least
// 1, got 0`. Rules are copied; their slices are kept (do not modify them
// afterwards).
//
// domainRules and each vmta's rules match domain patterns (in a vmta's
// rules "" means "*"); siteRules match MX host patterns and may not set
// mx_rollup or route (both are decided before the site is known). A
// pattern listed twice in one list is an error.
func NewTable(defaults Limits, domainRules, siteRules []Rule, vmtaRules map[string][]Rule) (*Table, error) {
	if err := defaults.Validate(); err != nil {
		return nil, fmt.Errorf("defaults: %w: %w", ErrInvalid, err)
	}
	t := &Table{defaults: defaults, vmtas: make(map[string]*ruleList, len(vmtaRules))}
	var err error
	if t.domains, err = newRuleList("domains", domainRules, false, false); err != nil {
		return nil, err
	}
	if t.sites, err = newRuleList("sites", siteRules, true, false); err != nil {
		return nil, err
	}
	for v, rules := range vmtaRules {
		if v == "" {
			return nil, fmt.Errorf("vmta overrides: %w: vmta name required", ErrInvalid)
		}
		l, err := newRuleList("vmta "+v+" overrides", rules, false, true)
		if err != nil {
			return nil, err
		}
		t.vmtas[v] = &l
	}
	return t, nil
}

func newRuleList(list string, rules []Rule, site, emptyIsAny bool) (ruleList, error) {
	l := ruleList{rules: make([]Rule, len(rules)), idx: newIndex()}
	for i, r := range rules {
		where := fmt.Sprintf("%s[%d] (%q)", list, i, r.Match)
		if emptyIsAny && strings.TrimSpace(r.Match) == "" {
			r.Match = "*"
		}
		p, err := parsePattern(r.Match)
		if err != nil {
			return ruleList{}, fmt.Errorf("%s: %w: %w", where, ErrInvalid, err)
		}
		if j := l.idx.add(p, i); j >= 0 {
			return ruleList{}, fmt.Errorf("%s: %w: match: same pattern as %s[%d]", where, ErrInvalid, list, j)
		}
		if err := r.validateFields(); err != nil {
			return ruleList{}, fmt.Errorf("%s: %w: %w", where, ErrInvalid, err)
		}
		if site && r.MXRollup != nil {
			return ruleList{}, fmt.Errorf("%s: %w: mx_rollup: not allowed per site (the site is known only after MX rollup): set it per domain", where, ErrInvalid)
		}
		if site && r.Route != nil {
			return ruleList{}, fmt.Errorf("%s: %w: route: not allowed per site (a route replaces the MX lookup that finds the site): set it per domain", where, ErrInvalid)
		}
		r.Match = p
		l.rules[i] = r
	}
	return l, nil
}

// maxStackMatches is how many matching rules one lookup collects without
// allocating.
const maxStackMatches = 16

// Resolve returns the Limits for mail from vmta to domain through site
// (the MX rollup key: host names joined by ',', optionally prefixed by
// "route:"; see engine/deliver/mx). Layers apply in this order, each over
// the one before:
//
//  1. the defaults;
//  2. the domain rules matching domain, least specific first: "*", then
//     "*.suffix" from the shortest suffix to the longest, then the exact
//     name;
//  3. the site rules matching any host of site, in the same order of
//     specificity (on a tie, the later rule in the list applies last);
//  4. vmta's own rules matching domain, least specific first ("" or "*" is
//     its plain override, applied before its domain-specific ones).
//
// Names are matched case-insensitively. Pass site "" to resolve before the
// MX lookup (mx_rollup and route cannot depend on the site, so they are
// already final then). Resolve allocates only for upper-case names or more
// than 16 matching rules.
func (t *Table) Resolve(vmta, domain, site string) Limits {
	l := t.defaults
	domain = normalize(domain)
	var buf [maxStackMatches]match
	for _, m := range t.domains.idx.matches(domain, buf[:0]) {
		t.domains.rules[m.rule].apply(&l)
	}
	if site != "" && len(t.sites.rules) > 0 {
		for _, m := range t.siteMatches(site, buf[:0]) {
			t.sites.rules[m.rule].apply(&l)
		}
	}
	if v := t.vmtas[vmta]; v != nil {
		for _, m := range v.idx.matches(domain, buf[:0]) {
			v.rules[m.rule].apply(&l)
		}
	}
	return l
}

// siteMatches returns the site rules matching any host of site, sorted by
// rank then rule position, each rule once.
func (t *Table) siteMatches(site string, buf []match) []match {
	site = normalize(strings.TrimPrefix(site, "route:"))
	for len(site) > 0 {
		host, rest, _ := strings.Cut(site, ",")
		site = rest
		if h, port, ok := strings.Cut(host, ":"); ok && !strings.Contains(port, ":") {
			host = h // "host:port" from a route
		}
		n := len(buf)
		buf = t.sites.idx.matches(strings.TrimSuffix(host, "."), buf)
		buf = dedup(buf, n)
	}
	// Insertion sort: the list is short, and sort.Slice would allocate.
	for i := 1; i < len(buf); i++ {
		for j := i; j > 0 && less(buf[j], buf[j-1]); j-- {
			buf[j], buf[j-1] = buf[j-1], buf[j]
		}
	}
	return buf
}

// dedup drops from buf[n:] the rules already in buf[:n].
func dedup(buf []match, n int) []match {
	out := buf[:n]
	for _, m := range buf[n:] {
		seen := false
		for _, o := range buf[:n] {
			seen = seen || o.rule == m.rule
		}
		if !seen {
			out = append(out, m)
		}
	}
	return out
}

func less(a, b match) bool {
	return a.rank < b.rank || a.rank == b.rank && a.rule < b.rule
}

// Scope identifies the domain rules that shaped a resolution: for one
// (vmta, site), two domains with equal Scope resolve equal Limits. It is
// comparable, for use in map keys.
type Scope struct {
	domainRule int // most specific matching domain rule, or -1
	vmtaRule   int // most specific matching rule of the vmta, or -1
}

// Scope returns the Scope of mail from vmta to domain. The engine keys its
// per-(vmta, site) connection pools and rate limiters by (vmta, site,
// Scope): domains of one site under different rules (say "*.test" at
// 100/s and the rest unlimited) keep separate budgets, and the domains one
// rule matches share that rule's budget at the site.
func (t *Table) Scope(vmta, domain string) Scope {
	domain = normalize(domain)
	var buf [maxStackMatches]match
	s := Scope{domainRule: mostSpecific(t.domains.idx.matches(domain, buf[:0])), vmtaRule: -1}
	if v := t.vmtas[vmta]; v != nil {
		s.vmtaRule = mostSpecific(v.idx.matches(domain, buf[:0]))
	}
	return s
}

// mostSpecific returns the last rule of ms (matches lists them least
// specific first), or -1.
func mostSpecific(ms []match) int {
	if len(ms) == 0 {
		return -1
	}
	return ms[len(ms)-1].rule
}

// Defaults returns the table's defaults.
func (t *Table) Defaults() Limits { return t.defaults }
