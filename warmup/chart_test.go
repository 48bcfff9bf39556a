package warmup

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// svgElem is one element of a parsed chart: its name, attributes and text
// (for a series or marker, its <title> tooltip).
type svgElem struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG decodes b strictly (failing t if it is not well-formed XML) and
// returns its elements in document order.
func parseSVG(t *testing.T, b []byte) []*svgElem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var all, open []*svgElem
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &svgElem{name: tok.Name.Local, attrs: map[string]string{}}
			if len(all) == 0 && tok.Name.Space != "http://www.w3.org/2000/svg" {
				t.Errorf("root element in namespace %q", tok.Name.Space)
			}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			all, open = append(all, e), append(open, e)
		case xml.EndElement:
			// A <title> child is its parent's tooltip: read it as its text.
			if e := open[len(open)-1]; e.name == "title" && len(open) > 1 {
				open[len(open)-2].text += e.text
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				open[len(open)-1].text += string(tok)
			}
		}
	}
	if len(all) == 0 || all[0].name != "svg" {
		t.Fatalf("no <svg> root:\n%s", b)
	}
	for _, a := range []string{"width", "height", "viewBox"} {
		if all[0].attrs[a] == "" {
			t.Errorf("<svg> without %s", a)
		}
	}
	return all
}

// withClass returns the elements whose class list holds class.
func withClass(es []*svgElem, class string) []*svgElem {
	var out []*svgElem
	for _, e := range es {
		if slices.Contains(strings.Fields(e.attrs["class"]), class) {
			out = append(out, e)
		}
	}
	return out
}

func TestChartSVG_SeriesPerGroupAndMarkers(t *testing.T) {
	p := Plan{
		Name: "p", Days: []int{100, 200, 400, 800}, CountSendingDays: true,
		Groups: map[string]GroupPlan{"gmail": {Fraction: 0.5}},
	}
	health := func(day, sent int) DayStats {
		switch day {
		case 3:
			return DayStats{Deferred: sent / 10} // hold
		case 5:
			return DayStats{Bounced: sent / 10} // step back
		}
		return DayStats{}
	}
	reps, err := Simulate(p, 7, 300, health)
	if err != nil {
		t.Fatal(err)
	}
	es := parseSVG(t, ChartSVG(reps, "plan p"))

	caps, sent := withClass(es, "cap"), withClass(es, "sent")
	if len(caps) != 2 || len(sent) != 2 {
		t.Fatalf("%d cap and %d sent series, want 2 and 2 (other, gmail)", len(caps), len(sent))
	}
	if caps[0].text != "other: daily cap" || caps[1].text != "gmail: daily cap" {
		t.Errorf("cap series %q, %q: want other (the plan's curve) first", caps[0].text, caps[1].text)
	}
	for _, s := range append(caps, sent...) {
		if n := len(strings.Fields(s.attrs["points"])); n != 14 {
			t.Errorf("%s: %d points, want 2 a day for 7 days", s.text, n)
		}
	}
	if h, sb := withClass(es, "hold"), withClass(es, "step-back"); len(h) != 2 || len(sb) != 2 {
		t.Errorf("%d hold and %d step-back markers, want 2 and 2 (day 3 and day 5, each group)", len(h), len(sb))
	} else if !strings.Contains(sb[0].text, "day 5") || !strings.Contains(sb[0].text, "bad day") {
		t.Errorf("step-back tooltip %q", sb[0].text)
	}
	var legend []string
	for _, e := range es {
		if e.name == "text" {
			legend = append(legend, e.text)
		}
	}
	for _, want := range []string{"plan p", "day", "recipients per day", "other cap", "gmail sent", "hold", "step back", "0"} {
		if !slices.Contains(legend, want) {
			t.Errorf("no text %q in %q", want, legend)
		}
	}
}

