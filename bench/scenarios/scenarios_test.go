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
	for _, want := range []string{"backlog", "crash", "fanout", "marketing", "multi-rcpt", "realistic", "small"} {
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
		{"bad inject", "name: x\ninject: carrier-pigeon\n", "inject \"carrier-pigeon\""},
		{"dead domains", "name: x\ndomains: 3\ndead_domains: 3\n", "dead_domains"},
		{"bad crash", "name: x\ncrash_after: 150%\n", "crash_after"},
		{"unknown profile", "name: x\nsink: hotmale\n", "line 2: sink: sink profile \"hotmale\""},
		{"bad inline profile", "name: x\nsink:\n  groups:\n    - name: g\n      domains: [a]\n      replies: {defer: x}\n",
			"line 6: groups[0].replies.defer"},
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

func TestParse_SinkProfileByNameFileOrInline(t *testing.T) {
	s, err := Load("realistic")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Profile; p == nil || len(p.Groups) != 1 || p.Groups[0].Shares != [4]int{9200, 500, 200, 100} {
		t.Fatalf("realistic profile = %+v, want one group with 5%% defers, 2%% bounces, 1%% throttles", p)
	}
	if s.DeadDomains != 1 || !s.DeadRecipient(1000) || s.DeadRecipient(1001) {
		t.Errorf("realistic dead domains %d", s.DeadDomains)
	}
	s, err = Parse("t.yaml", []byte("name: x\nsink: gmail\ninject: grpc-batch\n"))
	if err != nil || s.Profile == nil || s.Profile.Groups[0].Name != "gmail" || s.Inject != InjectGRPCBatch || s.BatchSize != 1000 {
		t.Errorf("sink: gmail = %+v, %v", s, err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("groups: [{name: mine, domains: [\"*\"]}]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sc.yaml"), []byte("name: y\nsink: p.yaml\n"), 0o644)
	s, err = Load(filepath.Join(dir, "sc.yaml"))
	if err != nil || s.Profile.Groups[0].Name != "mine" {
		t.Errorf("profile file next to the scenario: %+v, %v", s.Profile, err)
	}
	c, _ := Load("crash")
	if share, err := c.CrashShare(); share != 0.5 || err != nil {
		t.Errorf("crash share = %v, %v", share, err)
	}
}
