package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// comments are the doc comments of the configs package's types and fields.
type comments struct {
	types  map[string]string            // type name -> its doc
	fields map[string]map[string]string // type name -> field name -> its doc (or line comment)
}

// parseComments reads the doc comments of the structs declared in dir's
// non-test Go files.
func parseComments(dir string) (*comments, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	c := &comments{types: map[string]string{}, fields: map[string]map[string]string{}}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				c.types[ts.Name.Name] = text(doc)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				fs := map[string]string{}
				for _, fl := range st.Fields.List {
					t := text(fl.Doc)
					if t == "" {
						t = text(fl.Comment)
					}
					for _, n := range fl.Names {
						fs[n.Name] = t
					}
				}
				c.fields[ts.Name.Name] = fs
			}
		}
	}
	return c, nil
}

// text joins a comment group's lines into one paragraph.
func text(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// yamlComments maps the dotted keys of a YAML file to their line comments
// ("spool.dir" -> "where the Pebble spool lives").
func yamlComments(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			walk(prefix, n.Content[0])
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			c := k.LineComment
			if c == "" {
				c = v.LineComment
			}
			if c = strings.TrimSpace(strings.TrimPrefix(c, "#")); c != "" {
				out[key] = c
			}
			walk(key, v)
		}
	}
	walk("", &doc)
	return out, nil
}
