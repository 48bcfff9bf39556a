package run

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws one line, rewritten in place, while a scenario runs:
//
//	small [########------------]  injected 12000/20000  delivered 9000/20000  4512 rcpt/s
type progress struct {
	w    io.Writer // nil: draw nothing
	name string

	lastAt        time.Time
	lastDelivered int64
	rate          float64 // recipients per second, smoothed
	drawn         bool
}

// barWidth is the bar's width in characters.
const barWidth = 24

// update redraws the line with the numbers seen at at; extra, if any, is
// appended.
func (p *progress) update(at time.Time, sent, count, delivered, want int64, extra string) {
	if p.w == nil {
		return
	}
	if !p.lastAt.IsZero() {
		if dt := at.Sub(p.lastAt).Seconds(); dt > 0 {
			r := float64(delivered-p.lastDelivered) / dt
			p.rate = 0.5*p.rate + 0.5*r
		}
	}
	p.lastAt, p.lastDelivered = at, delivered
	filled := 0
	if want > 0 {
		filled = int(min(delivered, want) * barWidth / want)
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled)
	fmt.Fprintf(p.w, "\r%s [%s]  injected %d/%d  delivered %d/%d  %.0f rcpt/s%s   ",
		p.name, bar, sent, count, delivered, want, p.rate, extra)
	p.drawn = true
}

// done ends the line.
func (p *progress) done() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
