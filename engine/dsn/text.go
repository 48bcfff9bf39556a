package dsn

import (
	"strings"
	"time"
)

// textWidth is where the human-readable part wraps its paragraphs.
const textWidth = 72

// actionIntro is the paragraph that opens the list of recipients with that
// action, in the order the groups appear.
var actionIntro = []struct{ action, intro string }{
	{ActionFailed, "Your message could not be delivered to the recipients below. " +
		"The mail system has stopped trying: they will not receive it."},
	{ActionDelayed, "Your message has not been delivered yet to the recipients below. " +
		"The mail system is still trying; you do not need to send it again. " +
		"You will be told if it finally fails."},
	{ActionDelivered, "Your message was delivered to the recipients below."},
	{ActionRelayed, "Your message was passed on to the mail system of the recipients below, " +
		"which may not report on it any further."},
	{ActionExpanded, "Your message was delivered to the addresses below, " +
		"which forward it to further recipients."},
}

// statusPhrases explains the subject.detail of common enhanced status
// codes (RFC 3463) in plain words.
var statusPhrases = map[string]string{
	"1.1":  "the mailbox does not exist",
	"1.2":  "the destination domain does not exist or does not accept mail",
	"1.3":  "the address is not valid",
	"1.6":  "the mailbox has moved",
	"2.1":  "the mailbox is disabled",
	"2.2":  "the mailbox is full",
	"2.3":  "the message is larger than the mailbox accepts",
	"3.4":  "the message is too big for the receiving system",
	"4.1":  "the receiving server did not answer",
	"4.2":  "the connection to the receiving server was lost",
	"4.3":  "the destination could not be looked up",
	"4.4":  "no mail server could be found for the domain",
	"4.7":  "the message was not delivered before it expired",
	"5.3":  "the receiving server does not accept this many recipients",
	"7.0":  "the receiving system refused the message for security or policy reasons",
	"7.1":  "the receiving system refused the message by policy",
	"7.26": "the message failed the receiving system's authentication checks",
}

// statusPhrase returns plain words for an enhanced status code.
func statusPhrase(status string) string {
	class, rest, _ := strings.Cut(status, ".")
	if p, ok := statusPhrases[rest]; ok {
		return p
	}
	switch class {
	case "2":
		return "the message was delivered"
	case "4":
		return "delivery failed for now"
	default:
		return "delivery failed"
	}
}

// humanText renders the text/plain part (LF line endings; Build converts).
func humanText(r *Report) string {
	var b strings.Builder
	b.WriteString(wrap("This is the mail system at host "+r.ReportingMTA+".", "") + "\n")
	for _, g := range actionIntro {
		first := true
		for _, rc := range r.Recipients {
			if strings.ToLower(rc.Action) != g.action {
				continue
			}
			if first {
				b.WriteString("\n" + wrap(g.intro, "") + "\n")
				first = false
			}
			b.WriteString("\n  " + clean(rc.Final) + "\n")
			b.WriteString(wrap(explain(rc), "    ") + "\n")
		}
	}
	b.WriteString("\n")
	switch {
	case len(r.OriginalMessage) > 0:
		b.WriteString(wrap("The technical report and your original message are attached.", "") + "\n")
	case len(r.OriginalHeaders) > 0:
		b.WriteString(wrap("The technical report and the headers of your message are attached.", "") + "\n")
	default:
		b.WriteString(wrap("The technical report is attached.", "") + "\n")
	}
	return b.String()
}

// explain says why in plain words, quoting the remote reply when there is
// one.
func explain(rc Recipient) string {
	s := "Reason: " + statusPhrase(rc.Status) + " (status " + rc.Status + ")."
	mta := clean(rc.RemoteMTA)
	if _, rest, ok := typed(mta); ok {
		mta = rest
	}
	diag := clean(rc.Diagnostic)
	if diag != "" && !strings.HasSuffix(diag, ".") {
		diag += "."
	}
	switch {
	case diag != "" && mta != "":
		s += " The server " + mta + " answered: " + diag
	case diag != "":
		s += " The mail system reported: " + diag
	case mta != "":
		s += " Last server tried: " + mta + "."
	}
	if strings.ToLower(rc.Action) == ActionDelayed && !rc.WillRetryUntil.IsZero() {
		s += " Delivery will be tried until " + rc.WillRetryUntil.Format(time.RFC1123Z) + "."
	}
	return s
}

// wrap fills s into lines of at most textWidth (words longer than that
// stand alone), each starting with indent, joined by LF.
func wrap(s, indent string) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		switch {
		case n == 0:
			b.WriteString(indent)
			n = len(indent)
		case n+1+len(w) > textWidth:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
