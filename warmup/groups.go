package warmup

import (
	"fmt"
	"strings"
)

// Other is the receiver group of every site no pattern matches. It needs no
// patterns and may not have any.
const Other = "other"

// Groups maps receiver group names to MX host patterns. A pattern is a host
// name ("mx.example.com", matched exactly) or "*." and a domain
// ("*.google.com", matching any host below google.com but not google.com
// itself). Matching ignores case and a trailing dot.
type Groups map[string][]string

// DefaultGroups returns the receiver groups used when the configuration
// defines none: the large mailbox providers by their MX host names.
func DefaultGroups() Groups {
	return Groups{
		"gmail":     {"*.google.com", "*.googlemail.com"},
		"microsoft": {"*.outlook.com", "*.hotmail.com"},
		"yahoo":     {"*.yahoodns.net", "*.yahoo.com"},
	}
}

// Of returns the receiver group of site (its MX host names, sorted and
// joined by ","): the group of the first host, in site order, that a pattern
// matches, or Other. When patterns of several groups match one host (only
// possible in groups that fail Validate) the longest pattern wins, then the
// smaller group name, so the answer never depends on map order.
func (g Groups) Of(site string) string {
	for rest := site; rest != ""; {
		var host string
		host, rest, _ = strings.Cut(rest, ",")
		host = strings.TrimSuffix(strings.TrimSpace(host), ".")
		if host == "" {
			continue
		}
		best, bestLen := "", 0
		for name, pats := range g {
			for _, p := range pats {
				if !matchHost(p, host) {
					continue
				}
				if len(p) > bestLen || len(p) == bestLen && name < best {
					best, bestLen = name, len(p)
				}
			}
		}
		if best != "" {
			return best
		}
	}
	return Other
}

// matchHost reports whether host matches pattern, ignoring case and a
// trailing dot on the pattern.
func matchHost(pattern, host string) bool {
	pattern = strings.TrimSuffix(pattern, ".")
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		// suffix is ".google.com": host must be longer and end with it.
		return len(host) > len(suffix) && strings.EqualFold(host[len(host)-len(suffix):], suffix)
	}
	return strings.EqualFold(pattern, host)
}

// Validate checks group names and patterns, and that no host could match
// patterns of two groups. Errors name the field ("groups.gmail[1]").
func (g Groups) Validate() error {
	type owned struct{ group, pattern, field string }
	var all []owned
	for _, name := range sortedKeys(g) {
		if err := validGroupName(name); err != nil {
			return fieldErr("groups."+name, "%s", err)
		}
		if name == Other && len(g[name]) > 0 {
			return fieldErr("groups."+name, "%q matches every site no other group matches; it takes no patterns", Other)
		}
		for i, p := range g[name] {
			field := fmt.Sprintf("groups.%s[%d]", name, i)
			if err := validPattern(p); err != nil {
				return fieldErr(field, "pattern %q: %s", p, err)
			}
			norm := strings.ToLower(strings.TrimSuffix(p, "."))
			for _, o := range all {
				if o.group != name && overlap(o.pattern, norm) {
					return fieldErr(field, "pattern %q overlaps %q of group %q (%s): a host would belong to both", p, o.pattern, o.group, o.field)
				}
			}
			all = append(all, owned{name, norm, field})
		}
	}
	return nil
}

func validGroupName(name string) error {
	if name == "" {
		return fmt.Errorf("empty group name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("group name %q: use lower-case letters, digits, '-' and '_'", name)
		}
	}
	return nil
}

func validPattern(p string) error {
	host := strings.TrimSuffix(p, ".")
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host = rest
	}
	if host == "" {
		return fmt.Errorf("needs a domain (\"*.example.com\" or \"mx.example.com\")")
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" {
			return fmt.Errorf("empty label")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q is not allowed (only a leading \"*.\" is a wildcard)", r)
			}
		}
	}
	return nil
}

// overlap reports whether some host could match both normalised patterns.
func overlap(a, b string) bool {
	as, aw := strings.CutPrefix(a, "*")
	bs, bw := strings.CutPrefix(b, "*")
	switch {
	case aw && bw:
		return strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as)
	case aw:
		return matchHost(a, b)
	case bw:
		return matchHost(b, a)
	}
	return a == b
}
