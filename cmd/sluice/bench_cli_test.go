package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBenchCLI_BadInputSaysWhat(t *testing.T) {
	dir := t.TempDir()
	notReport := filepath.Join(dir, "small-2cores.json")
	if err := os.WriteFile(notReport, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"scaling name", []string{"bench", "scaling", filepath.Join(dir, "small.json")}, "SCENARIO-Ncores.json"},
		{"scaling content", []string{"bench", "scaling", notReport}, "not a bench run report"},
		{"compare target", []string{"bench", "compare", "small", "-q", "--target", "127.0.0.1:1"}, "--target is not supported"},
		{"compare no smtp-source", []string{"bench", "compare", "small", "-q", "--smtp-source", filepath.Join(dir, "nope")}, "make bench-deps"},
		{"compare unknown scenario", []string{"bench", "compare", "no-such-scenario", "-q"}, "no-such-scenario"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runSluice(t, tc.args...)
			if code == 0 || !contains(stderr, tc.want) {
				t.Errorf("sluice %v: exit %d, stderr %q; want a failure naming %q", tc.args, code, stderr, tc.want)
			}
		})
	}
}
