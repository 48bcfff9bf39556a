package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mta/sluice/configs"
)

// row is one key of the reference.
type row struct {
	key, typ, def, example, desc string
}

// walker collects rows for the keys under a struct type.
type walker struct {
	c       *comments
	yc      map[string]string
	rows    []row
	seen    map[reflect.Type]string // struct types already listed, by the key that lists them
	missing []string                // keys with neither a default nor an example
}

var (
	sizeType     = reflect.TypeOf(configs.Size(0))
	durationType = reflect.TypeOf(configs.Duration(0))
	prefixType   = reflect.TypeOf(netip.Prefix{})
	addrType     = reflect.TypeOf(netip.Addr{})
)

// homes are the keys that list a struct type used in several places; the
// others refer to them.
var homes = map[reflect.Type]string{reflect.TypeOf(configs.Rule{}): "domains[]"}

// render returns the reference and the keys that lack an example.
func render(dir string) ([]byte, []string, error) {
	c, err := parseComments(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read the config structs: %w", err)
	}
	yc, err := yamlComments(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		return nil, nil, fmt.Errorf("read sluice.yaml: %w", err)
	}
	cfg, err := configs.Load("")
	if err != nil {
		return nil, nil, fmt.Errorf("decode the embedded default: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(header)
	t, v := reflect.TypeOf(*cfg), reflect.ValueOf(*cfg)
	w := &walker{c: c, yc: yc, seen: map[reflect.Type]string{}}
	var toc []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if key := tagOf(f); key != "" {
			toc = append(toc, fmt.Sprintf("[`%s`](#%s)", key, key))
		}
	}
	fmt.Fprintf(&b, "Sections: %s.\n", strings.Join(toc, ", "))
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := tagOf(f)
		if key == "" {
			continue
		}
		w.rows = nil
		w.field("", "Config", f, v.Field(i))
		fmt.Fprintf(&b, "\n## %s\n\n", key)
		if doc := c.types[baseType(f.Type).Name()]; doc != "" {
			fmt.Fprintf(&b, "%s\n\n", doc)
		}
		b.WriteString("| key | type | default | example | description |\n|---|---|---|---|---|\n")
		for _, r := range w.rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.key, r.typ, code(r.def), code(r.example), cell(r.desc))
		}
	}
	return b.Bytes(), w.missing, nil
}

// field adds the rows of struct field f (of struct type owner) under prefix;
// v is its default value, invalid inside lists and maps (no default there).
func (w *walker) field(prefix, owner string, f reflect.StructField, v reflect.Value) {
	key := tagOf(f)
	if prefix != "" {
		key = prefix + "." + key
	}
	desc := w.c.fields[owner][f.Name]
	if desc == "" {
		desc = w.yc[key]
	}
	if f.Tag.Get("secret") == "true" {
		desc += " Secret: never logged, shown as " + configs.Hidden + " by --check-config."
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if v.IsValid() {
			if v.IsNil() {
				v = reflect.Value{}
			} else {
				v = v.Elem()
			}
		}
	}
	elem := structElem(t)
	r := row{key: key, typ: typeName(t), desc: desc, def: "—"}
	if v.IsValid() && (elem == nil || t.Kind() != reflect.Struct) {
		r.def = format(v)
	}
	if f.Type.Kind() == reflect.Pointer && !v.IsValid() && r.def == "—" && prefix != "" && !strings.Contains(key, "[]") {
		r.def = "unset"
	}
	r.example = f.Tag.Get("example")
	if r.example == "" {
		r.example = w.defaultExample(t, r.def)
	}
	if elem != nil {
		if home, ok := homes[elem]; ok && home != key+"[]" {
			r.typ += fmt.Sprintf(" (keys as in `%s`)", home)
			w.rows = append(w.rows, r)
			return
		}
		if first, ok := w.seen[elem]; ok {
			r.typ += fmt.Sprintf(" (keys as in `%s`)", first)
			w.rows = append(w.rows, r)
			return
		}
	}
	if r.example == "" && elem == nil {
		w.missing = append(w.missing, key)
		r.example = "—"
	}
	if elem == nil {
		w.rows = append(w.rows, r)
		return
	}
	if r.example == "" {
		r.example = "—"
	}
	if prefix != "" || t.Kind() != reflect.Struct {
		w.rows = append(w.rows, r) // a section's own mapping needs no row
	}
	sub := key
	switch t.Kind() {
	case reflect.Slice:
		sub, v = key+"[]", reflect.Value{}
	case reflect.Map:
		sub, v = key+".<name>", reflect.Value{}
	}
	w.seen[elem] = sub
	for i := 0; i < elem.NumField(); i++ {
		ef := elem.Field(i)
		if tagOf(ef) == "" {
			continue
		}
		var ev reflect.Value
		if v.IsValid() {
			ev = v.Field(i)
		}
		w.field(sub, elem.Name(), ef, ev)
	}
}

