package configs

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration error. Line is 0 when the error has no place in
// the file (for example a file that cannot be read).
type Error struct {
	File string // file name, or DefaultName
	Line int
	Key  string // dotted key path, e.g. "smtp_in.max_recipients"
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config: line %d: %s", e.Line, e.Msg)
	}
	return "config: " + e.Msg
}

// Load reads and decodes the file at path over the embedded defaults. An
// empty path loads the embedded default alone.
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse(Default, DefaultName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("read %s: %v", path, err)}
	}
	return Parse(data, path)
}

// Parse decodes data over the embedded defaults, strictly, and validates the
// result. name is used in errors.
func Parse(data []byte, name string) (*Config, error) {
	cfg := &Config{}
	if err := decodeInto(cfg, Default, DefaultName); err != nil {
		return nil, fmt.Errorf("embedded default is invalid: %w", err)
	}
	cfg.lines = map[string]int{}
	if err := decodeInto(cfg, data, name); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
		}
		return nil, err
	}
	return cfg, nil
}

// decodeInto overlays the YAML document in data onto cfg: keys present in
// the document replace the current values, lists are replaced whole.
func decodeInto(cfg *Config, data []byte, name string) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" { // empty file: all defaults
			return nil
		}
		line := yamlErrorLine(err)
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", line))
		return &Error{File: name, Line: line, Msg: msg}
	}
	if cfg.lines == nil {
		cfg.lines = map[string]int{}
	}
	d := &decoder{file: name, lines: cfg.lines}
	return d.decode("", &doc, reflect.ValueOf(cfg).Elem())
}

// yamlErrorLine extracts "line N" from a yaml syntax error, or 0.
func yamlErrorLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	j := i + len("line ")
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	n, _ := strconv.Atoi(s[j:k])
	return n
}

type decoder struct {
	file  string
	lines map[string]int
	nodes int // nodes visited, to stop alias bombs ("billion laughs")
}

// maxNodes bounds the nodes one file may expand to, aliases included.
const maxNodes = 100_000

func (d *decoder) errf(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

var (
	sizeType     = reflect.TypeOf(Size(0))
	durationType = reflect.TypeOf(Duration(0))
	prefixType   = reflect.TypeOf(netip.Prefix{})
	addrType     = reflect.TypeOf(netip.Addr{})
)

// decode stores node n, found at the dotted key path, into v.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) error {
	if d.nodes++; d.nodes > maxNodes {
		return d.errf(n, path, "document too large or too many aliases (over %d values)", maxNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return d.decode(path, n.Content[0], v)
	case yaml.AliasNode:
		return d.decode(path, n.Alias, v)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "key:" with no value keeps the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(path, n, v.Elem())
	}
	switch v.Type() {
	case sizeType, durationType, prefixType, addrType:
		return d.decodeSpecial(path, n, v)
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(path, n, v)
	case reflect.Slice:
		return d.decodeSlice(path, n, v)
	case reflect.Map:
		return d.decodeMap(path, n, v)
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return d.decodeScalar(path, n, v)
	}
	return d.errf(n, path, "%s: unsupported type %s", path, v.Type())
}

func describe(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errf(n, path, "%s must be a mapping of keys, not %s", describe(path), kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return d.errf(k, path, "keys in %s must be plain words", describe(path))
		}
		if seen[k.Value] {
			return d.errf(k, join(path, k.Value), "key %q appears twice in %s", k.Value, describe(path))
		}
		seen[k.Value] = true
		d.lines[join(path, k.Value)] = k.Line
		f, ok := fieldByTag(v, k.Value)
		if !ok {
			return d.errf(k, path, "unknown key %q in %s%s", k.Value, describe(path), suggest(v, k.Value))
		}
		if err := d.decode(join(path, k.Value), val, f); err != nil {
			return err
		}
	}
	return nil
}

func fieldByTag(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" && tag == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// suggest names the valid keys of a struct, to help with a typo.
func suggest(v reflect.Value, bad string) string {
	t := v.Type()
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	for _, k := range keys {
		if strings.EqualFold(k, bad) || levenshtein(k, bad) <= 2 {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return fmt.Sprintf(" (valid keys: %s)", strings.Join(keys, ", "))
}

func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return d.errf(n, path, "%s must be a list, not %s", path, kindName(n))
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.lines[fmt.Sprintf("%s[%d]", path, i)] = item.Line
		if err := d.decode(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i)); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

func (d *decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errf(n, path, "%s must be a mapping, not %s", path, kindName(n))
	}
	if v.Type().Key().Kind() != reflect.String {
		return d.errf(n, path, "%s: unsupported map key type", path)
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return d.errf(k, path, "keys in %s must be plain words", path)
		}
		if out.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			return d.errf(k, join(path, k.Value), "key %q appears twice in %s", k.Value, path)
		}
		d.lines[join(path, k.Value)] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(join(path, k.Value), val, elem); err != nil {
			return err
		}
		out.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
	return nil
}

func (d *decoder) decodeScalar(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return d.errf(n, path, "%s must be a single value, not %s", path, kindName(n))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			return d.errf(n, path, "%s: invalid value %q (want true or false)", path, n.Value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return d.errf(n, path, "%s: invalid value %q (want a whole number)", path, n.Value)
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return d.errf(n, path, "%s: invalid value %q (want a number)", path, n.Value)
		}
		v.SetFloat(f)
	}
	return nil
}

func (d *decoder) decodeSpecial(path string, n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return d.errf(n, path, "%s must be a single value, not %s", path, kindName(n))
	}
	switch v.Type() {
	case sizeType:
		s, err := ParseSize(n.Value)
		if err != nil {
			return d.errf(n, path, "%s: %v", path, err)
		}
		v.Set(reflect.ValueOf(s))
	case durationType:
		du, err := ParseDuration(n.Value)
		if err != nil {
			return d.errf(n, path, "%s: %v", path, err)
		}
		v.Set(reflect.ValueOf(du))
	case prefixType:
		p, err := parsePrefix(n.Value)
		if err != nil {
			return d.errf(n, path, "%s: invalid network %q (want e.g. 10.0.0.0/8 or 192.0.2.1)", path, n.Value)
		}
		v.Set(reflect.ValueOf(p))
	case addrType:
		a, err := netip.ParseAddr(n.Value)
		if err != nil {
			return d.errf(n, path, "%s: invalid IP address %q", path, n.Value)
		}
		v.Set(reflect.ValueOf(a))
	}
	return nil
}

// parsePrefix accepts a CIDR prefix or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "that"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