func TestChartSVG_NoVolumeDrawsNoSentSeries(t *testing.T) {
	reps, err := Simulate(Plan{Name: "d", Doubling: &Doubling{Start: 50, Days: 10}}, 30, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	es := parseSVG(t, ChartSVG(reps, "d"))
	if c, s := withClass(es, "cap"), withClass(es, "sent"); len(c) != 1 || len(s) != 0 {
		t.Fatalf("%d cap and %d sent series, want 1 and 0 (sent only retraces the cap)", len(c), len(s))
	} else if n := len(strings.Fields(c[0].attrs["points"])); n != 60 {
		t.Errorf("%d points, want 60", n)
	}
	if !slices.ContainsFunc(es, func(e *svgElem) bool { return e.name == "text" && e.text == "unlimited" }) {
		t.Error(`no "unlimited" label though days 11-30 have no cap`)
	}
	// 50 << 9 = 25600: ticks of 10k up to 30k.
	if !slices.ContainsFunc(es, func(e *svgElem) bool { return e.name == "text" && e.text == "30k" }) {
		t.Error("no 30k tick")
	}
}

func TestChartSVG_EscapesTitle(t *testing.T) {
	title := `plan <new-ip> & "friends"`
	b := ChartSVG([]DayReport{{Day: 1, Group: Other, Cap: 10, Sent: 10}}, title)
	if bytes.Contains(b, []byte("<new-ip>")) || !bytes.Contains(b, []byte("&lt;new-ip&gt; &amp;")) {
		t.Errorf("title not escaped:\n%s", b)
	}
	if got := withClass(parseSVG(t, b), "title"); len(got) != 1 || got[0].text != title {
		t.Errorf("title reads back as %v", got)
	}
}

func TestChartSVG_Deterministic(t *testing.T) {
	p := Plan{Name: "p", Days: []int{100, 200, 400}, Groups: map[string]GroupPlan{"gmail": {Fraction: 0.5}, "yahoo": {Days: []int{30, 60}}}}
	reps, err := Simulate(p, 10, 250, func(day, sent int) DayStats { return DayStats{Deferred: sent / 20 * (day % 2)} })
	if err != nil {
		t.Fatal(err)
	}
	a := ChartSVG(reps, "p")
	rev := slices.Clone(reps)
	slices.Reverse(rev)
	for i := 0; i < 5; i++ {
		if !bytes.Equal(a, ChartSVG(reps, "p")) {
			t.Fatal("two charts of the same reports differ")
		}
	}
	before := slices.Clone(rev)
	if !bytes.Equal(a, ChartSVG(rev, "p")) {
		t.Error("the order of the reports changed the chart")
	}
	if !slices.Equal(rev, before) {
		t.Error("ChartSVG reordered its input")
	}
}

func TestChartSVG_EdgeCasesDoNotPanic(t *testing.T) {
	allUnlimited := []DayReport{{Day: 1, Group: Other, Cap: Unlimited}, {Day: 2, Group: Other, Cap: Unlimited}}
	oneDay, err := Simulate(Plan{Name: "one", Days: []int{100}}, 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, reps := range map[string][]DayReport{
		"all unlimited": allUnlimited, "one day": oneDay, "empty": nil,
		"huge": {{Day: 1, Group: Other, Cap: MaxCap, Sent: MaxCap}},
	} {
		t.Run(name, func(t *testing.T) {
			es := parseSVG(t, ChartSVG(reps, name))
			if caps := withClass(es, "cap"); len(caps) != min(len(reps), 1) {
				t.Errorf("%d cap series", len(caps))
			} else if len(caps) == 1 && len(strings.Fields(caps[0].attrs["points"])) != 2*len(reps) {
				t.Errorf("points %q", caps[0].attrs["points"])
			}
		})
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ v, n, want int }{
		{0, 5, 1}, {5, 5, 1}, {6, 5, 2}, {800, 5, 200}, {801, 5, 200}, {1001, 5, 500}, {25600, 5, 10000}, {30, 15, 2}, {365, 15, 50},
	} {
		if got := niceStep(c.v, c.n); got != c.want {
			t.Errorf("niceStep(%d, %d) = %d, want %d", c.v, c.n, got, c.want)
		}
	}
}
