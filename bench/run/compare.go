package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/sluice-mta/sluice/bench/peers"
	"github.com/sluice-mta/sluice/bench/scenarios"
)

// DefaultSMTPSource is where Debian's postfix package puts smtp-source.
const DefaultSMTPSource = "/usr/sbin/smtp-source"

// Comparison is a scenario's run beside its peers, all measured in one
// invocation, each delivering into a fresh sink that counts:
//
//	loopback limit  smtp-source -> sink                (no queue, no fsync)
//	postfix         smtp-source -> Postfix relay -> sink (durable)
//	sluice          smtp-source -> sluice serve  -> sink (durable)
//	sluice          sluice inject -> sluice serve -> sink: the scenario as
//	                written (its domains, per-connection count, latency)
//
// The three smtp-source rows send the same messages over the same sessions
// (smtp-source puts every recipient in one domain, so both relays see one
// destination); Ratios compares them.
type Comparison struct {
	Scenario string `json:"scenario"`
	// Messages, SizeBytes, RcptsPerMsg and Sessions describe the load every
	// row was offered.
	Messages    int `json:"messages"`
	SizeBytes   int `json:"size_bytes"`
	RcptsPerMsg int `json:"rcpts_per_msg"`
	Sessions    int `json:"sessions"`
	// Limits are the delivery limits both relays got.
	Limits DeliveryLimits `json:"delivery_limits"`

	// Limit is smtp-source straight into a sink.
	Limit Row `json:"loopback_limit"`
	// Postfix is smtp-source into a private Postfix relay; nil when not
	// asked for.
	Postfix *Row `json:"postfix,omitempty"`
	// SluiceSource is smtp-source into `sluice serve`.
	SluiceSource Row `json:"sluice_smtp_source"`
	// Sluice is the scenario run as `bench run` does, with Sluice's injector.
	Sluice *Report `json:"sluice"`

	// Ratios are SluiceSource's delivered rate over the others';
	// OwnInjector the same for Sluice.
	Ratios      Ratios `json:"ratios"`
	OwnInjector Ratios `json:"own_injector_ratios"`

	// LoadStart and LoadEnd are the machine's 1-minute load average before
	// and after: rates measured on a busy machine say less than CPU time.
	LoadStart float64 `json:"load_avg_start"`
	LoadEnd   float64 `json:"load_avg_end"`
}

// DeliveryLimits are the limits a relay honours toward one destination.
type DeliveryLimits struct {
	// Connections is the most parallel connections (Sluice:
	// delivery.max_smtp_out; Postfix: smtp_destination_concurrency_limit).
	Connections int `json:"connections"`
	// MsgsPerConn is the most transactions on one connection.
	MsgsPerConn int `json:"msgs_per_conn"`
	// RcptsPerMsg is the most recipients in one transaction.
	RcptsPerMsg int `json:"rcpts_per_msg"`
}

// Ratios compare one delivered rate with the others. 0 when the other was
// not measured.
type Ratios struct {
	// OverPostfix is Sluice's delivered msgs/s over Postfix's.
	OverPostfix float64 `json:"over_postfix"`
	// OverLimit is over the loopback limit's; OverHalfLimit over half of
	// it (a relay both receives and sends, so half the loopback limit is
	// its ceiling on one machine).
	OverLimit     float64 `json:"over_limit"`
	OverHalfLimit float64 `json:"over_half_limit"`
	// CPUOverPostfix is Sluice's CPU time per message over Postfix's (all
	// its processes): under 1, Sluice spends less. Less sensitive to other
	// load on the machine than the rates.
	CPUOverPostfix float64 `json:"cpu_over_postfix"`
}

// newRatios returns the ratios of rate (msgs/s) and cpu (s per 1,000
// msgs) to postfix's and limit's rates; 0 for what was not measured.
func newRatios(rate, cpu float64, postfix *Row, limit float64) Ratios {
	var r Ratios
	if postfix != nil && postfix.DeliveredPerS > 0 {
		r.OverPostfix = rate / postfix.DeliveredPerS
	}
	if postfix != nil && postfix.CPUSPer1k > 0 {
		r.CPUOverPostfix = cpu / postfix.CPUSPer1k
	}
	if limit > 0 {
		r.OverLimit = rate / limit
		r.OverHalfLimit = rate / (limit / 2)
	}
	return r
}

// CompareOptions say what Compare runs beside Sluice.
type CompareOptions struct {
	// SMTPSource is Postfix's smtp-source binary. Default
	// DefaultSMTPSource.
	SMTPSource string
	// Postfix adds the Postfix relay row (needs Postfix and root).
	Postfix bool
}

