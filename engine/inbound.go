package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
	"github.com/sluice-mta/sluice/warmup"
)

// Inbound feedback: asynchronous bounces and feedback-loop complaints.
//
//	outbound: with feedback.verp set, each recipient is sent in its own
//	          transaction whose MAIL FROM is a signed VERP address naming its
//	          message and recipient; each delivery is remembered for
//	          track_for (record sent/<id>/<idx>: vmta, campaign, site, ...).
//	inbound:  mail to the VERP domain or an FBL address (accepted from any
//	          client on the SMTP listener, or posted to the API) is read, not
//	          queued:
//	            bounce    -> DecodeVERP(rcpt) -> the delivery remembered;
//	                         dsn.ParseAny(body) -> status, reply, category;
//	                         logged type b, event bounced, counted against
//	                         the vmta's warm-up health, suppressed when its
//	                         category says so
//	            complaint -> ParseARF(body) -> recipient (VERP, else the
//	                         report's); logged type f, event complaint,
//	                         suppressed, counted into the complaint rate
//	          a report that cannot be read is logged and kept for
//	          inspection (records feedback-bad/…, 7 days), never an error
//	          the sender sees.

// sentRecord is what is remembered of one delivery, to tie a later bounce
// or complaint to it.
type sentRecord struct {
	VMTA      string    `json:"vmta"`
	SourceIP  string    `json:"source_ip,omitempty"`
	Recipient string    `json:"rcpt"`
	From      string    `json:"from"`
	Campaign  string    `json:"campaign,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	MXSite    string    `json:"mx_site,omitempty"`
	Queued    time.Time `json:"queued"`
	Delivered time.Time `json:"delivered"`
}

const (
	sentRecordPrefix = "sent/"
	badRecordPrefix  = "feedback-bad/"
	// badKeep is how long an unreadable report is kept for inspection.
	badKeep = 7 * 24 * time.Hour
	// maxKeptReport bounds the bytes of one kept unreadable report.
	maxKeptReport = 256 << 10
)

// FeedbackKind says what an inbound message is.
type FeedbackKind string

// The kinds of inbound feedback.
const (
	FeedbackBounce    FeedbackKind = "bounce"
	FeedbackComplaint FeedbackKind = "complaint"
)

// feedbackRecipient reports whether rcpt is an inbound feedback address,
// and which kind.
func (e *Engine) feedbackRecipient(rcpt string) (FeedbackKind, bool) {
	s := e.fbSet.Load()
	if s == nil {
		return "", false
	}
	addr := strings.ToLower(rcpt)
	if s.verpDomain != "" && domainOf(addr) == s.verpDomain {
		return FeedbackBounce, true
	}
	for _, a := range s.fbl {
		if addr == a || (strings.HasPrefix(a, "@") && strings.HasSuffix(addr, a)) {
			return FeedbackComplaint, true
		}
	}
	return "", false
}

// IsFeedbackRecipient reports whether the SMTP listener takes mail for
// addr from any client (receive.Config.LocalRecipient).
func (e *Engine) IsFeedbackRecipient(addr string) bool {
	_, ok := e.feedbackRecipient(addr)
	return ok
}

// takeFeedback handles the feedback recipients of a submitted message and
// removes them from env; it returns how many it took.
func (e *Engine) takeFeedback(env *Envelope, body []byte) int {
	if s := e.fbSet.Load(); s == nil || (s.verpDomain == "" && len(s.fbl) == 0) {
		return 0
	}
	return env.dropRecipients(func(_ int, rcpt string) bool {
		kind, ok := e.feedbackRecipient(rcpt)
		if ok {
			if _, err := e.Feedback(kind, rcpt, body); err != nil {
				e.log.Warn("inbound feedback not understood; kept for inspection", "kind", kind, "rcpt", rcpt, "err", err)
			}
		}
		return ok
	})
}

// FeedbackResult is what an inbound report said.
type FeedbackResult struct {
	Kind      FeedbackKind `json:"kind"`
	Recipient string       `json:"recipient"`
	MsgID     string       `json:"msg_id,omitempty"`
	VMTA      string       `json:"vmta,omitempty"`
	Campaign  string       `json:"campaign,omitempty"`
	Category  string       `json:"category,omitempty"`
	Status    string       `json:"status,omitempty"`
	// Suppressed tells whether the recipient was added to the list.
	Suppressed bool `json:"suppressed"`
}

// Feedback reads one inbound report (a bounce sent to rcpt, a VERP
// address, or a complaint) and acts on it. An unreadable report is kept for
// inspection and returned as an error wrapping ErrInvalidEnvelope.
func (e *Engine) Feedback(kind FeedbackKind, rcpt string, body []byte) (*FeedbackResult, error) {
	var res *FeedbackResult
	var err error
	switch kind {
	case FeedbackBounce:
		res, err = e.asyncBounce(rcpt, body)
	case FeedbackComplaint:
		res, err = e.complaint(body)
	default:
		err = fmt.Errorf("unknown feedback kind %q (want bounce or complaint)", kind)
	}
	if err != nil {
		e.keepBad(kind, body, err)
		e.metrics.feedbackBad.WithLabelValues(string(kind)).Inc()
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEnvelope, kind, err)
	}
	e.metrics.feedbackIn.WithLabelValues(string(kind)).Inc()
	return res, nil
}

// BadReport is an inbound report that could not be read, kept for
// inspection.
type BadReport struct {
	// Key names it in the spool; keys sort by the time received.
	Key   string       `json:"-"`
	Kind  FeedbackKind `json:"kind"`
	Error string       `json:"error"`
	At    time.Time    `json:"at"`
	// Body is the report as received, at most maxKeptReport bytes.
	Body string `json:"body"`
}

// keepBad stores an unreadable report for inspection.
func (e *Engine) keepBad(kind FeedbackKind, body []byte, why error) {
	sum := sha256.Sum256(body)
	now := e.clock()
	v, _ := json.Marshal(BadReport{Kind: kind, Error: why.Error(), At: now, Body: string(body[:min(len(body), maxKeptReport)])})
	key := badRecordPrefix + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(sum[:6])
	if err := e.spool.PutRecord(key, v, now.Add(badKeep)); err != nil {
		e.log.Warn("keep unreadable report", "err", err)
	}
}

// BadFeedback lists the unreadable reports kept for inspection, oldest
// first. A kept record that cannot be decoded is listed with its Error.
func (e *Engine) BadFeedback() ([]BadReport, error) {
	recs, err := e.spool.ListRecords(badRecordPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]BadReport, 0, len(recs))
	for k, v := range recs {
		var b BadReport
		if err := json.Unmarshal(v, &b); err != nil {
			b = BadReport{Error: "record unreadable: " + err.Error()}
		}
		b.Key = k
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b BadReport) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// sentOf returns the remembered delivery of (id, idx).
func (e *Engine) sentOf(id string, idx uint32) (sentRecord, bool) {
	v, err := e.spool.GetRecord(sentRecordPrefix + id + "/" + strconv.FormatUint(uint64(idx), 10))
	if err != nil {
		return sentRecord{}, false
	}
	var s sentRecord
	return s, json.Unmarshal(v, &s) == nil
}

// rememberSent writes the deliveries of a finished job (VERP mail only).
func (e *Engine) rememberSent(it resultItem, done []spool.Recipient, now time.Time) {
	s := e.fbSet.Load()
	if s == nil || s.verpDomain == "" || it.env.From == "" || len(done) == 0 {
		return
	}
	recs := make([]spool.Record, 0, len(done))
	for _, r := range done {
		v, _ := json.Marshal(sentRecord{VMTA: it.key.VMTA, SourceIP: it.source, Recipient: r.Address, From: it.env.From,
			Campaign: it.env.Campaign, Tenant: it.env.Tenant, MXSite: it.mxSite, Queued: it.env.ReceivedAt, Delivered: now})
		recs = append(recs, spool.Record{Key: sentRecordPrefix + r.MsgID + "/" + strconv.FormatUint(uint64(r.Idx), 10),
			Value: v, Expires: now.Add(s.trackFor)})
	}
	// NB: not synced: a crash loses only the power to attribute a late bounce.
	if err := e.spool.PutRecords(recs, false); err != nil {
		e.log.Warn("remember deliveries", "err", err)
	}
}

// verpFrom returns the VERP return path of recipient idx of message id,
// or from when VERP is off or the message has the null sender.
func (e *Engine) verpFrom(from, id string, idx uint32) string {
	s := e.fbSet.Load()
	if s == nil || s.verpDomain == "" || from == "" {
		return from
	}
	v, err := feedback.EncodeVERP(s.verpKey, s.verpDomain, id, idx)
	if err != nil {
		e.log.Warn("VERP address", "id", id, "err", err)
		return from
	}
	return v
}

// verpOn reports whether outgoing mail gets VERP return paths.
func (e *Engine) verpOn() bool {
	s := e.fbSet.Load()
	return s != nil && s.verpDomain != ""
}

// asyncBounce reads a bounce sent to a VERP address.
func (e *Engine) asyncBounce(rcpt string, body []byte) (*FeedbackResult, error) {
	s := e.fbSet.Load()
	id, idx, ok := feedback.DecodeVERP(rcpt, s.verpKey)
	if !ok {
		return nil, fmt.Errorf("%s is not a return path this node signed", rcpt)
	}
	rep, err := dsn.ParseAny(body)
	if err != nil {
		return nil, err
	}
	var r *dsn.Recipient
	for i := range rep.Recipients {
		if rep.Recipients[i].Action == dsn.ActionFailed {
			r = &rep.Recipients[i]
			break
		}
	}
	sent, known := e.sentOf(id, idx)
	res := &FeedbackResult{Kind: FeedbackBounce, MsgID: id, VMTA: sent.VMTA, Campaign: sent.Campaign, Recipient: sent.Recipient}
	if r == nil {
		// A delay warning or a relay notice: nothing failed yet.
		e.log.Info("asynchronous delivery report that reports no failure", "id", id, "rcpt", sent.Recipient)
		return res, nil
	}
	if res.Recipient == "" {
		res.Recipient = r.Final
	}
	reply := replyOfDiagnostic(r.Status, r.Diagnostic)
	group := feedback.GroupOther
	if sent.MXSite != "" {
		group = e.rules().Group(mxHostsOf(sent.MXSite)...)
	}
	cat, _ := feedback.Decide(group, reply, e.rules(), e.clock())
	res.Category, res.Status = string(cat), r.Status
	now := e.clock()
	if known {
		e.outcomes.record(sent.VMTA, domainOf(sent.Recipient), now, 'b')
		e.recordWarmup(sent.VMTA, sent.MXSite, warmup.DayStats{Bounced: 1})
	}
	e.writeFeedbackAcct(acct.Record{Type: acct.TypeBounced, TimeQueued: sent.Queued, TimeLogged: now, From: sent.From,
		Recipient: res.Recipient, VMTA: sent.VMTA, SourceIP: sent.SourceIP, DestHost: r.RemoteMTA,
		DSNAction: "failed", DSNStatus: r.Status, DSNDiag: "smtp;" + reply.String(), Category: res.Category,
		Campaign: sent.Campaign, MsgID: id})
	e.appendEvents([]Event{{Time: now, Type: EventBounced, MsgID: id, Recipient: res.Recipient, VMTA: sent.VMTA,
		Domain: domainOf(res.Recipient), Campaign: sent.Campaign, Reply: "async: " + reply.String(), Category: res.Category}})
	if s.suppressCats[res.Category] && strings.HasPrefix(r.Status, "5") {
		res.Suppressed = e.autoSuppress(res.Recipient, sent, res.Category, reportSource("bounce", rep.MessageID))
	}
	e.events.notify()
	return res, nil
}

// replyOfDiagnostic turns a DSN's status and diagnostic into a reply.
func replyOfDiagnostic(status, diag string) feedback.Reply {
	r := feedback.Reply{Enhanced: status, Text: diag}
	if len(diag) >= 3 {
		if c, err := strconv.Atoi(diag[:3]); err == nil && c >= 200 && c < 600 {
			r.Code, r.Text = c, strings.TrimSpace(diag[3:])
			r.Text = strings.TrimPrefix(strings.TrimPrefix(r.Text, "-"), status)
			r.Text = strings.TrimSpace(r.Text)
		}
	}
	if r.Code == 0 {
		r.Code = 550
		if strings.HasPrefix(status, "4") {
			r.Code = 450
		}
	}
	return r
}

// complaint reads an ARF report.
func (e *Engine) complaint(body []byte) (*FeedbackResult, error) {
	s := e.fbSet.Load()
	c, err := feedback.ParseARF(body)
	if err != nil {
		return nil, err
	}
	res := &FeedbackResult{Kind: FeedbackComplaint, Category: "complaint", Status: c.FeedbackType}
	var sent sentRecord
	var known bool
	if len(s.verpKey) > 0 {
		if id, idx, ok := c.VERP(s.verpKey); ok {
			res.MsgID = id
			sent, known = e.sentOf(id, idx)
		}
	}
	res.Recipient = sent.Recipient
	if res.Recipient == "" {
		res.Recipient = c.Recipient()
	}
	if res.Recipient == "" {
		return nil, fmt.Errorf("the report names no recipient (redacted) and no return path of ours")
	}
	if !known {
		sent = sentRecord{Recipient: res.Recipient, From: c.ReturnPath, VMTA: e.vmtaBySource(c.SourceIP)}
		if c.From != "" {
			sent.From = c.From
		}
	}
	res.VMTA, res.Campaign = sent.VMTA, sent.Campaign
	if res.Campaign == "" {
		res.Campaign = c.Sluice["X-Sluice-Campaign"]
	}
	now := e.clock()
	if sent.VMTA != "" {
		site := sent.MXSite
		if site == "" {
			if v, ok := e.sites.Load(domainOf(res.Recipient)); ok {
				site = v.(string)
			}
		}
		e.metrics.complaints.WithLabelValues(sent.VMTA, e.rules().Group(mxHostsOf(site)...)).Inc()
		e.recordWarmup(sent.VMTA, site, warmup.DayStats{Complaints: 1})
	}
	e.writeFeedbackAcct(acct.Record{Type: acct.TypeFeedback, TimeQueued: sent.Queued, TimeLogged: now, From: sent.From,
		Recipient: res.Recipient, VMTA: sent.VMTA, SourceIP: c.SourceIP, DestHost: c.ReportingMTA,
		DSNDiag: "arf;" + c.FeedbackType + " " + c.UserAgent, Category: "complaint", Campaign: res.Campaign, MsgID: res.MsgID})
	e.appendEvents([]Event{{Time: now, Type: EventComplaint, MsgID: res.MsgID, Recipient: res.Recipient, VMTA: sent.VMTA,
		Domain: domainOf(res.Recipient), Campaign: res.Campaign, Reply: c.FeedbackType + " from " + c.ReportingMTA,
		Category: "complaint"}})
	if c.FeedbackType != "not-spam" {
		res.Suppressed = e.autoSuppress(res.Recipient, sent, "complaint", reportSource("arf", c.ReportMessageID))
	}
	e.events.notify()
	return res, nil
}

// reportSource names a report for a suppression entry: its kind and, when
// it has one, its Message-ID.
func reportSource(kind, messageID string) string {
	if messageID == "" {
		return kind
	}
	return kind + " " + messageID
}

// vmtaBySource maps a source IP back to its vmta.
func (e *Engine) vmtaBySource(ip string) string {
	if ip == "" {
		return ""
	}
	for _, v := range e.VMTAs() {
		if v.SourceIP == ip {
			return v.Name
		}
	}
	return ""
}

// autoSuppress adds rcpt in the configured scope; it reports success.
func (e *Engine) autoSuppress(rcpt string, sent sentRecord, reason, source string) bool {
	if _, err := e.Suppress(e.autoEntry(rcpt, sent.From, sent.Tenant, reason, source)); err != nil {
		e.log.Warn("suppress", "rcpt", rcpt, "err", err)
		return false
	}
	return true
}

func (e *Engine) writeFeedbackAcct(rec acct.Record) {
	e.logOutcomes([]acct.Record{rec})
	if e.acct == nil {
		return
	}
	if err := e.acct.Write(rec); err != nil {
		e.log.Warn("accounting write", "err", err)
	}
}
