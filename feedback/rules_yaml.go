package feedback

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML shape of a rules file. Values are scalars that remember their
// line, so that validation errors can name it.
type fileYAML struct {
	Groups []groupYAML `yaml:"groups"`
}

type groupYAML struct {
	Name  scalar     `yaml:"name"`
	MX    []scalar   `yaml:"mx"`
	Rules []ruleYAML `yaml:"rules"`
}

type ruleYAML struct {
	Pattern  scalar `yaml:"pattern"`
	Category scalar `yaml:"category"`
	Action   scalar `yaml:"action"`
	Duration scalar `yaml:"duration"`
	Source   scalar `yaml:"source"`
}

// scalar is a YAML scalar and its line.
type scalar struct {
	v    string
	line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a single value, not a list or map", n.Line)
	}
	s.v, s.line = n.Value, n.Line
	return nil
}

// build validates one group.
func (gy *groupYAML) build() (*group, error) {
	name := strings.TrimSpace(gy.Name.v)
	if name == "" {
		line := gy.Name.line
		if line == 0 && len(gy.Rules) > 0 {
			line = gy.Rules[0].line()
		}
		return nil, fmt.Errorf("line %d: a group needs a name", line)
	}
	g := &group{name: name}
	for _, m := range gy.MX {
		p := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(m.v)), ".")
		if p == "" || strings.Contains(strings.TrimPrefix(p, "*."), "*") || (strings.HasPrefix(p, "*") && !strings.HasPrefix(p, "*.")) {
			return nil, fmt.Errorf("line %d: group %s: MX pattern %q: want a host name or *.suffix", m.line, name, m.v)
		}
		g.mx = append(g.mx, p)
	}
	for i := range gy.Rules {
		rule, err := gy.Rules[i].build(name)
		if err != nil {
			return nil, err
		}
		g.rules = append(g.rules, rule)
	}
	return g, nil
}

// line is the first line the rule has a value on.
func (ry *ruleYAML) line() int {
	for _, s := range []scalar{ry.Pattern, ry.Category, ry.Action, ry.Duration, ry.Source} {
		if s.line != 0 {
			return s.line
		}
	}
	return 0
}

// build validates one rule.
func (ry *ruleYAML) build(groupName string) (*Rule, error) {
	line := ry.line()
	fail := func(l int, format string, args ...any) error {
		if l == 0 {
			l = line
		}
		return fmt.Errorf("line %d: group %s: %s", l, groupName, fmt.Sprintf(format, args...))
	}
	if ry.Pattern.v == "" {
		return nil, fail(0, "a rule needs a pattern")
	}
	re, err := regexp.Compile("(?i)" + ry.Pattern.v)
	if err != nil {
		return nil, fail(ry.Pattern.line, "bad pattern: %v", err)
	}
	r := &Rule{Pattern: re, Category: Category(ry.Category.v), Action: ActionKind(ry.Action.v),
		Source: ry.Source.v, Group: groupName, Line: line}
	if r.Category != "" && !r.Category.Valid() {
		return nil, fail(ry.Category.line, "unknown category %q (want one of %s)", ry.Category.v, joinCategories())
	}
	if r.Action != "" && !r.Action.Valid() {
		return nil, fail(ry.Action.line, "unknown action %q (want backoff, suspend, disable-source-ip or bounce-all)", ry.Action.v)
	}
	if r.Category == "" && r.Action == "" {
		return nil, fail(0, "a rule needs a category, an action or both")
	}
	if ry.Duration.v != "" {
		d, err := time.ParseDuration(ry.Duration.v)
		if err != nil || d <= 0 {
			return nil, fail(ry.Duration.line, "bad duration %q (want e.g. 30m, 1h)", ry.Duration.v)
		}
		if r.Action == "" {
			return nil, fail(ry.Duration.line, "a duration needs an action")
		}
		r.Duration = d
	} else if r.Action != "" {
		return nil, fail(ry.Action.line, "action %s needs a duration (e.g. 1h)", r.Action)
	}
	return r, nil
}

func joinCategories() string {
	s := make([]string, len(Categories))
	for i, c := range Categories {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
