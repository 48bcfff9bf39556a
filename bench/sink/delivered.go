package sink

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// delivered is the set of recipient addresses in accepted messages, kept
// only with Config.TrackDuplicates, and the count of addresses seen in more
// than one. It is sharded by address, not by connection: a duplicate usually
// arrives on another connection than the first delivery.
type delivered struct {
	seed   maphash.Seed
	n      atomic.Int64 // addresses delivered more than once
	shards [nShards]struct {
		mu sync.Mutex
		// seen maps an address to whether it was already counted as a
		// duplicate: false after its first delivery, true after its second.
		seen map[string]bool
		_    [64]byte
	}
}

func (d *delivered) init() {
	d.seed = maphash.MakeSeed()
	for i := range d.shards {
		d.shards[i].seen = make(map[string]bool)
	}
}

// add records one delivery to each of addrs.
func (d *delivered) add(addrs []string) {
	for _, a := range addrs {
		a = canonicalAddr(a)
		sh := &d.shards[maphash.String(d.seed, a)%nShards]
		sh.mu.Lock()
		counted, seen := sh.seen[a]
		switch {
		case !seen:
			sh.seen[a] = false
		case !counted:
			sh.seen[a] = true
			d.n.Add(1)
		}
		sh.mu.Unlock()
	}
}

func (d *delivered) reset() {
	d.n.Store(0)
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		clear(sh.seen)
		sh.mu.Unlock()
	}
}

// canonicalAddr returns addr with its domain lowercased; the local part is
// kept as is (RFC 5321 lets it be case-sensitive). It does not allocate when
// the domain is already lowercase.
func canonicalAddr(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr
	}
	if d := domainOf(addr); d != addr[i+1:] {
		return addr[:i+1] + d
	}
	return addr
}

// has reports whether addr was delivered at least once.
func (d *delivered) has(addr string) bool {
	addr = canonicalAddr(addr)
	sh := &d.shards[maphash.String(d.seed, addr)%nShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, ok := sh.seen[addr]
	return ok
}

// Delivered reports whether a message to addr (domain case ignored) was
// accepted since New or the last Reset. It needs Config.TrackDuplicates;
// without it, it reports false.
func (s *Sink) Delivered(addr string) bool { return s.cfg.TrackDuplicates && s.dups.has(addr) }
