package engine

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
)

// The suppression list: recipients never to mail again, global or scoped
// to a sender domain or a tenant. The index lives in memory (package
// feedback); every change is written to the spool (records suppress/…,
// synced) before it is answered, and the list is loaded at start.
//
// Submit checks every recipient against the global entries and those of
// the message's sender domain and tenant: feedback.suppression.on_submit
// says whether the message is refused or the recipient dropped (with an
// accounting row).

// SuppressionEntry is one suppressed recipient.
type SuppressionEntry = feedback.SuppressionEntry

// ErrSuppressed is returned (wrapped in ErrInvalidEnvelope) for mail to a
// suppressed recipient when on_submit is refuse, or when every recipient
// was dropped.
var ErrSuppressed = errors.New("recipient is on the suppression list")

const suppressRecordPrefix = "suppress/"

// suppressKeep is how long a suppression record lasts: for good.
const suppressKeep = 100 * 365 * 24 * time.Hour

// maxImportLine bounds one CSV import's rows.
const maxImportRows = 1_000_000

type suppressionList struct {
	mu sync.RWMutex
	l  *feedback.Suppression
}

func suppressKey(scope, addr string) string { return suppressRecordPrefix + scope + "\x00" + addr }

// loadSuppressions reads the list from the spool.
func (e *Engine) loadSuppressions() error {
	e.suppr.l = feedback.NewSuppression()
	recs, err := e.spool.ListRecords(suppressRecordPrefix)
	if err != nil {
		return fmt.Errorf("engine: suppression list: %w", err)
	}
	for k, v := range recs {
		var en SuppressionEntry
		if err := json.Unmarshal(v, &en); err != nil {
			e.log.Warn("suppression entry unreadable; skipped", "key", k, "err", err)
			continue
		}
		e.suppr.l.Add(en)
	}
	e.metrics.suppressed.Set(float64(e.suppr.l.Len()))
	return nil
}

// Suppress adds entries (replacing those already there for the same
// address and scope) durably, and returns how many it added.
func (e *Engine) Suppress(entries ...SuppressionEntry) (int, error) {
	now := e.clock()
	recs := make([]spool.Record, 0, len(entries))
	clean := make([]SuppressionEntry, 0, len(entries))
	for i, en := range entries {
		en.Address = feedback.NormalizeAddress(en.Address)
		en.Scope = strings.ToLower(strings.TrimSpace(en.Scope))
		if err := ValidateAddress(en.Address); err != nil {
			return 0, fmt.Errorf("%w: entry %d: address: %v", ErrInvalidEnvelope, i, err)
		}
		if en.At.IsZero() {
			en.At = now
		}
		v, _ := json.Marshal(en)
		recs = append(recs, spool.Record{Key: suppressKey(en.Scope, en.Address), Value: v, Expires: now.Add(suppressKeep)})
		clean = append(clean, en)
	}
	if err := e.spool.PutRecords(recs, true); err != nil {
		return 0, err
	}
	e.suppr.mu.Lock()
	defer e.suppr.mu.Unlock()
	n := 0
	for _, en := range clean {
		if had := e.suppr.l.Remove(en.Scope, en.Address); !had { // exact scope, not the global entry
			n++
		}
		e.suppr.l.Add(en)
	}
	e.metrics.suppressed.Set(float64(e.suppr.l.Len()))
	return n, nil
}

// Unsuppress lifts the entry for addr in exactly scope ("" the global one)
// and reports whether there was one.
func (e *Engine) Unsuppress(scope, addr string) (bool, error) {
	addr, scope = feedback.NormalizeAddress(addr), strings.ToLower(strings.TrimSpace(scope))
	e.suppr.mu.Lock()
	defer e.suppr.mu.Unlock()
	if _, ok := e.suppr.l.Lookup(scope, addr); !ok {
		return false, nil
	}
	if err := e.spool.DeleteRecord(suppressKey(scope, addr)); err != nil {
		return false, err
	}
	ok := e.suppr.l.Remove(scope, addr)
	e.metrics.suppressed.Set(float64(e.suppr.l.Len()))
	return ok, nil
}

// Suppressions lists the entries in scope ("*" for every scope), sorted by
// scope then address, from the one after `after` ("" from the start: an
// address, or with scope "*" the cursor SuppressionCursor of the last entry
// seen), at most limit (0: all).
func (e *Engine) Suppressions(scope, after string, limit int) []SuppressionEntry {
	e.suppr.mu.RLock()
	all := e.suppr.l.List()
	e.suppr.mu.RUnlock()
	var out []SuppressionEntry
	for _, en := range all {
		if scope != "*" && en.Scope != strings.ToLower(scope) {
			continue
		}
		if after != "" {
			cur := en.Address
			if scope == "*" {
				cur = SuppressionCursor(en)
			}
			if cur <= after {
				continue
			}
		}
		out = append(out, en)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

// SuppressionCursor is the paging cursor of en in a listing of every scope.
func SuppressionCursor(en SuppressionEntry) string { return en.Scope + "\x00" + en.Address }

// ImportSuppressions reads CSV rows "address[,scope[,reason]]" (a first
// row "address,..." is a header) and adds them in one durable batch; scope
// and reason fill the columns a row leaves empty. A bad row fails the whole
// import, naming its line; nothing is added then.
func (e *Engine) ImportSuppressions(r io.Reader, scope, reason, source string) (int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var entries []SuppressionEntry
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return 0, fmt.Errorf("%w: csv: %v", ErrInvalidEnvelope, err)
		}
		if row == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "address") {
			continue
		}
		if len(entries) == maxImportRows {
			return 0, fmt.Errorf("%w: csv: more than %d rows; split the file", ErrInvalidEnvelope, maxImportRows)
		}
		en := SuppressionEntry{Address: strings.TrimSpace(rec[0]), Scope: scope, Reason: reason, Source: source}
		if len(rec) > 1 && strings.TrimSpace(rec[1]) != "" {
			en.Scope = strings.TrimSpace(rec[1])
		}
		if len(rec) > 2 && strings.TrimSpace(rec[2]) != "" {
			en.Reason = strings.TrimSpace(rec[2])
		}
		if err := ValidateAddress(feedback.NormalizeAddress(en.Address)); err != nil {
			return 0, fmt.Errorf("%w: csv line %d: address %q: %v", ErrInvalidEnvelope, line, en.Address, err)
		}
		entries = append(entries, en)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	return e.Suppress(entries...)
}

