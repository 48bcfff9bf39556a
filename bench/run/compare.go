package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sluice-mta/sluice/bench/scenarios"
	"github.com/sluice-mta/sluice/bench/sink"
)

// DefaultSMTPSource is where Debian's postfix package puts smtp-source.
const DefaultSMTPSource = "/usr/sbin/smtp-source"

// Comparison is a scenario's run next to the loopback limit measured in the
// same invocation.
type Comparison struct {
	Sluice *Report `json:"sluice"`
	// Limit is smtp-source straight into a sink: no queue, no fsync.
	Limit Limit `json:"loopback_limit"`
	// ShareOfLimit is Sluice's delivered msgs/s over Limit's msgs/s;
	// ShareOfHalfLimit over half of it (an MTA both receives and sends, so
	// half the loopback limit is its ceiling on one machine).
	ShareOfLimit     float64 `json:"share_of_limit"`
	ShareOfHalfLimit float64 `json:"share_of_half_limit"`
}

// Limit is one smtp-source run into the sink.
type Limit struct {
	Command      string  `json:"command"`
	Messages     int64   `json:"messages"`
	Seconds      float64 `json:"seconds"`
	MessagesPerS float64 `json:"msgs_per_s"`
	SinkPerS     float64 `json:"sink_msgs_per_s"`
}

// Compare runs sc as Run does, then measures smtp-source (the binary at
// source) sending the same count, size, recipients and sessions straight
// into a fresh sink, with connection reuse.
func Compare(ctx context.Context, sc scenarios.Scenario, opts Options, source string) (*Comparison, error) {
	sc.SetDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(source); err != nil {
		return nil, fmt.Errorf("run: smtp-source: %w (install Postfix: make bench-deps)", err)
	}
	rep, err := Run(ctx, sc, opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim, err := loopbackLimit(ctx, sc, source, log)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Sluice: rep, Limit: lim}
	if lim.MessagesPerS > 0 {
		c.ShareOfLimit = rep.DeliveredPerS / lim.MessagesPerS
		c.ShareOfHalfLimit = 2 * c.ShareOfLimit
	}
	return c, nil
}

// sourceTimeout bounds one smtp-source run.
const sourceTimeout = 5 * time.Minute

// loopbackLimit runs smtp-source into a new sink and measures it.
func loopbackLimit(ctx context.Context, sc scenarios.Scenario, source string, log *slog.Logger) (Limit, error) {
	s := sink.New(sink.Config{Logger: log})
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Limit{}, fmt.Errorf("run: limit sink: %w", err)
	}
	go s.Serve(l)

	size, _ := sc.SizeBytes()
	args := []string{"-d", "-s", strconv.Itoa(sc.Concurrency), "-m", strconv.Itoa(sc.Count),
		"-l", strconv.Itoa(size), "-f", "bench@sluice.test", "-t", "user@d0.test"}
	if sc.Rcpts > 1 {
		args = append(args, "-r", strconv.Itoa(sc.Rcpts))
	}
	args = append(args, l.Addr().String())
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, source, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return Limit{}, fmt.Errorf("run: %s: %w: %s", cmd, err, out)
	}
	st := s.Stats()
	lim := Limit{Command: cmd.String(), Messages: st.Messages, Seconds: d.Seconds(),
		SinkPerS: st.MessagesPerSecond}
	if d > 0 {
		lim.MessagesPerS = float64(st.Messages) / d.Seconds()
	}
	return lim, nil
}

// WriteTable writes the Sluice report, the limit and the share.
func (c *Comparison) WriteTable(w io.Writer) error {
	if err := c.Sluice.WriteTable(w); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "loopback limit\t%.0f msgs/s (%d msgs in %.2f s: %s)\n",
		c.Limit.MessagesPerS, c.Limit.Messages, c.Limit.Seconds, c.Limit.Command)
	fmt.Fprintf(tw, "sluice share\t%.1f%% of the limit, %.1f%% of half the limit\n",
		100*c.ShareOfLimit, 100*c.ShareOfHalfLimit)
	return tw.Flush()
}

// WriteJSONFile writes the comparison as JSON to path.
func (c *Comparison) WriteJSONFile(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
