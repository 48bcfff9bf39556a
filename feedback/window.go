package feedback

import "time"

// windowBuckets is how many buckets a window is cut into: the window
// slides by a tenth of its span.
const windowBuckets = 10

// window counts replies by class over a sliding span of time, in buckets,
// so that it costs the same at 10 replies a minute or 10,000 a second.
type window struct {
	width   time.Duration
	buckets [windowBuckets]bucket
	newest  int64 // highest bucket index seen: time never runs backwards here
}

type bucket struct {
	idx                      int64 // now / width when the bucket was started
	total, deferred, bounced int
}

func (w *window) init(span time.Duration) {
	w.width = max(span/windowBuckets, time.Millisecond)
}

// index is the bucket index of now, clamped so that a clock step back
// counts into the newest bucket.
func (w *window) index(now time.Time) int64 {
	i := now.UnixNano() / int64(w.width)
	if i < w.newest {
		return w.newest
	}
	w.newest = i
	return i
}

// add counts one reply of class (2, 4 or 5).
func (w *window) add(now time.Time, class int) {
	i := w.index(now)
	b := &w.buckets[(i%windowBuckets+windowBuckets)%windowBuckets]
	if b.idx != i {
		*b = bucket{idx: i}
	}
	b.total++
	switch class {
	case 4:
		b.deferred++
	case 5:
		b.bounced++
	}
}

// sum returns the counts of the buckets within the window ending at now.
func (w *window) sum(now time.Time) (total, deferred, bounced int) {
	i := w.index(now)
	for _, b := range w.buckets {
		if b.total > 0 && b.idx > i-windowBuckets && b.idx <= i {
			total, deferred, bounced = total+b.total, deferred+b.deferred, bounced+b.bounced
		}
	}
	return total, deferred, bounced
}

// reset forgets every count.
func (w *window) reset() {
	w.buckets = [windowBuckets]bucket{}
}
