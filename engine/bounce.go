package engine

import (
	"bytes"
	"context"
	"time"

	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/engine/spool"
)

// bounce is one recipient that failed for good, with the reply that said so.
type bounce struct {
	r     spool.Recipient
	reply client.Reply
}

// sendDSN queues a delivery status notification (action failed or
// delayed) for recipients of one message to its envelope sender, with the
// null sender, unless the sender is null itself (a bounce of a bounce is
// dropped and logged) or NOTIFY says no (the default is FAILURE only).
func (e *Engine) sendDSN(env *spool.Envelope, action string, bounced []bounce, host string, now time.Time) {
	if env.From == "" {
		if action == dsn.ActionDelayed {
			return
		}
		e.log.Info("bounce of a message with the null sender dropped (no DSN loops)",
			"id", bounced[0].r.MsgID, "rcpts", len(bounced), "reply", bounced[0].reply.String())
		return
	}
	var rcpts []dsn.Recipient
	for _, b := range bounced {
		notify, orcpt := env.RecipientDSN(int(b.r.Idx))
		if !dsn.ShouldNotify(notify, action, env.From) {
			continue
		}
		rc := dsn.Recipient{
			Original: orcpt, Final: b.r.Address, Action: action,
			Status: statusOf(b.reply), LastAttempt: now,
		}
		if action == dsn.ActionDelayed {
			rc.WillRetryUntil = b.r.ExpiresAt
		}
		if !b.reply.Local {
			rc.RemoteMTA = host
			rc.Diagnostic = b.reply.String()
		} else {
			rc.Diagnostic = b.reply.String()
		}
		rcpts = append(rcpts, rc)
	}
	if len(rcpts) == 0 {
		return
	}
	body, err := e.spool.Body(bounced[0].r.MsgID)
	if err != nil {
		e.log.Error("DSN: load original", "id", bounced[0].r.MsgID, "err", err)
		return
	}
	rep := &dsn.Report{
		ReportingMTA: e.hostname, EnvelopeID: env.EnvID, ArrivalDate: env.ReceivedAt,
		From: "MAILER-DAEMON@" + e.hostname, To: env.From, Recipients: rcpts, Now: now,
	}
	if env.DSNRet == "FULL" {
		rep.OriginalMessage = body
	} else {
		rep.OriginalHeaders = headerBlock(body)
	}
	msg, err := dsn.Build(rep)
	if err != nil {
		e.log.Error("DSN: build", "id", bounced[0].r.MsgID, "err", err)
		return
	}
	id, err := e.Submit(context.Background(), Envelope{To: []string{env.From}, Source: "dsn " + bounced[0].r.MsgID}, msg)
	if err != nil {
		e.log.Error("DSN: queue", "id", bounced[0].r.MsgID, "to", env.From, "err", err)
		return
	}
	e.log.Info("DSN queued", "id", id, "for", bounced[0].r.MsgID, "to", env.From, "rcpts", len(rcpts))
}

// headerBlock returns the header section of a message (through the blank
// line's CRLF, exclusive).
func headerBlock(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	return msg
}
