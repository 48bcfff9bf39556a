package sink

import (
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestBucketOf_MidpointWithinThreePercent(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 100, 999, 1000, 12345, 1 << 20, 987654321, 1 << 34} {
		i := bucketOf(us)
		if i < prev {
			t.Errorf("bucketOf(%d) = %d, below bucketOf of a smaller value (%d)", us, i, prev)
		}
		prev = i
		mid := bucketMid(i)
		if us >= subBuckets && math.Abs(mid-float64(us))/float64(us) > 0.035 {
			t.Errorf("bucketOf(%d) = %d, midpoint %.1f: off by more than 3.5%%", us, i, mid)
		}
		if us < subBuckets && mid != float64(us) {
			t.Errorf("bucketOf(%d): midpoint %.1f, want exact", us, mid)
		}
	}
	if i := bucketOf(math.MaxUint64); i != nBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want the last bucket %d", i, nBuckets-1)
	}
}

func TestQuantiles_NearestRank(t *testing.T) {
	var h histogram
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	h.add(-time.Second) // a clock step backwards counts as 0
	var c [nBuckets]int64
	h.snapshot(&c)
	q, n := quantiles(&c, 0.5, 0.9, 0.99)
	if n != 101 {
		t.Fatalf("samples %d, want 101", n)
	}
	for k, want := range []float64{50, 90, 99} {
		if math.Abs(q[k]-want)/want > 0.035 {
			t.Errorf("quantile %d = %.2f ms, want about %.0f", k, q[k], want)
		}
	}
	var empty [nBuckets]int64
	if q, n := quantiles(&empty, 0.5); n != 0 || q[0] != 0 {
		t.Errorf("no samples: %v %d, want 0 0", q, n)
	}
}

func TestFindStamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"X-Sluice-Bench-Sent: 123\r\n\r\n", 123},
		{"Received: from x\r\n\tby y\r\nX-Sluice-Bench-Sent:456\r\nTo: a\r\n", 456},
		{"X-Sluice-Bench-Sent: 12x\r\n", 0},
		{"X-Sluice-Bench-Sent: \r\n", 0},
		{"X-Other: 1\r\nSubject: X-Sluice-Bench-Sent: 9\r\n", 0},
		{"X-Sluice-Bench-Sent: 99999999999999999999999\r\n", 0},
		{"", 0},
	} {
		if got := findStamp([]byte(tc.in)); got != tc.want {
			t.Errorf("findStamp(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestDrain_StampOnlyFromHeaderBlock(t *testing.T) {
	body := strings.Repeat("line of body text\r\n", 1000)
	for _, tc := range []struct {
		name, msg string
		want      int64
	}{
		{"in header", "A: b\r\nX-Sluice-Bench-Sent: 77\r\n\r\n" + body, 77},
		{"in body", "A: b\r\n\r\nX-Sluice-Bench-Sent: 77\r\n" + body, 0},
		{"no body", "X-Sluice-Bench-Sent: 5\r\n", 5},
		{"header block past the buffer", strings.Repeat("A: b\r\n", 2000) + "X-Sluice-Bench-Sent: 5\r\n\r\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, HeaderScanBytes)
			// One byte per Read: the end of the header block straddles reads.
			n, stamp, err := drain(iotest.OneByteReader(strings.NewReader(tc.msg)), buf)
			if err != nil || n != int64(len(tc.msg)) || stamp != tc.want {
				t.Errorf("drain = %d, %d, %v; want %d, %d, nil", n, stamp, err, len(tc.msg), tc.want)
			}
		})
	}
	if _, _, err := drain(iotest.ErrReader(io.ErrUnexpectedEOF), make([]byte, 16)); err != io.ErrUnexpectedEOF {
		t.Errorf("drain of a failing reader: %v", err)
	}
}

func TestSink_StampedMessages_LatencyAndArrivals(t *testing.T) {
	s, addr := testSink(t, Config{})
	sent := time.Now().Add(-250 * time.Millisecond)
	for i := range 4 {
		body := fmt.Sprintf("Subject: x\r\n%s: %d\r\n\r\nhello\r\n", StampField, sent.UnixNano())
		if err := send(t, addr, []string{fmt.Sprintf("u%d@a.test", i), "v@b.test"}, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(t, addr, []string{"w@a.test"}, "Subject: unstamped\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.LatencySamples != 4 {
		t.Errorf("latency samples %d, want 4", st.LatencySamples)
	}
	if st.LatencyP50Ms < 240 || st.LatencyP99Ms > 10_000 || st.LatencyP90Ms < st.LatencyP50Ms {
		t.Errorf("latency p50 %.1f p90 %.1f p99 %.1f ms, want about 250 and up",
			st.LatencyP50Ms, st.LatencyP90Ms, st.LatencyP99Ms)
	}
	var total int64
	for _, n := range st.Arrivals {
		total += n
	}
	if total != 9 || len(st.Arrivals) == 0 || len(st.Arrivals) > 3 {
		t.Errorf("arrivals %v, want 9 recipients in the first seconds", st.Arrivals)
	}

	s.Reset()
	if st := s.Stats(); st.LatencySamples != 0 || len(st.Arrivals) != 0 || st.LatencyP99Ms != 0 {
		t.Errorf("after Reset: samples %d arrivals %v p99 %.1f", st.LatencySamples, st.Arrivals, st.LatencyP99Ms)
	}
}
