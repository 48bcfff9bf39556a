package run

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"strconv"
)

// ChartSVG draws a run's timeline as a standalone SVG: two panels over the
// same time axis (seconds since the first injection), delivered recipients
// per second on top and the server's queue depth (queued recipients)
// below. A crash's kill -9 is a dashed vertical line on both. It is pure and
// deterministic: the same report gives the same bytes; text is escaped for
// XML. The style follows warmup.ChartSVG.
func ChartSVG(rep *Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	svgText(&b, chartWidth/2, 28, `text-anchor="middle" font-size="16" font-weight="bold" class="title"`,
		fmt.Sprintf("sluice bench %s: %d recipients, %s", rep.Scenario, rep.Injected, rep.Inject))
	tl := rep.Timeline
	tMax := 1.0
	if len(tl) > 0 {
		tMax = max(tMax, tl[len(tl)-1].Seconds)
	}
	rates := make([]float64, len(tl))
	queued := make([]float64, len(tl))
	for i, p := range tl {
		queued[i] = float64(p.Queued)
		if i > 0 {
			if dt := p.Seconds - tl[i-1].Seconds; dt > 0 {
				rates[i] = float64(p.Delivered-tl[i-1].Delivered) / dt
			}
		}
	}
	var crashAt float64 = -1
	if rep.Crash != nil {
		crashAt = rep.Crash.KilledAtSeconds
	}
	panels := []panel{
		{top: 50, label: "delivered recipients / s", color: "#1f77b4", class: "delivered-rate", ys: rates},
		{top: 50 + panelHeight + panelGap, label: "queued recipients", color: "#ff7f0e", class: "queue-depth", ys: queued},
	}
	for _, p := range panels {
		p.draw(&b, tl, tMax, crashAt)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// WriteChartFile writes ChartSVG(rep) to path.
func (rep *Report) WriteChartFile(path string) error {
	if err := os.WriteFile(path, ChartSVG(rep), 0o644); err != nil {
		return fmt.Errorf("run: chart: %w", err)
	}
	return nil
}

// Layout, in SVG user units.
const (
	chartWidth  = 960
	chartHeight = 620
	plotLeft    = 90
	plotRight   = 920
	panelHeight = 220
	panelGap    = 80
)

type panel struct {
	top          int
	label, color string
	class        string
	ys           []float64
}

func (p panel) bottom() float64 { return float64(p.top + panelHeight) }

func (p panel) draw(b *bytes.Buffer, tl []Point, tMax, crashAt float64) {
	yMax := 0.0
	for _, v := range p.ys {
		yMax = max(yMax, v)
	}
	step := niceStep(yMax, 5)
	top := math.Max(step, math.Ceil(yMax/step)*step)
	x := func(t float64) float64 { return plotLeft + t*(plotRight-plotLeft)/tMax }
	y := func(v float64) float64 { return p.bottom() - v*panelHeight/top }

	fmt.Fprintf(b, `<g class="axes %s" stroke="#999" stroke-width="1">`+"\n", p.class)
	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#eee"/>`+"\n", plotLeft, coord(y(v)), plotRight, coord(y(v)))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%s"/>`+"\n", plotLeft, p.top, plotLeft, coord(p.bottom()))
	fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s"/>`+"\n", plotLeft, coord(p.bottom()), plotRight, coord(p.bottom()))
	b.WriteString("</g>\n")
	b.WriteString(`<g class="ticks" fill="#333">` + "\n")
	for v := 0.0; v <= top+step/2; v += step {
		svgText(b, plotLeft-6, y(v)+4, `text-anchor="end"`, tickLabel(v))
	}
	tStep := niceStep(tMax, 10)
	for t := 0.0; t <= tMax+tStep/100; t += tStep {
		svgText(b, x(t), p.bottom()+16, `text-anchor="middle"`, tickLabel(t))
	}
	b.WriteString("</g>\n")
	svgText(b, (plotLeft+plotRight)/2, p.bottom()+34, `text-anchor="middle" class="x-label"`, "seconds since the first injection")
	mid := (float64(p.top) + p.bottom()) / 2
	fmt.Fprintf(b, `<text x="24" y="%s" text-anchor="middle" transform="rotate(-90 24 %s)" class="y-label">`, coord(mid), coord(mid))
	xmlEscape(b, p.label)
	b.WriteString("</text>\n")

	fmt.Fprintf(b, `<polyline class="series %s" fill="none" stroke="%s" stroke-width="2" points="`, p.class, p.color)
	for i, pt := range tl {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%s,%s", coord(x(pt.Seconds)), coord(y(p.ys[i])))
	}
	b.WriteString(`"><title>`)
	xmlEscape(b, p.label)
	b.WriteString("</title></polyline>\n")
	if crashAt >= 0 {
		fmt.Fprintf(b, `<line class="crash" x1="%s" y1="%d" x2="%s" y2="%s" stroke="#d62728" stroke-dasharray="4 3"><title>kill -9</title></line>`+"\n",
			coord(x(crashAt)), p.top, coord(x(crashAt)), coord(p.bottom()))
	}
}

// niceStep is the smallest 1, 2 or 5 ×10^n that covers v in at most n steps.
func niceStep(v float64, n int) float64 {
	if v <= 0 {
		return 1
	}
	for step := math.Pow(10, math.Floor(math.Log10(v/float64(n)))); ; step *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if s := step * m; v <= s*float64(n) {
				return s
			}
		}
	}
}

// tickLabel formats a tick value: 0.5, 500, 2k, 2.5k, 1M.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// coord formats a coordinate with one decimal.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func svgText[N int | float64](b *bytes.Buffer, x, y N, attrs, s string) {
	fmt.Fprintf(b, `<text x="%s" y="%s"`, coord(float64(x)), coord(float64(y)))
	if attrs != "" {
		b.WriteString(" " + attrs)
	}
	b.WriteByte('>')
	xmlEscape(b, s)
	b.WriteString("</text>\n")
}

func xmlEscape(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }
