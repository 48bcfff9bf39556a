package run

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws one line, rewritten in place, while a scenario runs:
//
//	small [########------------]  12.4s  injected 12000/20000 3981/s  delivered 9000/20000 4512/s  queued 2980
//
// The bar is delivered recipients of the scenario's; the rates are per
// second, smoothed over the last looks (messages injected, recipients
// delivered).
type progress struct {
	w    io.Writer // nil: draw nothing
	name string

	start         time.Time
	lastAt        time.Time
	lastDelivered int64
	lastSent      int64
	rate, irate   float64 // recipients delivered, messages injected per second, smoothed
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
	if p.start.IsZero() {
		p.start = at
	}
	if !p.lastAt.IsZero() {
		if dt := at.Sub(p.lastAt).Seconds(); dt > 0 {
			p.rate = 0.5*p.rate + 0.5*float64(delivered-p.lastDelivered)/dt
			p.irate = 0.5*p.irate + 0.5*float64(sent-p.lastSent)/dt
		}
	}
	p.lastAt, p.lastDelivered, p.lastSent = at, delivered, sent
	filled := 0
	if want > 0 {
		filled = int(min(delivered, want) * barWidth / want)
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled)
	fmt.Fprintf(p.w, "\r%s [%s] %5.1fs  injected %d/%d %.0f/s  delivered %d/%d %.0f/s%s   ",
		p.name, bar, at.Sub(p.start).Seconds(), sent, count, p.irate, delivered, want, p.rate, extra)
	p.drawn = true
}

// done ends the line.
func (p *progress) done() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
