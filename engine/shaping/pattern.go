package shaping

import (
	"errors"
	"fmt"
	"strings"
)

// rankExact is the rank of an exact pattern: above any wildcard.
const rankExact = 1 << 20

// index finds the rules of one list whose pattern matches a name.
type index struct {
	any   int            // rule with "*", or -1
	exact map[string]int // name -> rule
	wild  map[string]int // suffix of "*.suffix" -> rule
}

func newIndex() index {
	return index{any: -1, exact: map[string]int{}, wild: map[string]int{}}
}

// add indexes pattern p (already normalized by parsePattern) for rule i;
// it returns the index of an earlier rule with the same pattern, or -1.
func (x *index) add(p string, i int) int {
	var m map[string]int
	switch {
	case p == "*":
		if x.any >= 0 {
			return x.any
		}
		x.any = i
		return -1
	case strings.HasPrefix(p, "*."):
		m, p = x.wild, p[2:]
	default:
		m = x.exact
	}
	if j, dup := m[p]; dup {
		return j
	}
	m[p] = i
	return -1
}

// match is a rule that matched, with its rank: "*" 0, "*.suffix" the
// number of labels in suffix, exact rankExact. Higher ranks apply later.
type match struct{ rank, rule int }

// matches appends the rules matching name (lower-case, no trailing dot).
func (x *index) matches(name string, buf []match) []match {
	if x.any >= 0 {
		buf = append(buf, match{0, x.any})
	}
	if len(x.wild) > 0 {
		// Walk the suffixes after each dot, shortest first; the whole name
		// is not a suffix ("*.example.com" does not match example.com).
		labels := 1
		for i := len(name) - 1; i >= 0; i-- {
			if name[i] != '.' {
				continue
			}
			if r, ok := x.wild[name[i+1:]]; ok {
				buf = append(buf, match{labels, r})
			}
			labels++
		}
	}
	if r, ok := x.exact[name]; ok {
		buf = append(buf, match{rankExact, r})
	}
	return buf
}

// parsePattern normalizes and checks a pattern: "*", "*.suffix" or an exact
// name, each label letters, digits, '-' or '_'.
func parsePattern(s string) (string, error) {
	p := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	name := p
	switch {
	case p == "":
		return "", errors.New("match: required (a name, *.name or *)")
	case p == "*":
		return p, nil
	case strings.HasPrefix(p, "*."):
		name = p[2:]
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("match %q: %w (want a name, *.name or *)", s, err)
	}
	return p, nil
}

func checkName(s string) error {
	if len(s) > 253 {
		return errors.New("longer than 253 characters")
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" || len(l) > 63 {
			return errors.New("empty or over-long label")
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed", c)
			}
		}
	}
	return nil
}

// normalize lower-cases name and drops a trailing dot, allocating only when
// name has upper-case letters.
func normalize(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}
