package sink

import (
	"bytes"
	"io"
	"math/bits"
	"sync/atomic"
	"time"
)

// StampField is the header field whose value, the sending time in Unix
// nanoseconds, the sink turns into a latency sample (bench/inject writes it
// with Config.StampHeader).
const StampField = "X-Sluice-Bench-Sent"

// HeaderScanBytes is how much of a message the sink keeps in view while it
// looks for StampField: a stamp further in, or after the header block, is
// not seen.
const HeaderScanBytes = 8 << 10

// MaxArrivalSeconds bounds Stats.Arrivals: recipients delivered later than
// this after the first message are counted in its last second.
const MaxArrivalSeconds = 3600

// The latency histogram is log-linear over microseconds: values under
// subBuckets get a bucket each; above, each power of two is cut into
// subBuckets equal buckets, so a bucket is at most 1/16 of its value wide
// and a quantile read at its midpoint is within about 3%. Values of
// 2^maxExp µs (about 9.5 hours) and more share the last bucket.
const (
	subBits    = 4
	subBuckets = 1 << subBits
	maxExp     = 35
	nBuckets   = (maxExp - subBits + 1) * subBuckets
)

// histogram counts latency samples. Its methods are safe for concurrent use.
type histogram struct {
	counts [nBuckets]atomic.Int64
}

// bucketOf returns the bucket of a value in microseconds.
func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1
	if exp > maxExp {
		return nBuckets - 1
	}
	sub := int(us>>(exp-subBits)) & (subBuckets - 1)
	return (exp-subBits+1)*subBuckets + sub
}

// bucketMid returns the middle of bucket i, in microseconds.
func bucketMid(i int) float64 {
	if i < subBuckets {
		return float64(i)
	}
	exp := i/subBuckets + subBits - 1
	sub := i % subBuckets
	width := uint64(1) << (exp - subBits)
	low := uint64(subBuckets+sub) << (exp - subBits)
	return float64(low) + float64(width-1)/2
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)/time.Microsecond))].Add(1)
}

func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
}

// snapshot adds h's counts into dst.
func (h *histogram) snapshot(dst *[nBuckets]int64) {
	for i := range h.counts {
		dst[i] += h.counts[i].Load()
	}
}

// quantiles returns the nearest-rank quantiles qs of the counts, in
// milliseconds, and the number of samples; zeros for none.
func quantiles(counts *[nBuckets]int64, qs ...float64) ([]float64, int64) {
	var total int64
	for _, n := range counts {
		total += n
	}
	out := make([]float64, len(qs))
	if total == 0 {
		return out, 0
	}
	for k, q := range qs {
		rank := max(int64(q*float64(total)+0.999999), 1) // ceil, at least 1
		var seen int64
		for i, n := range counts {
			seen += n
			if seen >= rank {
				out[k] = bucketMid(i) / 1000
				break
			}
		}
	}
	return out, total
}

// arrivals counts delivered recipients per second since the first message.
type arrivals struct {
	secs [MaxArrivalSeconds]atomic.Int64
	last atomic.Int64 // highest second index used, plus one
}

// add counts n recipients delivered at now, the first message being at
// first (both Unix nanoseconds).
func (a *arrivals) add(first, now int64, n int) {
	i := min(max((now-first)/int64(time.Second), 0), MaxArrivalSeconds-1)
	a.secs[i].Add(int64(n))
	for {
		l := a.last.Load()
		if i+1 <= l || a.last.CompareAndSwap(l, i+1) {
			return
		}
	}
}

func (a *arrivals) snapshot() []int64 {
	out := make([]int64, a.last.Load())
	for i := range out {
		out[i] = a.secs[i].Load()
	}
	return out
}

func (a *arrivals) reset() {
	a.last.Store(0)
	for i := range a.secs {
		a.secs[i].Store(0)
	}
}

// drain reads r to its end into buf's view and io.Discard, and returns the
// bytes read and the StampField value found in the header block (0 if
// none). It reads into buf only until the header block ends or buf is full.
func drain(r io.Reader, buf []byte) (n int64, stamp int64, err error) {
	m, end := 0, -1
	for m < len(buf) {
		k, rerr := r.Read(buf[m:])
		from := max(m-3, 0)
		m += k
		if i := bytes.Index(buf[from:m], []byte("\r\n\r\n")); i >= 0 {
			end = from + i + 2
			break
		}
		if rerr == io.EOF {
			return int64(m), findStamp(buf[:m]), nil
		}
		if rerr != nil {
			return int64(m), 0, rerr
		}
	}
	if end < 0 {
		end = m
	}
	stamp = findStamp(buf[:end])
	rest, err := io.Copy(io.Discard, r)
	return int64(m) + rest, stamp, err
}

// stampPrefix is what a StampField line starts with.
var stampPrefix = []byte(StampField + ":")

// findStamp returns the value of the first StampField line in the header
// text h, or 0. NB: the field name is matched as written, case and all: a
// relay keeps the header text it was given.
func findStamp(h []byte) int64 {
	for len(h) > 0 {
		if bytes.HasPrefix(h, stampPrefix) {
			return parseStamp(h[len(stampPrefix):])
		}
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			return 0
		}
		h = h[i+1:]
	}
	return 0
}

// parseStamp reads the decimal after optional blanks, up to CR, LF or the
// end; 0 if it is not a positive number.
func parseStamp(v []byte) int64 {
	v = bytes.TrimLeft(v, " \t")
	var x int64
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9':
			if x > (1<<63-1)/10 {
				return 0
			}
			x = x*10 + int64(c-'0')
		case c == '\r' || c == '\n' || c == ' ':
			if i == 0 {
				return 0
			}
			return x
		default:
			return 0
		}
	}
	return x
}