// Correct reports whether every row delivered everything exactly once.
func (c *Comparison) Correct() bool {
	ok := c.Limit.Complete && c.SluiceSource.Complete && c.Sluice != nil && c.Sluice.Correct
	if c.Postfix != nil {
		ok = ok && c.Postfix.Complete
	}
	return ok
}

// Compare measures the loopback limit, Postfix (with co.Postfix), Sluice
// fed by smtp-source, then runs sc as Run does, in that order.
func Compare(ctx context.Context, sc scenarios.Scenario, opts Options, co CompareOptions) (*Comparison, error) {
	sc.SetDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opts.Target != "" {
		return nil, errors.New("run: compare starts its own servers: --target is not supported")
	}
	if co.SMTPSource == "" {
		co.SMTPSource = DefaultSMTPSource
	}
	if _, err := os.Stat(co.SMTPSource); err != nil {
		return nil, fmt.Errorf("run: smtp-source: %w (install Postfix: make bench-deps)", err)
	}
	if co.Postfix {
		if err := peers.Check(); err != nil {
			return nil, fmt.Errorf("%w; or compare without it (--postfix=false)", err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lim, err := deliveryLimits(sc.Engine)
	if err != nil {
		return nil, fmt.Errorf("run: scenario %s: %w", sc.Name, err)
	}
	sc.Engine = withLimits(sc.Engine, lim) // both relays get the same, explicitly
	size, _ := sc.SizeBytes()
	c := &Comparison{Scenario: sc.Name, Messages: sc.Count, SizeBytes: size, RcptsPerMsg: sc.Rcpts,
		Sessions: sc.Concurrency, Limits: lim}
	src := sourceRunner{sc: sc, source: co.SMTPSource, log: opts.Logger}
	c.LoadStart = loadAverage()

	opts.Logger.Info("compare: loopback limit")
	if c.Limit, err = src.limit(ctx); err != nil {
		return nil, err
	}
	if co.Postfix {
		opts.Logger.Info("compare: postfix")
		row, err := src.postfix(ctx, lim)
		if err != nil {
			return nil, err
		}
		c.Postfix = &row
	}
	opts.Logger.Info("compare: sluice fed by smtp-source")
	if c.SluiceSource, err = src.sluice(ctx, opts); err != nil {
		return nil, err
	}
	opts.Logger.Info("compare: sluice, the scenario as written")
	if c.Sluice, err = Run(ctx, sc, opts); err != nil {
		return nil, err
	}
	c.Ratios = newRatios(c.SluiceSource.DeliveredPerS, c.SluiceSource.CPUSPer1k, c.Postfix, c.Limit.DeliveredPerS)
	c.OwnInjector = newRatios(c.Sluice.DeliveredPerS, c.Sluice.CPUSPer1k, c.Postfix, c.Limit.DeliveredPerS)
	c.LoadEnd = loadAverage()
	return c, nil
}

// deliveryLimits reads the scenario's delivery overrides, or Sluice's
// defaults (configs/sluice.yaml) where it has none.
func deliveryLimits(engine map[string]any) (DeliveryLimits, error) {
	lim := DeliveryLimits{Connections: peers.DefaultConcurrency, MsgsPerConn: peers.DefaultMsgsPerConn,
		RcptsPerMsg: peers.DefaultRcptsPerMsg}
	d, _ := engine["delivery"].(map[string]any)
	for key, p := range map[string]*int{"max_smtp_out": &lim.Connections,
		"max_msg_per_connection": &lim.MsgsPerConn, "max_rcpt_per_msg": &lim.RcptsPerMsg} {
		v, ok := d[key]
		if !ok {
			continue
		}
		n, ok := v.(int)
		if !ok || n < 1 {
			return lim, fmt.Errorf("engine.delivery.%s must be a positive integer to compare, got %v", key, v)
		}
		*p = n
	}
	return lim, nil
}

// withLimits returns a copy of engine with lim as its delivery limits.
func withLimits(engine map[string]any, lim DeliveryLimits) map[string]any {
	out := map[string]any{}
	merge(out, engine)
	merge(out, map[string]any{"delivery": map[string]any{"max_smtp_out": lim.Connections,
		"max_msg_per_connection": lim.MsgsPerConn, "max_rcpt_per_msg": lim.RcptsPerMsg}})
	return out
}

// loadAverage returns the 1-minute load average, or 0 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
