package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWarmupSimulate_ChartWritesSVG_TableUnchanged(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plan.yaml")
	_ = os.WriteFile(cfg, []byte("warmup:\n  plans:\n    - {name: new-ip, days: [50, 100], groups: {gmail: {fraction: 0.5}}}\n"), 0o644)
	args := []string{"warmup", "simulate", "--config", cfg, "--plan", "new-ip", "--days", "3", "--volume", "80"}
	plain, _, code := runSluice(t, args...)
	if code != 0 {
		t.Fatalf("simulate: exit %d", code)
	}

	chart := filepath.Join(dir, "out.svg")
	out, stderr, code := runSluice(t, append(args, "--chart", chart)...)
	if code != 0 || !contains(stderr, "chart written to "+chart) {
		t.Fatalf("simulate --chart: exit %d\n%s", code, stderr)
	}
	if out != plain {
		t.Errorf("--chart changed the table:\n%s\nwant\n%s", out, plain)
	}
	b, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(chart); fi.Mode().Perm()&0o644 != 0o644 {
		t.Errorf("chart mode %v, want readable by all", fi.Mode())
	}
	if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("gmail")) {
		t.Errorf("not an SVG chart of the plan:\n%s", b)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}

	bad := filepath.Join(dir, "no-such-dir", "out.svg")
	if _, stderr, code := runSluice(t, append(args, "--chart", bad)...); code == 0 || !contains(stderr, "--chart") || !contains(stderr, bad) {
		t.Errorf("unwritable chart: exit %d %s", code, stderr)
	}
}
