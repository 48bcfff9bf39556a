package deliver

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluice-mta/sluice/engine/deliver/client"
)

// Debug logs of outbound delivery: one line per connection (when it ends) and
// one per transaction. Both are skipped without building their attributes
// unless debug is enabled: they sit on the delivery hot path. Neither carries
// message content; recipients appear only as a count (the engine logs each
// recipient's outcome at info).

// endConn closes c, with QUIT unless it already failed, and logs it.
func (s *site) endConn(c *client.Conn, host string, sent int, opened time.Time, reason string) {
	if c.Err() != nil {
		_ = c.Close()
	} else {
		_ = c.Quit()
	}
	ctx := context.Background()
	if !s.pool.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.pool.log.LogAttrs(ctx, slog.LevelDebug, "smtp connection",
		slog.String("vmta", s.key.vmta), slog.String("site", s.key.site), slog.String("host", host),
		slog.String("ip", remoteIP(c)), slog.Bool("tls", c.TLS()), slog.Int("transactions", sent),
		slog.Duration("duration", time.Since(opened)), slog.String("end", reason))
}

// endReason says why a connection taken off a job's path ends.
func endReason(c *client.Conn) string {
	if c.Err() != nil {
		return "error"
	}
	return "max_msg_per_connection"
}

// logTransaction logs one transaction: its size, how many recipients the
// receiver took, and the first reply that was not positive.
func (s *site) logTransaction(job *Job, res *Result, start time.Time) {
	ctx := context.Background()
	if !s.pool.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	accepted := 0
	var firstBad string
	for _, r := range res.Replies {
		if r.Positive() {
			accepted++
		} else if firstBad == "" {
			firstBad = r.String()
		}
	}
	attrs := []slog.Attr{slog.String("vmta", job.VMTA), slog.String("site", job.Plan.Site), slog.String("host", res.Host),
		slog.String("ip", res.IP), slog.Int("rcpts", len(job.Tx.To)), slog.Int("accepted", accepted),
		slog.Int64("bytes", job.Tx.Size), slog.Duration("duration", time.Since(start))}
	if firstBad != "" {
		attrs = append(attrs, slog.String("reply", firstBad))
	}
	if res.Err != nil {
		attrs = append(attrs, slog.String("err", res.Err.Error()))
	}
	s.pool.log.LogAttrs(ctx, slog.LevelDebug, "smtp transaction", attrs...)
}
