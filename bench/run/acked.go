package run

import (
	"math/bits"
	"sync/atomic"
)

// ackSet is the set of recipients (by bench/inject's run-wide index) that the
// server acknowledged: a bitmap, safe for concurrent add.
type ackSet struct {
	n     int64 // recipients 0 .. n-1 fit
	words []atomic.Uint64
}

func newAckSet(n int64) ackSet { return ackSet{n: n, words: make([]atomic.Uint64, (n+63)/64)} }

// add marks recipients first .. first+n-1 (inject.Config.Acked); those
// past the set's size are ignored.
func (a *ackSet) add(first int64, n int) {
	for i := max(first, 0); i < min(first+int64(n), a.n); i++ {
		a.words[i/64].Or(1 << (i % 64))
	}
}

// count returns how many recipients are in the set.
func (a *ackSet) count() int64 {
	var n int
	for i := range a.words {
		n += bits.OnesCount64(a.words[i].Load())
	}
	return int64(n)
}

// each calls f with every recipient in the set, in order.
func (a *ackSet) each(f func(int64)) {
	for i := range a.words {
		for w := a.words[i].Load(); w != 0; w &= w - 1 {
			f(int64(i)*64 + int64(bits.TrailingZeros64(w)))
		}
	}
}
