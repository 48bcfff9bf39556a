package run

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"text/tabwriter"
)

// ScalingPoint is one scenario run at one core count.
type ScalingPoint struct {
	Scenario string `json:"scenario"`
	// Cores is the number of cores the server had (GOMAXPROCS and CPU
	// affinity).
	Cores         int     `json:"cores"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	// SpeedUp is DeliveredPerS over the same scenario's at the fewest
	// cores measured (1 in a full run); 0 without that point.
	SpeedUp   float64 `json:"speed_up"`
	CPUSPer1k float64 `json:"cpu_s_per_1k"`
	Correct   bool    `json:"correct"`
	File      string  `json:"file"`
}

// scalingName is a report file's name: SCENARIO-Ncores.json.
var scalingName = regexp.MustCompile(`^(.+)-([0-9]+)cores\.json$`)

// LoadScaling reads `bench run` JSON reports named SCENARIO-Ncores.json
// and returns them by scenario (in the order first seen) and cores, each
// with its speed-up over the fewest cores of its scenario.
func LoadScaling(paths []string) ([]ScalingPoint, error) {
	var pts []ScalingPoint
	order := map[string]int{}
	for _, p := range paths {
		m := scalingName.FindStringSubmatch(filepath.Base(p))
		if m == nil {
			return nil, fmt.Errorf("run: scaling: %s: the name must be SCENARIO-Ncores.json", p)
		}
		cores, err := strconv.Atoi(m[2])
		if err != nil || cores < 1 {
			return nil, fmt.Errorf("run: scaling: %s: bad core count %q", p, m[2])
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("run: scaling: %w", err)
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return nil, fmt.Errorf("run: scaling: %s: not a bench run report: %w", p, err)
		}
		if _, ok := order[m[1]]; !ok {
			order[m[1]] = len(order)
		}
		pts = append(pts, ScalingPoint{Scenario: m[1], Cores: cores, DeliveredPerS: rep.DeliveredPerS,
			CPUSPer1k: rep.CPUSPer1k, Correct: rep.Correct, File: p})
	}
	slices.SortStableFunc(pts, func(a, b ScalingPoint) int {
		if d := order[a.Scenario] - order[b.Scenario]; d != 0 {
			return d
		}
		return a.Cores - b.Cores
	})
	base := map[string]float64{}
	for i := range pts {
		if _, ok := base[pts[i].Scenario]; !ok {
			base[pts[i].Scenario] = pts[i].DeliveredPerS // the fewest cores: sorted
		}
		if b := base[pts[i].Scenario]; b > 0 {
			pts[i].SpeedUp = pts[i].DeliveredPerS / b
		}
	}
	return pts, nil
}

// WriteScalingTable writes the points as a table for people.
func WriteScalingTable(w io.Writer, pts []ScalingPoint) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcores\tdelivered/s\tspeed-up\tcpu s/1k msgs\taccounting")
	for _, p := range pts {
		verdict := "OK"
		if !p.Correct {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%5d\t%11.0f\t%7.2fx\t%13.3f\t%s\n", p.Scenario, p.Cores, p.DeliveredPerS,
			p.SpeedUp, p.CPUSPer1k, verdict)
	}
	return tw.Flush()
}