// defaultExample is the example a key gets without an example tag: its
// default when it has a telling one, the other value of a bool.
func (w *walker) defaultExample(t reflect.Type, def string) string {
	if t.Kind() == reflect.Bool {
		if def == "true" {
			return "false"
		}
		return "true"
	}
	switch def {
	case "—", `""`, "[]", "{}", "0", "unset":
		return ""
	}
	return def
}

// structElem is the struct a key's value is, or holds in a list or map;
// nil for scalars and lists or maps of scalars.
func structElem(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.Slice, reflect.Map:
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if t.Kind() == reflect.Struct && !special(t) {
		return t
	}
	return nil
}

func special(t reflect.Type) bool {
	return t == sizeType || t == durationType || t == prefixType || t == addrType
}

func baseType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t
}

func tagOf(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if tag == "-" {
		return ""
	}
	return tag
}

// typeName names a value type for readers of YAML.
func typeName(t reflect.Type) string {
	switch t {
	case sizeType:
		return "size"
	case durationType:
		return "duration"
	case prefixType:
		return "network"
	case addrType:
		return "IP address"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		return "list of " + plural(typeName(t.Elem()))
	case reflect.Map:
		return "map of name to " + typeName(t.Elem())
	case reflect.Struct:
		return "mapping"
	}
	return t.String()
}

func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "list of"), strings.HasPrefix(s, "map of"):
		return "(" + s + ")"
	case s == "IP address":
		return "IP addresses"
	}
	return s + "s"
}

// format renders a default value as it would be written in the file.
func format(v reflect.Value) string {
	switch v.Type() {
	case sizeType:
		return configs.Size(v.Int()).String()
	case durationType:
		return formatDuration(time.Duration(v.Int()))
	case prefixType:
		p := v.Interface().(netip.Prefix)
		if p.Addr().Is6() {
			return strconv.Quote(p.String())
		}
		return p.String()
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		if v.Len() == 0 {
			return "{}"
		}
		return "(see sluice.yaml)"
	case reflect.Struct:
		return "(mapping)"
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration writes d as the file would: 4d, 1h, 30m, 1h30m, 5s, 100ms.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func code(s string) string {
	if s == "—" || s == "" {
		return "—"
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// cell escapes text for a Markdown table cell: pipes, emphasis and what
// would read as HTML tags ("<dir>").
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "<", "&lt;", ">", "&gt;").Replace(s)
}

const header = `# Configuration reference

<!-- Generated by ` + "`make docs`" + ` (go generate ./configs) from the structs in configs/*.go and the
embedded default configs/sluice.yaml. Do not edit by hand: change the doc comment of the field, then
run ` + "`make docs`" + `. -->

Sluice reads one YAML file (` + "`sluice serve --config FILE`" + `). A key left out takes the default below,
which is the value in the embedded [sluice.yaml](sluice.yaml); a list given in the file replaces the
default list whole. Decoding is strict: an unknown key, a value of the wrong type or out of range stops
` + "`serve`" + ` (exit status 2) with the key and its line. ` + "`sluice serve --check-config --config FILE`" + `
validates a file and prints the effective configuration. ` + "`kill -HUP`" + ` (or a reload through the API)
applies a new file whole or not at all; spool, listen, smtp_in and accounting need a restart (a reload
says so in the log).

Values: a **size** is a number of bytes or a number with a unit (` + "`B`, `KB`, `MB`, `GB`, `TB`" + ` count in
powers of 1024, as do ` + "`KiB`, `MiB`, `GiB`, `TiB`" + `); a **duration** is Go's form (` + "`90s`, `5m`, `1h30m`" + `)
or days (` + "`4d`" + `); a **rate** is a count per second, minute or hour (` + "`100/s`, `1000/h`" + `); a
**network** is an address or a CIDR prefix. Keys under ` + "`[]`" + ` belong to each item of a list and
` + "`<name>`" + ` stands for a map key you choose; they have no default of their own (—) beyond what their
description says.

Operations (warming an IP, throttles, purging, reloads, accounting files): [OPERATIONS.md](OPERATIONS.md).

`
