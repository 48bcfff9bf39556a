package inject

import (
	"math"
	"slices"
	"time"
)

// LatencySummary describes the time from sending a message's end of data to
// reading the server's final reply, over the messages sent.
type LatencySummary struct {
	P50, P90, P99, Max time.Duration
}

// summarize sorts d in place and returns its nearest-rank percentiles; the
// zero summary for no samples.
func summarize(d []time.Duration) LatencySummary {
	if len(d) == 0 {
		return LatencySummary{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return LatencySummary{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}
