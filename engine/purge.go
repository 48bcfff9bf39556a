package engine

import (
	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
)

// completePurged removes recipients purged without a DSN and records each
// as an outcome like any other: an accounting record (b, failed), an event
// (bounced) and a log line, so that the files and the stream say where every
// recipient went. With a DSN, Purge goes through failLocally and finish,
// which do the same and also notify the sender.
func (e *Engine) completePurged(k queue.Key, rs []spool.Recipient, reply client.Reply) error {
	now := e.clock()
	recs := make([]acct.Record, 0, len(rs))
	evs := make([]Event, 0, len(rs))
	for _, group := range byMessage(rs) {
		env, err := e.spool.Envelope(group[0].MsgID)
		if err != nil {
			e.log.Warn("purge: load envelope for accounting", "id", group[0].MsgID, "err", err)
			env = spool.Envelope{}
		}
		it := resultItem{key: k, env: &env, res: &deliver.Result{}}
		for _, r := range group {
			rec := e.acctRecord(it, r, reply, now)
			rec.Type, rec.DSNAction = acct.TypeBounced, "failed"
			recs = append(recs, rec)
			evs = append(evs, outcomeEvent(it, r, reply, EventBounced, rec.Category, now))
		}
	}
	// NB: as in finish, the events go just before the synced Complete that
	// covers them; subscribers are woken once it is done.
	e.appendEvents(evs)
	defer e.events.notify()
	if err := e.spool.Complete(rs); err != nil {
		return err
	}
	e.metrics.bounced.Add(float64(len(rs)))
	if e.acct != nil {
		if err := e.acct.Write(recs...); err != nil {
			e.log.Warn("accounting write", "err", err)
		}
	}
	e.logOutcomes(recs)
	return nil
}
