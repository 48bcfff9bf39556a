package sink

import (
	"strconv"
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
	// PeakConnections is the most connections open at once; Reset sets it
	// to ActiveConnections.
	PeakConnections int64 `json:"peak_connections"`
	// RefusedConnections is the number of connections answered 421 for
	// the profile's Limits.MaxConnectionsPerIP (not in Connections).
	RefusedConnections int64 `json:"refused_connections"`
	// Peers is per client IP: connections, refusals, open now and at peak.
	Peers map[string]PeerStats `json:"peers"`
	// ByGroup counts the RCPT replies to each profile group's recipients
	// by reply code; empty without a profile.
	ByGroup map[string]map[string]int64 `json:"by_group,omitempty"`
	// Transactions is the number of MAIL FROM commands accepted.
	Transactions int64 `json:"transactions"`
	// PipelinedTransactions is the number of transactions whose MAIL, RCPTs
	// and DATA commands the sink got in one read from the socket: a client
	// that pipelines (RFC 2920) over a fast link scores one per message.
	PipelinedTransactions int64 `json:"pipelined_transactions"`
	// ByCode counts the sink's replies to RCPT and to the end of DATA by
	// reply code ("250", "451", "421", "550", "552", ...), and the 421s of a
	// profile's caps (at MAIL, and as the greeting of a refused
	// connection). Replies go-smtp makes itself (syntax errors, commands
	// out of order) are not counted.
	ByCode map[string]int64 `json:"by_code"`
	// Duplicates is the number of distinct recipient addresses (domain
	// lowercased) in more than one accepted message; always 0 unless
	// Config.TrackDuplicates.
	Duplicates int64 `json:"duplicates"`
	// ByPeerIP counts accepted messages per client IP address.
	ByPeerIP map[string]int64 `json:"by_peer_ip"`
	// ByDomain counts recipients of accepted messages per RCPT domain,
	// lowercased.
	ByDomain map[string]int64 `json:"by_domain"`
	// ByPeerDomain counts recipients of accepted messages per client IP
	// and RCPT domain, keyed "ip domain" (warm-up caps are per source IP
	// and receiver).
	ByPeerDomain map[string]int64 `json:"by_peer_domain"`
	// FirstMessage and LastMessage are when the first and the latest message
	// were accepted; zero before any.
	FirstMessage time.Time `json:"first_message,omitzero"`
	LastMessage  time.Time `json:"last_message,omitzero"`
	// MessagesPerSecond is Messages over LastMessage-FirstMessage; 0 until
	// that span is positive.
	MessagesPerSecond float64 `json:"messages_per_second"`
	// LatencySamples is the number of accepted messages that carried
	// StampField in their header block.
	LatencySamples int64 `json:"latency_samples"`
	// LatencyP50Ms, LatencyP90Ms and LatencyP99Ms are quantiles of the time
	// from StampField (when the injector sent the message) to its
	// acceptance here, in milliseconds, within about 3%; 0 without samples.
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP90Ms float64 `json:"latency_p90_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// Arrivals is the number of recipients of accepted messages in each
	// second since FirstMessage (Arrivals[0] is the first second), up to
	// the latest second with any; at most MaxArrivalSeconds long.
	Arrivals []int64 `json:"arrivals"`
}

// Reply codes are counted in an array indexed by code-minCode.
const (
	minCode = 200
	maxCode = 599
)

// nShards spreads the per-peer and per-domain maps so that concurrent
// connections rarely share a mutex. A connection sticks to one shard.
const nShards = 16

// counters is the Sink's live state. Totals are atomics; the maps are
// sharded. Reset is not atomic with respect to messages in flight: a message
// accepted during a Reset may land on either side of it.
type counters struct {
	messages, recipients, bytes atomic.Int64
	connections, active, peak   atomic.Int64
	first, last                 atomic.Int64 // UnixNano; 0 = none yet
	arrivals                    arrivals

	shards [nShards]shard
}

type shard struct {
	mu       sync.Mutex
	byPeer   map[string]int64
	byDomain map[string]int64
	byPeerD  map[string]int64

	transactions, pipelined atomic.Int64
	codes                   [maxCode - minCode + 1]atomic.Int64
	latency                 histogram

	_ [64]byte // keep neighbouring shards' mutexes off one cache line
}

// openConn counts a connection as open and raises the peak.
func (c *counters) openConn() {
	n := c.active.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// count counts one reply with code; codes outside 200-599 are not counted.
func (sh *shard) count(code int) {
	if code >= minCode && code <= maxCode {
		sh.codes[code-minCode].Add(1)
	}
}

func (c *counters) init() {
	for i := range c.shards {
		c.shards[i].byPeer = make(map[string]int64)
		c.shards[i].byDomain = make(map[string]int64)
		c.shards[i].byPeerD = make(map[string]int64)
	}
}

func (c *counters) shard(seq int64) *shard { return &c.shards[uint64(seq)%nShards] }

// record counts one accepted message of size bytes from peer to the given
// recipient domains, stamped as sent at stamp (Unix nanoseconds; 0: not
// stamped). It is the whole per-message cost of the sink.
func (c *counters) record(sh *shard, peer string, domains []string, size, stamp int64) {
	c.messages.Add(1)
	c.recipients.Add(int64(len(domains)))
	c.bytes.Add(size)

	now := time.Now().UnixNano()
	if stamp > 0 {
		sh.latency.add(time.Duration(now - stamp))
	}
	c.first.CompareAndSwap(0, now)
	c.arrivals.add(c.first.Load(), now, len(domains))
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
		sh.byPeerD[peer+" "+d]++
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
		PeakConnections:   c.peak.Load(),
		Peers:             s.peers.snapshot(),
		ByPeerIP:          make(map[string]int64),
		ByDomain:          make(map[string]int64),
		ByPeerDomain:      make(map[string]int64),
		ByCode:            make(map[string]int64),
		Duplicates:        s.dups.n.Load(),
	}
	var lat [nBuckets]int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.latency.snapshot(&lat)
		st.Transactions += sh.transactions.Load()
		st.PipelinedTransactions += sh.pipelined.Load()
		for j := range sh.codes {
			if n := sh.codes[j].Load(); n != 0 {
				st.ByCode[strconv.Itoa(j+minCode)] += n
			}
		}
		sh.mu.Lock()
		for k, v := range sh.byPeer {
			st.ByPeerIP[k] += v
		}
		for k, v := range sh.byPeerD {
			st.ByPeerDomain[k] += v
		}
		for k, v := range sh.byDomain {
			st.ByDomain[k] += v
		}
		sh.mu.Unlock()
	}
	q, n := quantiles(&lat, 0.50, 0.90, 0.99)
	st.LatencySamples = n
	st.LatencyP50Ms, st.LatencyP90Ms, st.LatencyP99Ms = q[0], q[1], q[2]
	st.Arrivals = c.arrivals.snapshot()
	for _, p := range st.Peers {
		st.RefusedConnections += p.Refused
	}
	if s.prof != nil {
		st.ByGroup = make(map[string]map[string]int64, len(s.prof.groups))
		for _, g := range s.prof.groups {
			m := make(map[string]int64)
			for j := range g.codes {
				if n := g.codes[j].Load(); n != 0 {
					m[strconv.Itoa(j+minCode)] = n
				}
			}
			st.ByGroup[g.Name] = m
		}
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

// Reset zeroes every counter except ActiveConnections (and the open
// connections per peer), and forgets the
// delivered addresses kept for Duplicates.
func (s *Sink) Reset() {
	c := &s.stats
	c.messages.Store(0)
	c.recipients.Store(0)
	c.bytes.Store(0)
	c.connections.Store(0)
	c.peak.Store(c.active.Load())
	s.peers.reset()
	if s.prof != nil {
		for _, g := range s.prof.groups {
			for j := range g.codes {
				g.codes[j].Store(0)
			}
		}
	}
	c.first.Store(0)
	c.last.Store(0)
	c.arrivals.reset()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.transactions.Store(0)
		sh.pipelined.Store(0)
		for j := range sh.codes {
			sh.codes[j].Store(0)
		}
		sh.latency.reset()
		sh.mu.Lock()
		clear(sh.byPeer)
		clear(sh.byDomain)
		clear(sh.byPeerD)
		sh.mu.Unlock()
	}
	s.dups.reset()
}
