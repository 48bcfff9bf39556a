package feedback

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// GroupOther is the receiver group of every site no other group claims.
// Its rules also apply, after a group's own, to every group.
const GroupOther = "other"

//go:embed rules.yaml
var defaultRulesYAML []byte

// DefaultRules returns the shipped rules (rules.yaml, embedded). The value
// is shared and immutable; Extend returns a new one.
func DefaultRules() *Rules { return defaultRules() }

var defaultRules = sync.OnceValue(func() *Rules {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		panic("feedback: shipped rules.yaml: " + err.Error()) // a test proves it parses
	}
	return r
})

// Rules are the receiver groups and their text patterns: which MX hosts
// make a site belong to a group, and which reply texts from that group mean
// which category and which action. A Rules value is immutable once built,
// so one value may be shared by every delivery goroutine.
type Rules struct {
	groups []*group // GroupOther, when present, is last
}

// group is one receiver group.
type group struct {
	name  string
	mx    []string // "*.google.com" or an exact host, lower case
	rules []*Rule
}

// Rule is one text pattern and what a reply matching it means.
type Rule struct {
	// Pattern matches the reply as one line ("421 4.7.28 Our system ..."),
	// white space collapsed, case-insensitively.
	Pattern *regexp.Regexp
	// Category is the bounce category of a matching reply; "" leaves the
	// category to the codes.
	Category Category
	// Action is what to do about the (vmta, site); "" for nothing.
	Action ActionKind
	// Duration is how long the action lasts.
	Duration time.Duration
	// Source says where the pattern comes from (the receiver's
	// documentation, an observed reply); it becomes the action's cause.
	Source string
	// Group is the receiver group the rule belongs to.
	Group string
	// Line is the rule's line in its file.
	Line int
}

// ParseRules reads a rules file (the format of the shipped rules.yaml).
// Unknown keys, a bad regular expression, an unknown category or action,
// and an action without a duration are errors that name the line.
func ParseRules(data []byte) (*Rules, error) {
	var f fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("feedback: rules: %w", err)
	}
	r := &Rules{}
	seen := map[string]int{}
	for _, gy := range f.Groups {
		g, err := gy.build()
		if err != nil {
			return nil, fmt.Errorf("feedback: rules: %w", err)
		}
		if line, dup := seen[g.name]; dup {
			return nil, fmt.Errorf("feedback: rules: line %d: group %q already defined on line %d", gy.Name.line, g.name, line)
		}
		seen[g.name] = gy.Name.line
		r.groups = append(r.groups, g)
	}
	r.otherLast()
	return r, nil
}

// ReadRules is ParseRules on what rd holds.
func ReadRules(rd io.Reader) (*Rules, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("feedback: rules: read: %w", err)
	}
	return ParseRules(data)
}

// Extend returns rules that are user's rules followed by r's: within a group
// that both define, user's MX patterns and rules come first (so they win);
// groups only user defines come before r's (so their MX patterns are tried
// first). Neither input is modified. r or user may be nil.
func (r *Rules) Extend(user *Rules) *Rules {
	out := &Rules{}
	byName := map[string]*group{}
	add := func(g *group) {
		if have, ok := byName[g.name]; ok {
			have.mx = append(have.mx, g.mx...)
			have.rules = append(have.rules, g.rules...)
			return
		}
		c := &group{name: g.name, mx: append([]string(nil), g.mx...), rules: append([]*Rule(nil), g.rules...)}
		byName[g.name] = c
		out.groups = append(out.groups, c)
	}
	for _, rs := range []*Rules{user, r} {
		if rs == nil {
			continue
		}
		for _, g := range rs.groups {
			add(g)
		}
	}
	out.otherLast()
	return out
}

// otherLast moves GroupOther to the end, so its MX patterns (if any) and
// rules are tried last.
func (r *Rules) otherLast() {
	for i, g := range r.groups {
		if g.name == GroupOther {
			r.groups = append(append(r.groups[:i:i], r.groups[i+1:]...), g)
			return
		}
	}
}

// Groups returns the names of the receiver groups, in matching order.
func (r *Rules) Groups() []string {
	if r == nil {
		return nil
	}
	names := make([]string, len(r.groups))
	for i, g := range r.groups {
		names[i] = g.name
	}
	return names
}

// Group returns the receiver group of a site from its MX host names: the
// first group (in order) with a pattern matching any of them, else
// GroupOther. "*.google.com" matches aspmx.l.google.com but not google.com.
func (r *Rules) Group(mxHosts ...string) string {
	if r == nil {
		return GroupOther
	}
	for _, g := range r.groups {
		for _, h := range mxHosts {
			h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
			for _, p := range g.mx {
				if hostMatch(p, h) {
					return g.name
				}
			}
		}
	}
	return GroupOther
}

// hostMatch reports whether host matches pattern p ("*.suffix" or exact).
func hostMatch(p, host string) bool {
	if suffix, ok := strings.CutPrefix(p, "*"); ok {
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return host == p
}

// Rules returns a group's rules in matching order (its own, then
// GroupOther's), for listing; nil for an unknown group.
func (r *Rules) Rules(groupName string) []*Rule {
	var out []*Rule
	for _, g := range r.search(groupName) {
		out = append(out, g.rules...)
	}
	return out
}

// search returns the groups whose rules apply to groupName, in order:
// every group for "", else the group itself and then GroupOther.
func (r *Rules) search(groupName string) []*group {
	if r == nil {
		return nil
	}
	if groupName == "" {
		return r.groups
	}
	var out []*group
	var other *group
	for _, g := range r.groups {
		switch g.name {
		case groupName:
			out = append(out, g)
		case GroupOther:
			other = g
		}
	}
	if other != nil && groupName != GroupOther {
		out = append(out, other)
	}
	return out
}

// match returns the first rule of groupName (see search) matching subject.
func (r *Rules) match(groupName, subject string) *Rule {
	for _, g := range r.search(groupName) {
		for _, rule := range g.rules {
			if rule.Pattern.MatchString(subject) {
				return rule
			}
		}
	}
	return nil
}