// suppressedOf returns the entry suppressing rcpt for env, if any.
func (e *Engine) suppressedOf(env *Envelope, rcpt string) (SuppressionEntry, bool) {
	addr := feedback.NormalizeAddress(rcpt)
	if en, ok := e.suppr.l.Lookup(senderScope(env.From), addr); ok {
		return en, true
	}
	if env.Tenant != "" {
		return e.suppr.l.Lookup(strings.ToLower(env.Tenant), addr)
	}
	return SuppressionEntry{}, false
}

// senderScope is the suppression scope of a sender: its domain.
func senderScope(from string) string {
	if from == "" {
		return "\x00none" // the null sender has no domain scope
	}
	return domainOf(from)
}

// checkSuppressed applies the suppression list to env at submit: it
// refuses the message, or drops the suppressed recipients (logging each).
func (e *Engine) checkSuppressed(env *Envelope, now time.Time) error {
	e.suppr.mu.RLock()
	if e.suppr.l == nil || e.suppr.l.Len() == 0 {
		e.suppr.mu.RUnlock()
		return nil
	}
	var hits []int
	var first SuppressionEntry
	for i, rcpt := range env.To {
		if en, ok := e.suppressedOf(env, rcpt); ok {
			if len(hits) == 0 {
				first = en
			}
			hits = append(hits, i)
		}
	}
	e.suppr.mu.RUnlock()
	if len(hits) == 0 {
		return nil
	}
	e.metrics.suppressedRcpts.Add(float64(len(hits)))
	if e.suppressOnSubmit() == "refuse" {
		return fmt.Errorf("%w: recipient %d <%s>: %w", ErrInvalidEnvelope, hits[0], env.To[hits[0]], suppressedErr(first))
	}
	recs := make([]acct.Record, 0, len(hits))
	env.dropRecipients(func(i int, rcpt string) bool {
		if len(hits) == 0 || hits[0] != i {
			return false
		}
		hits = hits[1:]
		recs = append(recs, acct.Record{Type: acct.TypeBounced, TimeQueued: now, TimeLogged: now, From: env.From,
			Recipient: rcpt, DSNAction: "failed", DSNStatus: "5.7.1", DSNDiag: "x-sluice;recipient suppressed",
			Category: "suppressed", Campaign: env.Campaign})
		return true
	})
	if e.acct != nil {
		if err := e.acct.Write(recs...); err != nil {
			e.log.Warn("accounting write", "err", err)
		}
	}
	e.logOutcomes(recs)
	if len(env.To) == 0 {
		return fmt.Errorf("%w: every recipient: %w", ErrInvalidEnvelope, ErrSuppressed)
	}
	return nil
}

// suppressOnSubmit is feedback.suppression.on_submit in force.
func (e *Engine) suppressOnSubmit() string {
	if s := e.fbSet.Load(); s != nil && s.onSubmit != "" {
		return s.onSubmit
	}
	return "refuse"
}

// autoEntry is the entry that feedback (a hard bounce, a complaint) adds
// for rcpt of mail from from and tenant, in the configured scope.
func (e *Engine) autoEntry(rcpt, from, tenant, reason, source string) SuppressionEntry {
	en := SuppressionEntry{Address: rcpt, Reason: reason, Source: source}
	switch e.fbSet.Load().scope {
	case "sender_domain":
		if from != "" {
			en.Scope = senderScope(from)
		}
	case "tenant":
		en.Scope = strings.ToLower(tenant)
	}
	return en
}

// RefusesRecipient returns an error wrapping ErrSuppressed when Submit
// would refuse mail from from (and tenant) to rcpt because of the
// suppression list (on_submit: refuse); nil otherwise. Injectors that must
// be all-or-nothing ask before they store anything.
func (e *Engine) RefusesRecipient(from, tenant, rcpt string) error {
	if e.suppressOnSubmit() != "refuse" {
		return nil
	}
	e.suppr.mu.RLock()
	defer e.suppr.mu.RUnlock()
	if e.suppr.l == nil || e.suppr.l.Len() == 0 {
		return nil
	}
	en, ok := e.suppressedOf(&Envelope{From: from, Tenant: tenant}, rcpt)
	if !ok {
		return nil
	}
	return suppressedErr(en)
}

// suppressedErr says why en refuses mail: ErrSuppressed, the reason and
// the scope.
func suppressedErr(en SuppressionEntry) error {
	scope := "global"
	if en.Scope != "" {
		scope = en.Scope
	}
	return fmt.Errorf("%w (%s, %s)", ErrSuppressed, en.Reason, scope)
}
