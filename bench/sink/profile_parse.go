package sink

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed profiles/*.yaml
var shippedProfiles embed.FS

// ProfileNames returns the names of the shipped profiles, sorted.
func ProfileNames() []string {
	entries, _ := fs.ReadDir(shippedProfiles, "profiles") // NB: an embedded dir always reads
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// LoadProfile returns the shipped profile called name or, when name ends in
// .yaml or .yml, the profile in that file.
func LoadProfile(name string) (*Profile, error) {
	if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("sink profile: %w", err)
		}
		return ParseProfile(name, data)
	}
	data, err := shippedProfiles.ReadFile("profiles/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("sink profile %q: no such profile (have %s, or give a .yaml file)",
			name, strings.Join(ProfileNames(), ", "))
	}
	return ParseProfile(name, data)
}

// ParseProfile reads a profile from YAML; from names the source in errors.
// Decoding is strict: an unknown key, a bad value or shares over 100% is an
// error that names the line and the key.
func ParseProfile(from string, data []byte) (*Profile, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("sink profile %s: %w", from, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("sink profile %s: empty", from)
	}
	return ProfileFromNode(from, doc.Content[0])
}

// ProfileFromNode reads a profile from a decoded YAML mapping, as a scenario
// that carries one inline does; line numbers in errors are the node's.
func ProfileFromNode(from string, n *yaml.Node) (*Profile, error) {
	p := &Profile{Name: from, Seed: 1}
	if err := p.decode(n); err != nil {
		return nil, fmt.Errorf("sink profile %s: %w", from, err)
	}
	return p, nil
}

// nodeError is an error at a node: "line 12: groups[1].replies.defer: ...".
func nodeError(n *yaml.Node, key, format string, a ...any) error {
	return fmt.Errorf("line %d: %s: %s", n.Line, key, fmt.Sprintf(format, a...))
}

// fields returns the values of mapping n by key, failing on a key not in
// known, a repeated key or a node that is no mapping.
func fields(n *yaml.Node, key string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nodeError(n, key, "want a mapping with keys %s", strings.Join(known, ", "))
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		full := joinKey(key, k.Value)
		if !slices.Contains(known, k.Value) {
			return nil, nodeError(k, full, "unknown key (want one of %s)", strings.Join(known, ", "))
		}
		if _, dup := m[k.Value]; dup {
			return nil, nodeError(k, full, "repeated key")
		}
		m[k.Value] = v
	}
	return m, nil
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func (p *Profile) decode(n *yaml.Node) error {
	f, err := fields(n, "", "seed", "limits", "latency", "groups")
	if err != nil {
		return err
	}
	if v := f["seed"]; v != nil {
		if err := v.Decode(&p.Seed); err != nil {
			return nodeError(v, "seed", "want a non-negative integer, got %q", v.Value)
		}
	}
	if v := f["limits"]; v != nil {
		if err := p.Limits.decode(v); err != nil {
			return err
		}
	}
	p.Limits.setDefaults()
	if v := f["latency"]; v != nil {
		if err := p.Latency.decode(v, "latency", commandNames[:]...); err != nil {
			return err
		}
	}
	v := f["groups"]
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return nodeError(v, "groups", "want a list of groups")
	}
	for i, gn := range v.Content {
		var g Group
		if err := g.decode(gn, fmt.Sprintf("groups[%d]", i)); err != nil {
			return err
		}
		for _, prev := range p.Groups {
			if prev.Name == g.Name {
				return nodeError(gn, fmt.Sprintf("groups[%d].name", i), "group %q is defined twice", g.Name)
			}
		}
		p.Groups = append(p.Groups, g)
	}
	return nil
}

func (l *Limits) decode(n *yaml.Node) error {
	f, err := fields(n, "limits", "max_messages_per_connection", "max_connections_per_ip",
		"messages_reply", "connections_reply")
	if err != nil {
		return err
	}
	for k, p := range map[string]*int{"max_messages_per_connection": &l.MaxMessagesPerConnection,
		"max_connections_per_ip": &l.MaxConnectionsPerIP} {
		if v := f[k]; v != nil {
			if err := v.Decode(p); err != nil || *p < 0 {
				return nodeError(v, "limits."+k, "want a count >= 0 (0: no cap), got %q", v.Value)
			}
		}
	}
	for k, r := range map[string]*Reply{"messages_reply": &l.MessagesReply, "connections_reply": &l.ConnectionsReply} {
		if v := f[k]; v != nil {
			rep, err := parseReplyNode(v, "limits."+k)
			if err != nil {
				return err
			}
			if rep.Code != 421 {
				return nodeError(v, "limits."+k, "want a 421 reply (the connection is closed after it), got %d", rep.Code)
			}
			*r = rep
		}
	}
	return nil
}

func (l *Limits) setDefaults() {
	if l.MessagesReply.Code == 0 {
		l.MessagesReply = defaultMessagesReply
	}
	if l.ConnectionsReply.Code == 0 {
		l.ConnectionsReply = defaultConnectionsReply
	}
}

// decode reads a mapping of command name to distribution, keys limited to
// allowed.
func (ls *Latencies) decode(n *yaml.Node, key string, allowed ...string) error {
	f, err := fields(n, key, allowed...)
	if err != nil {
		return err
	}
	for c, name := range commandNames {
		if v := f[name]; v != nil {
			d, err := parseDist(v, joinKey(key, name))
			if err != nil {
				return err
			}
			ls[c] = d
		}
	}
	return nil
}

// parseDist reads "5ms" (fixed) or a mapping {dist: fixed, value: 5ms},
// {dist: uniform, min: 1ms, max: 9ms} or {dist: lognormal, p50: 2ms, p99: 40ms}.
func parseDist(n *yaml.Node, key string) (Dist, error) {
	if n.Kind == yaml.ScalarNode {
		d, err := parseDuration(n, key)
		return FixedDist(d), err
	}
	f, err := fields(n, key, "dist", "value", "min", "max", "p50", "p99")
	if err != nil {
		return Dist{}, err
	}
	kind := f["dist"]
	if kind == nil {
		return Dist{}, nodeError(n, key+".dist", "missing (fixed, uniform or lognormal)")
	}
	need := map[string][]string{"fixed": {"value"}, "uniform": {"min", "max"}, "lognormal": {"p50", "p99"}}[kind.Value]
	if need == nil {
		return Dist{}, nodeError(kind, key+".dist", "unknown distribution %q (want fixed, uniform or lognormal)", kind.Value)
	}
	var ds []time.Duration
	for k, v := range f {
		if k != "dist" && !slices.Contains(need, k) {
			return Dist{}, nodeError(v, joinKey(key, k), "not a parameter of %s (want %s)", kind.Value, strings.Join(need, ", "))
		}
	}
	for _, k := range need {
		v := f[k]
		if v == nil {
			return Dist{}, nodeError(n, joinKey(key, k), "missing (%s needs %s)", kind.Value, strings.Join(need, ", "))
		}
		d, err := parseDuration(v, joinKey(key, k))
		if err != nil {
			return Dist{}, err
		}
		ds = append(ds, d)
	}
	switch kind.Value {
	case "fixed":
		return FixedDist(ds[0]), nil
	case "uniform":
		d, err := UniformDist(ds[0], ds[1])
		if err != nil {
			return d, nodeError(n, key, "%v", err)
		}
		return d, nil
	}
	d, err := LogNormalDist(ds[0], ds[1])
	if err != nil {
		return d, nodeError(n, key, "%v", err)
	}
	return d, nil
}

func parseDuration(n *yaml.Node, key string) (time.Duration, error) {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
		return 0, nodeError(n, key, "want a duration like 5ms or 1.5s, got %q", n.Value)
	}
	return d, nil
}

func (g *Group) decode(n *yaml.Node, key string) error {
	f, err := fields(n, key, "name", "domains", "replies", "texts", "latency")
	if err != nil {
		return err
	}
	name := f["name"]
	if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
		return nodeError(n, key+".name", "missing: every group needs a name")
	}
	g.Name = name.Value
	dn := f["domains"]
	if dn == nil {
		return nodeError(n, key+".domains", "missing: list the domain patterns (e.g. [\"*.gmail.test\"])")
	}
	if err := dn.Decode(&g.Domains); err != nil || len(g.Domains) == 0 {
		return nodeError(dn, key+".domains", "want a non-empty list of patterns")
	}
	for i, p := range g.Domains {
		g.Domains[i] = strings.ToLower(p)
		if _, err := path.Match(g.Domains[i], ""); err != nil {
			return nodeError(dn, fmt.Sprintf("%s.domains[%d]", key, i), "bad pattern %q: %v", p, err)
		}
	}
	if err := g.decodeShares(f["replies"], n, key+".replies"); err != nil {
		return err
	}
	if v := f["texts"]; v != nil {
		if err := g.decodeTexts(v, key+".texts"); err != nil {
			return err
		}
	}
	if v := f["latency"]; v != nil {
		if err := g.Latency.decode(v, key+".latency", "rcpt", "data"); err != nil {
			return err
		}
	}
	return nil
}

// decodeShares reads {accept: 93%, defer: 5%, bounce: 1.5%, throttle: 0.5%};
// accept, when left out, is what the others leave of 100%.
func (g *Group) decodeShares(n, parent *yaml.Node, key string) error {
	if n == nil {
		g.Shares[OutAccept] = 10000
		return nil
	}
	f, err := fields(n, key, outcomeNames[:]...)
	if err != nil {
		return err
	}
	sum := 0
	for o, name := range outcomeNames {
		v := f[name]
		if v == nil {
			continue
		}
		bp, err := parseShare(v, joinKey(key, name))
		if err != nil {
			return err
		}
		g.Shares[o] = bp
		sum += bp
	}
	switch {
	case f["accept"] == nil && sum <= 10000:
		g.Shares[OutAccept] = 10000 - sum
	case sum != 10000:
		return nodeError(n, key, "shares add up to %s, want 100%%", formatShare(sum))
	}
	return nil
}

// parseShare reads "5%", "0.25%" or 5 (percent) as basis points.
func parseShare(n *yaml.Node, key string) (int, error) {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(n.Value), "%"))
	v, err := strconv.ParseFloat(s, 64)
	bp := math.Round(v * 100)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 || v > 100 || math.Abs(bp-v*100) > 1e-6 {
		return 0, nodeError(n, key, "want a percentage from 0%% to 100%% in steps of 0.01%%, got %q", n.Value)
	}
	return int(bp), nil
}

func formatShare(bp int) string { return strconv.FormatFloat(float64(bp)/100, 'f', -1, 64) + "%" }

// decodeTexts reads {defer: "451 4.7.1 text", bounce: [..., ...]}.
func (g *Group) decodeTexts(n *yaml.Node, key string) error {
	f, err := fields(n, key, "defer", "bounce", "throttle")
	if err != nil {
		return err
	}
	for o, name := range outcomeNames {
		v := f[name]
		if v == nil {
			continue
		}
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		for i, it := range items {
			k := joinKey(key, name)
			if v.Kind == yaml.SequenceNode {
				k = fmt.Sprintf("%s[%d]", k, i)
			}
			r, err := parseReplyNode(it, k)
			if err != nil {
				return err
			}
			want := map[Outcome]func(int) bool{
				OutDefer:    func(c int) bool { return c >= 400 && c < 500 && c != 421 },
				OutBounce:   func(c int) bool { return c >= 500 && c < 600 },
				OutThrottle: func(c int) bool { return c == 421 },
			}[Outcome(o)]
			if !want(r.Code) {
				return nodeError(it, k, "code %d does not fit %s (defer: 4xx but 421, bounce: 5xx, throttle: 421)", r.Code, name)
			}
			g.Replies[o] = append(g.Replies[o], r)
		}
	}
	return nil
}

func parseReplyNode(n *yaml.Node, key string) (Reply, error) {
	if n.Kind != yaml.ScalarNode {
		return Reply{}, nodeError(n, key, "want a reply like \"451 4.7.1 Try again later\"")
	}
	r, err := ParseReply(n.Value)
	if err != nil {
		return r, nodeError(n, key, "%v", err)
	}
	return r, nil
}

// ParseReply reads "421 4.7.28 text": a code from 400 to 599, an optional
// enhanced code whose class matches the code's, and text.
func ParseReply(s string) (Reply, error) {
	var r Reply
	code, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	c, err := strconv.Atoi(code)
	if err != nil || c < 400 || c > 599 {
		return r, fmt.Errorf("reply %q: want a 4xx or 5xx code first", s)
	}
	r.Code = c
	rest = strings.TrimSpace(rest)
	if enh, text, _ := strings.Cut(rest, " "); strings.Count(enh, ".") == 2 {
		parts := strings.Split(enh, ".")
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 0 || v > 999 {
				return r, fmt.Errorf("reply %q: bad enhanced code %q", s, enh)
			}
			r.Enhanced[i] = v
		}
		if r.Enhanced[0] != c/100 {
			return r, fmt.Errorf("reply %q: enhanced code %s has class %d, the code %d", s, enh, r.Enhanced[0], c/100)
		}
		rest = strings.TrimSpace(text)
	}
	if rest == "" || strings.ContainsAny(rest, "\r\n") {
		return r, errors.New("reply " + strconv.Quote(s) + ": want text after the code, on one line")
	}
	r.Text = rest
	return r, nil
}
