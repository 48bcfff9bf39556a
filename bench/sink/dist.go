package sink

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Dist is a distribution of reply delays (Profile latencies). The zero
// value is no delay.
type Dist struct {
	kind distKind
	// fixed: a; uniform: [a, b); lognormal: mu a and sigma b of the delay's
	// natural log in seconds, with cap c.
	a, b, c float64
}

type distKind uint8

const (
	distNone distKind = iota
	distFixed
	distUniform
	distLogNormal
)

// z99 is the standard normal's 99th percentile: p99 = exp(mu + z99*sigma).
const z99 = 2.3263478740408408

// lognormalCap bounds a log-normal delay at this many times its p99, so a
// long tail cannot stall a run.
const lognormalCap = 10

// FixedDist is a delay of d every time.
func FixedDist(d time.Duration) Dist {
	if d <= 0 {
		return Dist{}
	}
	return Dist{kind: distFixed, a: d.Seconds()}
}

// UniformDist draws delays uniformly from [lo, hi].
func UniformDist(lo, hi time.Duration) (Dist, error) {
	if lo < 0 || hi < lo {
		return Dist{}, fmt.Errorf("uniform needs 0 <= min <= max, got min %s max %s", lo, hi)
	}
	return Dist{kind: distUniform, a: lo.Seconds(), b: hi.Seconds()}, nil
}

// LogNormalDist draws log-normal delays with median p50 and 99th percentile
// p99, cut at 10 × p99.
func LogNormalDist(p50, p99 time.Duration) (Dist, error) {
	if p50 <= 0 || p99 < p50 {
		return Dist{}, fmt.Errorf("lognormal needs 0 < p50 <= p99, got p50 %s p99 %s", p50, p99)
	}
	mu := math.Log(p50.Seconds())
	sigma := (math.Log(p99.Seconds()) - mu) / z99
	return Dist{kind: distLogNormal, a: mu, b: sigma, c: lognormalCap * p99.Seconds()}, nil
}

// IsZero reports whether d never delays.
func (d Dist) IsZero() bool { return d.kind == distNone }

// Sample draws one delay using rng.
func (d Dist) Sample(rng *rand.Rand) time.Duration {
	var s float64
	switch d.kind {
	case distNone:
		return 0
	case distFixed:
		s = d.a
	case distUniform:
		s = d.a + rng.Float64()*(d.b-d.a)
	case distLogNormal:
		s = min(math.Exp(d.a+d.b*rng.NormFloat64()), d.c)
	}
	return time.Duration(s * float64(time.Second))
}

// String describes d as a profile would write it.
func (d Dist) String() string {
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)).Round(time.Microsecond) }
	switch d.kind {
	case distFixed:
		return "fixed " + sec(d.a).String()
	case distUniform:
		return fmt.Sprintf("uniform %s..%s", sec(d.a), sec(d.b))
	case distLogNormal:
		return fmt.Sprintf("lognormal p50 %s p99 %s", sec(math.Exp(d.a)), sec(math.Exp(d.a+z99*d.b)))
	}
	return "none"
}
