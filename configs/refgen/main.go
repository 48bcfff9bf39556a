// Command refgen writes configs/README.md, the configuration reference, from
// the config structs: every key with its type, its default (the embedded
// configs/sluice.yaml, decoded) and an example, described by the field's doc
// comment (or, lacking one, the key's comment in sluice.yaml).
//
// Run it with `make docs` (go generate ./configs). Its output is a function
// of the sources alone (no clock, no map order), so a test can tell a
// committed README.md that is out of date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", ".", "the configs package directory")
	out := flag.String("o", "README.md", "output file, relative to -dir; - for stdout")
	flag.Parse()
	doc, missing, err := render(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refgen:", err)
		os.Exit(1)
	}
	for _, k := range missing {
		fmt.Fprintf(os.Stderr, "refgen: warning: key %s has no default and no example: add an example:\"...\" tag to its field\n", k)
	}
	if *out == "-" {
		_, _ = os.Stdout.Write(doc)
		return
	}
	path := filepath.Join(*dir, *out)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, doc) {
		return
	}
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "refgen:", err)
		os.Exit(1)
	}
}
