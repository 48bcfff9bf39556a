package sink

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Sink's counters since New or the last Reset.
type Stats struct {
	// Messages is the number of messages accepted (250 to DATA).
	Messages int64 `json:"messages"`
	// Recipients is the number of recipients of accepted messages.
	Recipients int64 `json:"recipients"`
	// Bytes is the size of accepted messages as read after DATA (dot-stuffing
	// removed, CRLF kept), in bytes.
	Bytes int64 `json:"bytes"`
	// Connections is the number of TCP connections accepted.
	Connections int64 `json:"connections"`
	// ActiveConnections is the number of connections open now; Reset leaves
	// it alone.
	ActiveConnections int64 `json:"active_connections"`
	// ByPeerIP counts accepted messages per client IP address.
	ByPeerIP map[string]int64 `json:"by_peer_ip"`
	// ByDomain counts recipients of accepted messages per RCPT domain,
	// lowercased.
	ByDomain map[string]int64 `json:"by_domain"`
	// FirstMessage and LastMessage are when the first and the latest message
	// were accepted; zero before any.
	FirstMessage time.Time `json:"first_message,omitzero"`
	LastMessage  time.Time `json:"last_message,omitzero"`
	// MessagesPerSecond is Messages over LastMessage-FirstMessage; 0 until
	// that span is positive.
	MessagesPerSecond float64 `json:"messages_per_second"`
}

// nShards spreads the per-peer and per-domain maps so that concurrent
// connections rarely share a mutex. A connection sticks to one shard.
const nShards = 16

// counters is the Sink's live state. Totals are atomics; the maps are
// sharded. Reset is not atomic with respect to messages in flight: a message
// accepted during a Reset may land on either side of it.
type counters struct {
	messages, recipients, bytes atomic.Int64
	connections, active         atomic.Int64
	first, last                 atomic.Int64 // UnixNano; 0 = none yet

	shards [nShards]shard
}

type shard struct {
	mu       sync.Mutex
	byPeer   map[string]int64
	byDomain map[string]int64
	_        [64]byte // keep neighbouring shards' mutexes off one cache line
}

func (c *counters) init() {
	for i := range c.shards {
		c.shards[i].byPeer = make(map[string]int64)
		c.shards[i].byDomain = make(map[string]int64)
	}
}

func (c *counters) shard(seq int64) *shard { return &c.shards[uint64(seq)%nShards] }

// record counts one accepted message of size bytes from peer to the given
// recipient domains. It is the whole per-message cost of the sink.
func (c *counters) record(sh *shard, peer string, domains []string, size int64) {
	c.messages.Add(1)
	c.recipients.Add(int64(len(domains)))
	c.bytes.Add(size)

	now := time.Now().UnixNano()
	c.first.CompareAndSwap(0, now)
	for {
		last := c.last.Load()
		if now <= last || c.last.CompareAndSwap(last, now) {
			break
		}
	}

	sh.mu.Lock()
	sh.byPeer[peer]++
	for _, d := range domains {
		sh.byDomain[d]++
	}
	sh.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (s *Sink) Stats() Stats {
	c := &s.stats
	st := Stats{
		Messages:          c.messages.Load(),
		Recipients:        c.recipients.Load(),
		Bytes:             c.bytes.Load(),
		Connections:       c.connections.Load(),
		ActiveConnections: c.active.Load(),
		ByPeerIP:          make(map[string]int64),
		ByDomain:          make(map[string]int64),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, v := range sh.byPeer {
			st.ByPeerIP[k] += v
		}
		for k, v := range sh.byDomain {
			st.ByDomain[k] += v
		}
		sh.mu.Unlock()
	}
	if first := c.first.Load(); first != 0 {
		st.FirstMessage = time.Unix(0, first)
		st.LastMessage = time.Unix(0, c.last.Load())
		if span := st.LastMessage.Sub(st.FirstMessage).Seconds(); span > 0 {
			st.MessagesPerSecond = float64(st.Messages) / span
		}
	}
	return st
}

// Reset zeroes every counter except ActiveConnections.
func (s *Sink) Reset() {
	c := &s.stats
	c.messages.Store(0)
	c.recipients.Store(0)
	c.bytes.Store(0)
	c.connections.Store(0)
	c.first.Store(0)
	c.last.Store(0)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.byPeer)
		clear(sh.byDomain)
		sh.mu.Unlock()
	}
}
