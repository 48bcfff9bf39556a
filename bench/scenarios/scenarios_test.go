package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad_EveryEmbeddedScenarioParses(t *testing.T) {
	names := Names()
	for _, want := range []string{"backlog", "marketing", "multi-rcpt", "small"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("scenario %q not embedded (have %v)", want, names)
		}
	}
	for _, n := range names {
		s, err := Load(n)
		if err != nil {
			t.Errorf("Load(%q): %v", n, err)
			continue
		}
		if s.Name != n {
			t.Errorf("%s.yaml has name %q", n, s.Name)
		}
	}
	s, _ := Load("backlog")
	if s.Recipients() != 1_000_000 || !s.Release || s.LocalPart != "defer" {
		t.Errorf("backlog = %+v, want 1,000,000 deferred recipients released", s)
	}
}

func TestLoad_FileAndErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(good, []byte("name: tiny\ncount: 5\nsize: 2KiB\nengine: {delivery: {max_smtp_out: 4}}\n"), 0o644)
	s, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SizeBytes(); s.Count != 5 || n != 2048 || s.Timeout != 10*time.Minute || s.Rcpts != 1 {
		t.Errorf("tiny = %+v", s)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "name: x\ncuont: 5\n", "line 2"},
		{"no name", "count: 5\n", "name is required"},
		{"bad size", "name: x\nsize: big\n", "size"},
		{"negative count", "name: x\ncount: -1\n", "count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("t.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error about %q", err, tc.want)
			}
		})
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "small") {
		t.Errorf("Load(nope) = %v, want the list of scenarios", err)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"1KB", 1024}, {"100kb", 102400}, {"2 MiB", 2 << 20}, {"512", 512}, {"10B", 10}, {"0", 0}, {"-1KB", 0}, {"x", 0}} {
		got, err := ParseSize(tc.in)
		if (err == nil) != (tc.want > 0) || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
