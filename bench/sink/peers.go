package sink

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// PeerStats is what one client IP did, in Stats.Peers.
type PeerStats struct {
	// Connections is the number of connections accepted from the IP,
	// Refused those answered 421 for Limits.MaxConnectionsPerIP.
	Connections int64 `json:"connections"`
	Refused     int64 `json:"refused"`
	// Active is the number open now, PeakActive the most open at once.
	Active     int64 `json:"active"`
	PeakActive int64 `json:"peak_active"`
}

// peerTable counts connections per client IP. It is touched once when a
// connection opens and once when it closes, never per command.
type peerTable struct {
	mu sync.Mutex
	m  map[string]*PeerStats
}

func (t *peerTable) init() { t.m = make(map[string]*PeerStats) }

// open counts a new connection from peer and reports true, or counts a
// refusal and reports false if peer already has maxActive open (0: no cap).
func (t *peerTable) open(peer string, maxActive int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[peer]
	if p == nil {
		p = new(PeerStats)
		t.m[peer] = p
	}
	if maxActive > 0 && p.Active >= int64(maxActive) {
		p.Refused++
		return false
	}
	p.Connections++
	p.Active++
	p.PeakActive = max(p.PeakActive, p.Active)
	return true
}

func (t *peerTable) close(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.m[peer]; p != nil {
		p.Active--
	}
}

func (t *peerTable) snapshot() map[string]PeerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]PeerStats, len(t.m))
	for k, p := range t.m {
		out[k] = *p
	}
	return out
}

// reset zeroes the counts but keeps what is open.
func (t *peerTable) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, p := range t.m {
		if p.Active == 0 {
			delete(t.m, k)
			continue
		}
		*p = PeerStats{Active: p.Active, PeakActive: p.Active}
	}
}

// peerOf returns the client IP of nc as a string, or its remote address.
func peerOf(nc net.Conn) string {
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap().String()
	}
	return nc.RemoteAddr().String()
}

// pause waits d, cut short by Close; it reports false if Close cut it.
func (s *Sink) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}
