package spool

import (
	"math"
	"testing"
	"time"
)

func TestIDs_RoundTripAndSortByTime(t *testing.T) {
	tests := []struct {
		ms  uint64
		seq uint32
	}{{0, 0}, {1, 1}, {1740830400000, 12345}, {1<<48 - 1, math.MaxUint32}}
	prev := ""
	for _, tt := range tests {
		id := encodeID(tt.ms, tt.seq)
		ms, seq, ok := decodeID(id)
		if !ok || ms != tt.ms || seq != tt.seq {
			t.Errorf("decodeID(encodeID(%d, %d)) = %d, %d, %v", tt.ms, tt.seq, ms, seq, ok)
		}
		if id <= prev {
			t.Errorf("%s <= %s", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "short", "000000000000000U", "0000000000000000x"} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func TestIDGen_SameMillisecond_CountsUp_ClockBack_StaysOrdered(t *testing.T) {
	var g idGen
	now := time.UnixMilli(1740830400000)
	a, b := g.next(now), g.next(now)
	c := g.next(now.Add(-time.Minute))
	if !(a < b && b < c) {
		t.Fatalf("IDs not increasing: %s %s %s", a, b, c)
	}
}

func TestCodec_RoundTrips(t *testing.T) {
	env := storedEnvelope{Envelope: Envelope{From: "", VMTA: "v", Pool: "p", Campaign: "c", Tenant: "t", Source: "smtp 1.2.3.4",
		ReceivedAt: time.UnixMilli(1740830400123), ExpiresAt: time.UnixMilli(1741000000000)}, bodySize: 102400, nrcpt: 7}
	gotEnv, err := decodeEnvelope(encodeEnvelope(&env))
	if err != nil || gotEnv.From != env.From || gotEnv.Source != env.Source || !gotEnv.ReceivedAt.Equal(env.ReceivedAt) ||
		!gotEnv.ExpiresAt.Equal(env.ExpiresAt) || gotEnv.bodySize != env.bodySize || gotEnv.nrcpt != env.nrcpt {
		t.Errorf("envelope round trip: %+v, %v", gotEnv, err)
	}
	st := state{address: "A@b.example", attempts: 3, expiresMs: 5, lastAttempt: 4, lastReply: "451 4.7.1 slow down"}
	if got, err := decodeState(encodeState(&st)); err != nil || got != st {
		t.Errorf("state round trip: %+v, %v", got, err)
	}
	qk := queueKey("v/x", "d.example", 1740830400123, "0123456789ABCDEF", 9)
	p, err := parseQueueKey(qk)
	if err != nil || p != (parsedQueueKey{"v/x", "d.example", 1740830400123, "0123456789ABCDEF", 9}) {
		t.Errorf("queue key round trip: %+v, %v", p, err)
	}
	ref := rcptRef{nrcpt: 2, bodySize: 10, qkey: qk}
	if got, err := decodeRcptRef(encodeRcptRef(&ref)); err != nil || got.nrcpt != 2 || got.bodySize != 10 || string(got.qkey) != string(qk) {
		t.Errorf("rcpt ref round trip: %+v, %v", got, err)
	}
	if _, err := decodeState([]byte{99}); err == nil {
		t.Error("decodeState accepted an unknown version")
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want string }{{"q/", "q0"}, {"a\xff", "b"}, {"\xff\xff", ""}}
	for _, tt := range tests {
		if got := string(prefixEnd([]byte(tt.in))); got != tt.want {
			t.Errorf("prefixEnd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to every value and key decoder: errors are fine,
// panics are not.
func FuzzDecode(f *testing.F) {
	f.Add(encodeState(&state{address: "a@b", lastReply: "x"}))
	f.Add(encodeEnvelope(&storedEnvelope{nrcpt: 1}))
	f.Add(queueKey("v", "d", 1, "0123456789ABCDEF", 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeState(b)
		_, _ = decodeEnvelope(b)
		_, _ = decodeRcptRef(b)
		_, _ = parseQueueKey(b)
		_, _, _ = parseRcptKey(b)
		_, _, _ = decodeID(string(b))
	})
}
