package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces DESIGN.md's arrows: policy packages never
// import engine; nothing imports api or cmd except cmd; leaves import no
// other Sluice package.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/sluice-mta/sluice/"
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"vmta", []string{"engine", "api", "cmd", "pools", "warmup", "feedback"}},
		{"pools", []string{"engine", "api", "cmd", "feedback"}},
		{"warmup", []string{"engine", "api", "cmd", "vmta", "pools", "feedback"}},
		{"feedback", []string{"engine", "api", "cmd", "vmta", "pools", "warmup"}},
		{"configs", []string{"engine", "api", "cmd", "vmta", "pools", "warmup", "feedback", "bench"}},
		{"engine/spool", []string{"engine", "api", "cmd", "configs", "vmta", "pools", "warmup", "feedback"}},
		{"engine/receive", []string{"engine", "api", "cmd", "configs", "vmta", "pools", "warmup", "feedback"}},
		{"engine", []string{"api", "cmd", "bench"}},
		{"api", []string{"cmd", "bench"}},
		{"bench/...", []string{"engine", "api", "cmd", "configs", "vmta", "pools", "warmup", "feedback"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../../"+r.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", r.pkg, err)
		}
		self := strings.TrimSuffix(r.pkg, "/...")
		for _, dep := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(dep, mod)
			if !ok || rel == self || strings.HasPrefix(rel, self+"/") {
				continue
			}
			for _, f := range r.forbidden {
				if rel == f || strings.HasPrefix(rel, f+"/") {
					t.Errorf("%s imports %s (forbidden by DESIGN.md)", r.pkg, rel)
				}
			}
		}
	}
}
