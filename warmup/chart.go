package warmup

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
)

// ChartSVG draws the reports of Simulate as a standalone SVG line chart: x is
// the simulated day, y recipients per day (linear, ticks at 1, 2 or 5 ×10^n).
//
// Each receiver group gets two step series in its own colour: its daily cap
// (solid; Unlimited days drawn on a band above the top tick labelled
// "unlimited") and what was sent (dashed). The sent series is left out for a
// group whose every day sent exactly its cap (nothing when unlimited), as
// Simulate does without a volume: it would only retrace the cap. Days whose
// day-end decision held or stepped back carry a marker on the cap line (a
// ring for hold, a triangle for step-back), with the reason as a tooltip;
// holds on unlimited days change nothing and are not marked. Other, the
// plan's own curve, is drawn first.
//
// It is pure and deterministic: the same reports and title give the same
// bytes. Text is escaped for XML.
func ChartSVG(reports []DayReport, title string) []byte {
	c := newChart(reports)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, c.height, chartWidth, c.height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	svgText(&b, chartWidth/2, 28, `text-anchor="middle" font-size="16" font-weight="bold" class="title"`, title)
	c.axes(&b)
	for i, s := range c.series {
		c.drawSeries(&b, i, s)
	}
	c.markers(&b)
	c.legend(&b)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// Layout, in SVG user units.
const (
	chartWidth   = 960
	minHeight    = 480
	plotLeft     = 80
	plotRight    = 740
	plotTop      = 50
	bottomMargin = 60
	legendX      = 760
	legendRow    = 20
	// unlimitedBand is the gap between the top tick and the unlimited line.
	unlimitedBand = 24
)

// chartPalette is Tableau 10, cycled over groups.
var chartPalette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

type chartSeries struct {
	group string
	color string
	days  []DayReport // sorted by Day
	sent  bool        // draw the sent series
}

type chart struct {
	series    []chartSeries
	days      int  // last day drawn
	unlimited bool // some day has no cap
	yMax      int  // value of the top tick
	yStep     int  // between ticks
	height    int
	holds     bool // some marker of each kind is drawn
	stepBacks bool
}

func newChart(reports []DayReport) *chart {
	byGroup := map[string][]DayReport{}
	c := &chart{}
	maxV := 0
	for _, r := range reports {
		byGroup[r.Group] = append(byGroup[r.Group], r)
		c.days = max(c.days, r.Day)
		c.unlimited = c.unlimited || r.Cap == Unlimited
		maxV = max(maxV, r.Cap, r.Sent)
	}
	names := make([]string, 0, len(byGroup))
	for g := range byGroup {
		names = append(names, g)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == Other:
			return -1
		case b == Other:
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	for i, g := range names {
		days := byGroup[g]
		slices.SortStableFunc(days, func(a, b DayReport) int { return a.Day - b.Day })
		s := chartSeries{group: g, color: chartPalette[i%len(chartPalette)], days: days}
		for _, r := range days {
			s.sent = s.sent || r.Sent != max(r.Cap, 0)
			c.holds = c.holds || dayMark(r) == ActionHold
			c.stepBacks = c.stepBacks || dayMark(r) == ActionStepBack
		}
		c.series = append(c.series, s)
	}
	c.yStep = niceStep(maxV, 5)
	c.yMax = max(1, (maxV+c.yStep-1)/c.yStep) * c.yStep
	c.height = max(minHeight, plotTop+c.legendRows()*legendRow+bottomMargin)
	return c
}

// dayMark is the decision a day's marker shows, or "" for none.
func dayMark(r DayReport) Action {
	switch a := r.Decision.Action; {
	case a == ActionStepBack, a == ActionHold && r.Cap != Unlimited:
		return a
	}
	return ""
}

// niceStep is the smallest 1, 2 or 5 ×10^n that covers v in at most n steps.
func niceStep(v, n int) int {
	for step := 1; ; step *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := step * m; v <= s*n || s >= MaxCap {
				return s
			}
		}
	}
}

func (c *chart) legendRows() int {
	n := len(c.series)
	for _, s := range c.series {
		if s.sent {
			n++
		}
	}
	if c.holds {
		n++
	}
	if c.stepBacks {
		n++
	}
	return n
}

func (c *chart) plotBottom() int { return c.height - bottomMargin }

// x is the left edge of day (1-based) plus frac of a day.
func (c *chart) x(day int, frac float64) float64 {
	return plotLeft + (float64(day-1)+frac)*float64(plotRight-plotLeft)/float64(max(c.days, 1))
}

// y is the height of n recipients; Unlimited is the band above the top tick.
func (c *chart) y(n int) float64 {
	top := float64(plotTop)
	if c.unlimited {
		if n == Unlimited {
			return top
		}
		top += unlimitedBand
	}
	return float64(c.plotBottom()) - float64(n)*(float64(c.plotBottom())-top)/float64(c.yMax)
}

