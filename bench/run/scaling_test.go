package run

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeReport writes a report with the given rate as dir/name.
func writeReport(t *testing.T, dir, name string, perS, cpu1k float64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := (&Report{DeliveredPerS: perS, CPUSPer1k: cpu1k, Correct: true}).WriteJSONFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadScaling_SpeedUpOverTheFewestCores(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		writeReport(t, dir, "small-4cores.json", 3600, 0.5),
		writeReport(t, dir, "marketing-2cores.json", 300, 3),
		writeReport(t, dir, "small-1cores.json", 1000, 0.4),
		writeReport(t, dir, "marketing-1cores.json", 200, 2.5),
	}
	pts, err := LoadScaling(files)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pts {
		got = append(got, fmt.Sprintf("%s/%d/%.2f", p.Scenario, p.Cores, p.SpeedUp))
	}
	want := "small/1/1.00 small/4/3.60 marketing/1/1.00 marketing/2/1.50"
	if strings.Join(got, " ") != want {
		t.Errorf("points = %v, want %s", got, want)
	}
	var b bytes.Buffer
	if err := WriteScalingTable(&b, pts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "3.60x") || !strings.Contains(b.String(), "0.500") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestLoadScaling_BadInputSaysWhich(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "small-1cores.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{writeReport(t, dir, "small.json", 1, 1), "SCENARIO-Ncores.json"},
		{writeReport(t, dir, "small-0cores.json", 1, 1), "bad core count"},
		{bad, "not a bench run report"},
		{filepath.Join(dir, "gone-1cores.json"), "no such file"},
	} {
		if _, err := LoadScaling([]string{tc.path}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadScaling(%s) = %v, want an error containing %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}
