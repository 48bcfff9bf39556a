package spool

import (
	"math/rand/v2"
	"sync"
	"time"
)

// crockford is Crockford's base32 alphabet; it is in ASCII order, so IDs sort by time.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idGen makes message IDs: 48 bits of ms timestamp then 32 bits of sequence, as 16
// base32 characters. Within one ms the sequence counts up from a random start; the
// timestamp never goes backwards (not across restarts either: Open seeds it with the
// newest stored ID), so IDs from one spool never repeat.
type idGen struct {
	mu     sync.Mutex
	lastMs int64
	seq    uint32
}

func (g *idGen) next(now time.Time) string {
	g.mu.Lock()
	ms := now.UnixMilli()
	if ms > g.lastMs {
		g.lastMs, g.seq = ms, rand.Uint32()>>1 // half the space left for counting up
	} else {
		g.seq++
		if g.seq == 0 {
			g.lastMs++
		}
	}
	ms, seq := g.lastMs, g.seq
	g.mu.Unlock()
	return encodeID(uint64(ms), seq)
}

// observe makes later IDs sort after id (used when recovering).
func (g *idGen) observe(id string) {
	ms, seq, ok := decodeID(id)
	if !ok {
		return
	}
	g.mu.Lock()
	if int64(ms) > g.lastMs || (int64(ms) == g.lastMs && seq > g.seq) {
		g.lastMs, g.seq = int64(ms), seq
	}
	g.mu.Unlock()
}

func encodeID(ms uint64, seq uint32) string {
	v := [2]uint64{ms & (1<<48 - 1), uint64(seq)} // 80 bits: hi 48, lo 32
	var b [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		b[i] = crockford[v[1]&31]
		v[1] = v[1]>>5 | (v[0]&31)<<27
		v[0] >>= 5
	}
	return string(b[:])
}

func decodeID(id string) (ms uint64, seq uint32, ok bool) {
	if len(id) != idLen {
		return 0, 0, false
	}
	var hi, lo uint64 // 80-bit accumulator: hi holds bits above the low 32
	for i := range idLen {
		c := indexCrockford(id[i])
		if c < 0 {
			return 0, 0, false
		}
		hi = hi<<5 | lo>>27
		lo = (lo<<5 | uint64(c)) & (1<<32 - 1)
	}
	return hi, uint32(lo), true
}

func indexCrockford(c byte) int {
	for i := range len(crockford) {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}

// validID reports whether id has the shape of a spool message ID.
func validID(id string) bool {
	_, _, ok := decodeID(id)
	return ok
}
