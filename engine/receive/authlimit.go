package receive

import (
	"net/netip"
	"sync"
	"time"
)

// maxAuthLimitEntries bounds the memory of authLimiter: a password-guessing
// botnet of many addresses cannot grow the table past it. An address that
// finds the table full is not tracked, and only the per-connection limit
// (MaxAuthFailures) holds it back.
const maxAuthLimitEntries = 1 << 16

// authLimiter counts failed AUTH attempts per client address over a fixed
// window that starts at the address's first failure (Postfix's anvil and
// smtpd_client_auth_rate_limit do the same job). It is shared by all
// connections of a Server.
type authLimiter struct {
	limit  int
	window time.Duration

	mu struct {
		sync.Mutex
		byIP      map[netip.Addr]authFailures
		lastSweep time.Time
	}
}

// authFailures is one address's count in its current window.
type authFailures struct {
	n     int
	since time.Time
}

func newAuthLimiter(limit int, window time.Duration) *authLimiter {
	l := &authLimiter{limit: limit, window: window}
	l.mu.byIP = make(map[netip.Addr]authFailures)
	return l
}

// blocked reports whether ip has used up its failures for the current window.
func (l *authLimiter) blocked(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.mu.byIP[ip]
	if !ok {
		return false
	}
	if now.Sub(f.since) >= l.window {
		delete(l.mu.byIP, ip)
		return false
	}
	return f.n >= l.limit
}

// fail counts one failure for ip and reports whether ip is now blocked.
func (l *authLimiter) fail(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.mu.byIP[ip]
	if !ok || now.Sub(f.since) >= l.window {
		if !ok && len(l.mu.byIP) >= maxAuthLimitEntries && !l.sweepLocked(now) {
			return false
		}
		f = authFailures{since: now}
	}
	f.n++
	l.mu.byIP[ip] = f
	return f.n >= l.limit
}

// sweepLocked drops expired entries, at most once per window, and reports
// whether there is room for a new one.
func (l *authLimiter) sweepLocked(now time.Time) bool {
	if now.Sub(l.mu.lastSweep) >= l.window {
		l.mu.lastSweep = now
		for ip, f := range l.mu.byIP {
			if now.Sub(f.since) >= l.window {
				delete(l.mu.byIP, ip)
			}
		}
	}
	return len(l.mu.byIP) < maxAuthLimitEntries
}
