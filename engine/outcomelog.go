package engine

import (
	"context"
	"log/slog"

	"github.com/sluice-mta/sluice/engine/acct"
)

// logOutcomes logs one line per recipient outcome at info: the accounting
// record's identifying fields and the reply, never message content. It
// builds nothing unless info is enabled (log.level warn turns it off on a
// busy node; the accounting files keep the same facts).
func (e *Engine) logOutcomes(recs []acct.Record) {
	ctx := context.Background()
	if len(recs) == 0 || !e.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	for i := range recs {
		r := &recs[i]
		attrs := []slog.Attr{slog.String("result", outcomeName(r.Type)), slog.String("id", r.MsgID),
			slog.String("rcpt", r.Recipient), slog.String("vmta", r.VMTA), slog.String("status", r.DSNStatus),
			slog.String("reply", r.DSNDiag)}
		if r.DestHost != "" {
			attrs = append(attrs, slog.String("host", r.DestHost))
		}
		if r.Category != "" {
			attrs = append(attrs, slog.String("category", r.Category))
		}
		if r.Attempt > 0 {
			attrs = append(attrs, slog.Int("attempt", r.Attempt))
		}
		if r.Campaign != "" {
			attrs = append(attrs, slog.String("campaign", r.Campaign))
		}
		e.log.LogAttrs(ctx, slog.LevelInfo, "recipient", attrs...)
	}
}

// outcomeName spells an accounting record type for the log.
func outcomeName(t string) string {
	switch t {
	case acct.TypeDelivered:
		return "delivered"
	case acct.TypeBounced:
		return "bounced"
	case acct.TypeTransient:
		return "deferred"
	case acct.TypeFeedback:
		return "complaint"
	}
	return t
}
