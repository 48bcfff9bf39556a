package acct

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"
)

// Record types.
const (
	TypeDelivered = "d"
	TypeBounced   = "b"
	TypeTransient = "t"
	TypeFeedback  = "f"
)

// Record is one accounting event about one recipient.
type Record struct {
	// Type is one of the Type* constants.
	Type string
	// TimeQueued is when the message was accepted; TimeLogged when the event
	// happened. Both are written in UTC; zero is written as "".
	TimeQueued, TimeLogged time.Time
	// From is the envelope sender, Recipient the recipient.
	From, Recipient string
	// VMTA is the virtual MTA, SourceIP the local IP it delivered from.
	VMTA, SourceIP string
	// DestHost and DestIP are the MX host name and IP talked to.
	DestHost, DestIP string
	// DSNAction, DSNStatus, DSNDiag: "failed", "5.1.1",
	// "smtp;550 5.1.1 user unknown".
	DSNAction, DSNStatus, DSNDiag string
	// Category is the bounce category, "" until feedback fills it.
	Category string
	// Size is the message size in octets.
	Size int64
	// Campaign, MsgID and JobID identify the message.
	Campaign, MsgID, JobID string
	// TLS tells whether the delivery used TLS.
	TLS bool
	// Attempt is the delivery attempt number, 1 for the first.
	Attempt int
}

// Columns are the CSV header row and the JSON Lines field names, in order
// (see the package documentation).
var Columns = []string{
	"type", "timeLogged", "timeQueued", "orig", "rcpt", "vmta", "dlvSourceIp", "dsnMta", "dlvDestinationIp",
	"dsnAction", "dsnStatus", "dsnDiag", "bounceCat", "dlvSize", "campaign", "msgid", "jobId", "tls", "attempt",
}

// TimeFormat is the layout of times in the log: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// formatTime renders t in UTC, "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// fields returns r's values in Columns order.
func (r *Record) fields() []string {
	return []string{
		r.Type, formatTime(r.TimeLogged), formatTime(r.TimeQueued), r.From, r.Recipient, r.VMTA, r.SourceIP,
		r.DestHost, r.DestIP, r.DSNAction, r.DSNStatus, r.DSNDiag, r.Category, strconv.FormatInt(r.Size, 10),
		r.Campaign, r.MsgID, r.JobID, strconv.FormatBool(r.TLS), strconv.Itoa(r.Attempt),
	}
}

// jsonRecord is the JSON Lines shape of a Record; tags match Columns.
type jsonRecord struct {
	Type             string `json:"type"`
	TimeLogged       string `json:"timeLogged"`
	TimeQueued       string `json:"timeQueued"`
	Orig             string `json:"orig"`
	Rcpt             string `json:"rcpt"`
	VMTA             string `json:"vmta"`
	DlvSourceIP      string `json:"dlvSourceIp"`
	DSNMta           string `json:"dsnMta"`
	DlvDestinationIP string `json:"dlvDestinationIp"`
	DSNAction        string `json:"dsnAction"`
	DSNStatus        string `json:"dsnStatus"`
	DSNDiag          string `json:"dsnDiag"`
	BounceCat        string `json:"bounceCat"`
	DlvSize          int64  `json:"dlvSize"`
	Campaign         string `json:"campaign"`
	MsgID            string `json:"msgid"`
	JobID            string `json:"jobId"`
	TLS              bool   `json:"tls"`
	Attempt          int    `json:"attempt"`
}

// encoder turns records into the bytes of one line each.
type encoder interface {
	header() []byte
	encode(r *Record) ([]byte, error)
}

// csvEncoder writes RFC 4180 CSV through encoding/csv into a reused buffer.
type csvEncoder struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newCSVEncoder() *csvEncoder {
	e := &csvEncoder{}
	e.w = csv.NewWriter(&e.buf)
	return e
}

func (e *csvEncoder) header() []byte {
	b, _ := e.line(Columns)
	return b
}

func (e *csvEncoder) encode(r *Record) ([]byte, error) { return e.line(r.fields()) }

// line encodes one row; the result is valid until the next call.
func (e *csvEncoder) line(fields []string) ([]byte, error) {
	e.buf.Reset()
	if err := e.w.Write(fields); err != nil {
		return nil, err
	}
	e.w.Flush()
	return e.buf.Bytes(), e.w.Error()
}

// jsonEncoder writes one JSON object per line.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newJSONEncoder() *jsonEncoder {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

func (e *jsonEncoder) header() []byte { return nil }

// encode encodes r; the result is valid until the next call.
func (e *jsonEncoder) encode(r *Record) ([]byte, error) {
	e.buf.Reset()
	err := e.enc.Encode(jsonRecord{
		Type: r.Type, TimeLogged: formatTime(r.TimeLogged), TimeQueued: formatTime(r.TimeQueued),
		Orig: r.From, Rcpt: r.Recipient, VMTA: r.VMTA, DlvSourceIP: r.SourceIP, DSNMta: r.DestHost,
		DlvDestinationIP: r.DestIP, DSNAction: r.DSNAction, DSNStatus: r.DSNStatus, DSNDiag: r.DSNDiag,
		BounceCat: r.Category, DlvSize: r.Size, Campaign: r.Campaign, MsgID: r.MsgID, JobID: r.JobID,
		TLS: r.TLS, Attempt: r.Attempt,
	})
	return e.buf.Bytes(), err
}