func (c *chart) axes(b *bytes.Buffer) {
	bottom := float64(c.plotBottom())
	b.WriteString(`<g class="axes" stroke="#999" stroke-width="1">` + "\n")
	for v := 0; v <= c.yMax; v += c.yStep {
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#eee"/>`+"\n", plotLeft, coord(c.y(v)), plotRight, coord(c.y(v)))
	}
	if c.unlimited {
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#ccc" stroke-dasharray="2 4"/>`+"\n", plotLeft, coord(c.y(Unlimited)), plotRight, coord(c.y(Unlimited)))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%s"/>`+"\n", plotLeft, plotTop, plotLeft, coord(bottom))
	fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s"/>`+"\n", plotLeft, coord(bottom), plotRight, coord(bottom))
	b.WriteString("</g>\n")
	b.WriteString(`<g class="ticks" fill="#333">` + "\n")
	for v := 0; v <= c.yMax; v += c.yStep {
		svgTextAt(b, plotLeft-6, c.y(v)+4, `text-anchor="end"`, tickLabel(v))
	}
	if c.unlimited {
		svgTextAt(b, plotLeft-6, c.y(Unlimited)+4, `text-anchor="end"`, "unlimited")
	}
	dayStep := niceStep(c.days, 15)
	for d := 1; d <= c.days; d++ {
		if d%dayStep == 0 || d == 1 && dayStep > 2 {
			svgTextAt(b, c.x(d, 0.5), bottom+18, `text-anchor="middle"`, strconv.Itoa(d))
		}
	}
	b.WriteString("</g>\n")
	svgText(b, (plotLeft+plotRight)/2, c.plotBottom()+44, `text-anchor="middle" class="x-label"`, "day")
	fmt.Fprintf(b, `<text x="20" y="%s" text-anchor="middle" transform="rotate(-90 20 %s)" class="y-label">recipients per day</text>`+"\n",
		coord((float64(plotTop)+bottom)/2), coord((float64(plotTop)+bottom)/2))
}

// drawSeries draws group s's cap and, when it says something, sent, each
// as a step line: a flat segment across every day.
func (c *chart) drawSeries(b *bytes.Buffer, i int, s chartSeries) {
	line := func(class, style, label string, v func(DayReport) int) {
		fmt.Fprintf(b, `<polyline class="series %s" fill="none" stroke="%s" %s points="`, class, s.color, style)
		for j, r := range s.days {
			if j > 0 {
				b.WriteByte(' ')
			}
			y := coord(c.y(v(r)))
			fmt.Fprintf(b, "%s,%s %s,%s", coord(c.x(r.Day, 0)), y, coord(c.x(r.Day, 1)), y)
		}
		b.WriteString(`"><title>`)
		xmlEscape(b, label)
		b.WriteString("</title></polyline>\n")
	}
	line("cap", `stroke-width="2"`, s.group+": daily cap", func(r DayReport) int { return r.Cap })
	if s.sent {
		line("sent", `stroke-width="1.5" stroke-dasharray="6 3"`, s.group+": sent", func(r DayReport) int { return r.Sent })
	}
}

// markers marks the days that held or stepped back, on the cap line.
func (c *chart) markers(b *bytes.Buffer) {
	b.WriteString(`<g class="markers" stroke="#333" stroke-width="1">` + "\n")
	for _, s := range c.series {
		for _, r := range s.days {
			a := dayMark(r)
			if a == "" {
				continue
			}
			x, y := c.x(r.Day, 0.5), c.y(r.Cap)
			if a == ActionHold {
				fmt.Fprintf(b, `<circle class="hold" cx="%s" cy="%s" r="4" fill="white">`, coord(x), coord(y))
			} else {
				fmt.Fprintf(b, `<path class="step-back" d="M%s,%s l-5,-8 h10 z" fill="%s">`, coord(x), coord(y), s.color)
			}
			b.WriteString("<title>")
			xmlEscape(b, fmt.Sprintf("day %d (%s) %s: %s: %s", r.Day, r.Date, s.group, a, r.Decision.Reason))
			if a == ActionHold {
				b.WriteString("</title></circle>\n")
			} else {
				b.WriteString("</title></path>\n")
			}
		}
	}
	b.WriteString("</g>\n")
}

func (c *chart) legend(b *bytes.Buffer) {
	b.WriteString(`<g class="legend" fill="#333">` + "\n")
	y := plotTop
	row := func(sample, label string) {
		fmt.Fprintf(b, sample+"\n", legendX, y+6, legendX+24, y+6)
		svgText(b, legendX+30, y+10, "", label)
		y += legendRow
	}
	for _, s := range c.series {
		row(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="`+s.color+`" stroke-width="2"/>`, s.group+" cap")
		if s.sent {
			row(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="`+s.color+`" stroke-width="1.5" stroke-dasharray="6 3"/>`, s.group+" sent")
		}
	}
	if c.holds {
		fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="4" fill="white" stroke="#333"/>`+"\n", legendX+12, y+6)
		svgText(b, legendX+30, y+10, "", "hold")
		y += legendRow
	}
	if c.stepBacks {
		fmt.Fprintf(b, `<path d="M%d,%d l-5,-8 h10 z" fill="#999" stroke="#333"/>`+"\n", legendX+12, y+10)
		svgText(b, legendX+30, y+10, "", "step back")
	}
	b.WriteString("</g>\n")
}

// tickLabel formats a tick value: 500, 2k, 2.5k, 1M.
func tickLabel(v int) string {
	switch {
	case v >= 1_000_000:
		return strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64) + "M"
	case v >= 1000:
		return strconv.FormatFloat(float64(v)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.Itoa(v)
}

// coord formats a coordinate with one decimal.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func svgText(b *bytes.Buffer, x, y int, attrs, s string) {
	svgTextAt(b, float64(x), float64(y), attrs, s)
}

func svgTextAt(b *bytes.Buffer, x, y float64, attrs, s string) {
	fmt.Fprintf(b, `<text x="%s" y="%s"`, coord(x), coord(y))
	if attrs != "" {
		b.WriteString(" " + attrs)
	}
	b.WriteByte('>')
	xmlEscape(b, s)
	b.WriteString("</text>\n")
}

func xmlEscape(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }
