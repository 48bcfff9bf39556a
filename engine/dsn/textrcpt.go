package dsn

import (
	"regexp"
	"strings"
	"unicode"
)

// How ParseText finds recipients in a bounce's text (the part before the
// quoted original), in this order:
//
//  1. Fields of a delivery-status block pasted into the text
//     ("Final-Recipient: rfc822; x@y"): read as Parse reads them.
//  2. Blocks: a line that starts with an address ("<x@y>:", "  x@y",
//     "x@y on 3/4/2025", "x@y (user not found)") and the lines after it,
//     up to a blank line or the next such line indented no deeper. An
//     address named in several blocks (Exchange lists it once for users
//     and once for administrators) keeps the block with the best reply.
//     Addresses in X-Failed-Recipients (Exim, Gmail) that no block names
//     are added.
//  3. Otherwise, addresses in a sentence: "RCPT TO:<x@y>", "Your message
//     to x@y couldn't be delivered", "Recipient address: x@y".
//
// The sender's and the mail system's own addresses are never recipients.
// Each recipient's reply is the best one in its block: a basic code with
// an enhanced code and text ("550 5.1.1 User unknown"), then one without
// text, then a basic code alone ("554: delivery error"), then an enhanced
// code alone ("(#5.1.1)", "<mx #5.1.1>"). A lone recipient whose block
// has no basic code takes the best one in the whole text (Gmail quotes it
// paragraphs away), and with no code at all the paragraph after a
// "because:" line (Lotus Notes). A recipient is delayed when the text
// says delivery goes on (textAction) and its reply is not permanent.

// Ranks of a reply found in text, worst first.
const (
	rankNone     = iota
	rankEnhanced // "#5.1.1"
	rankBasic    // "554:"
	rankPair     // "550 5.1.10"
	rankPairText // "550 5.1.1 User unknown"
)

// reply is a reply code found in lines of text.
type reply struct {
	line, col       int // where the reply starts
	rank            int
	basic, enhanced string
}

// textBlock is an address at the start of a line with the lines after it.
type textBlock struct {
	addr   string
	indent int
	// lines are the rest of the address line (indented one deeper than
	// it, "" when nothing follows the address), then the following lines.
	lines []string
	rp    reply
}

// extractor finds the recipients in a bounce's text.
type extractor struct {
	r      *Report // the bounce's headers: its own From and To are not recipients
	lines  []string
	text   string
	action string
}

// addrPat is an address as bounces print it: loose, for what follows
// checks it (validAddr).
const addrPat = `[^\s<>()\[\],;:@"']+@[^\s<>()\[\],;:@"']+`

var (
	pairRE   = regexp.MustCompile(`(?:^|[^0-9A-Za-z.])([245][0-9]{2})[ -]#?([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:[^0-9.]|\.[^0-9]|\.?$)`)
	basicRE  = regexp.MustCompile(`(?:^|[^0-9A-Za-z.:/])([245][0-9]{2})(?:[ -]|:[ \t]|:?$)`)
	enhRE    = regexp.MustCompile(`(?:^|[\s#(\[])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:[^0-9.]|\.[^0-9]|\.?$)`)
	letterRE = regexp.MustCompile(`[A-Za-z]`)

	leadAddrRE  = regexp.MustCompile(`^[ \t]*<?(` + addrPat + `)>?(.*)$`)
	onDateRE    = regexp.MustCompile(`(?i)^on\s+[0-9]`)
	fieldRcptRE = regexp.MustCompile(`(?im)^[ \t]*final-recipient[ \t]*:`)
	reasonRE    = regexp.MustCompile(`(?i)^[ \t]*(?:because|reason)[ \t]*:?[ \t]*$`)
	hostRE      = regexp.MustCompile(`(?i)\b(?:host|by|talking to)\s+([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?` +
		`(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)\.?(?:\s*\[|:)`)
	mentionREs = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\brcpt to:\s*<(` + addrPat + `)>`),
		regexp.MustCompile(`(?i)\b(?:deliver(?:ed|ing|y)?|reach(?:ed)?|sen[dt]|message)\s+` +
			`(?:(?:your|the|this)\s+(?:message|e-?mail)\s+)?to:?\s*<?(` + addrPat + `)`),
		regexp.MustCompile(`(?i)\b(?:original-)?recipient(?:\s+address)?:\s*(?:rfc822;\s*)?<?(` + addrPat + `)`),
	}
)

// recipients returns one Recipient per address found, in text order.
func (x *extractor) recipients(failedHeader string) []Recipient {
	if rcpts := x.fromFields(); len(rcpts) > 0 {
		return rcpts
	}
	blocks := x.blocks()
	for _, a := range strings.Split(failedHeader, ",") {
		if a = cleanAddr(a); a != "" && !x.excluded(a) {
			blocks = append(blocks, textBlock{addr: a})
		}
	}
	if len(blocks) == 0 {
		for _, a := range x.mentioned() {
			blocks = append(blocks, textBlock{addr: a})
		}
	}
	blocks = bestBlocks(blocks)
	rcpts := make([]Recipient, 0, len(blocks))
	for _, b := range blocks {
		rcpts = append(rcpts, x.recipient(b, len(blocks) == 1))
	}
	return rcpts
}

// recipient reads one recipient's reply; alone is whether it is the only
// one, so that a reply elsewhere in the text can only be its own.
func (x *extractor) recipient(b textBlock, alone bool) Recipient {
	rc := Recipient{Final: b.addr, Action: x.action}
	lines, rp := b.lines, b.rp
	if alone && rp.rank < rankBasic {
		if g := findReply(x.lines); g.rank >= rankBasic {
			lines, rp = x.lines, g
		}
	}
	if rp.rank >= rankBasic {
		rc.Diagnostic = replyText(lines, rp)
	} else {
		rc.Diagnostic = blockText(b.lines)
	}
	if rc.Diagnostic == "" && alone {
		rc.Diagnostic = x.reason()
	}
	rc.Status = statusOf(rp, x.action)
	if rc.Status[0] == '5' {
		rc.Action = ActionFailed // a permanent reply in a report that also warns of delays
	}
	rc.RemoteMTA = firstHost(strings.Join(b.lines, "\n"))
	if rc.RemoteMTA == "" && alone {
		rc.RemoteMTA = firstHost(x.text)
	}
	return rc
}

// fromFields reads delivery-status fields pasted into the text, keeping
// the failed and delayed recipients.
func (x *extractor) fromFields() []Recipient {
	if !fieldRcptRE.MatchString(x.text) {
		return nil
	}
	var tmp Report
	parseStatus(&tmp, []byte(x.text))
	var rcpts []Recipient
	for _, rc := range tmp.Recipients {
		switch rc.Action {
		case "":
			rc.Action = x.action
		case ActionFailed, ActionDelayed:
		default:
			continue
		}
		if rc.Final = cleanAddr(rc.Final); rc.Final == "" {
			continue
		}
		if !statusRE.MatchString(rc.Status) {
			rc.Status = statusOf(findReply([]string{rc.Diagnostic}), rc.Action)
		}
		rcpts = append(rcpts, rc)
	}
	return rcpts
}

// blocks returns the address blocks of the text (see the top of the file).
func (x *extractor) blocks() []textBlock {
	var bs []textBlock
	open := false
	for _, line := range x.lines {
		if strings.TrimSpace(line) == "" {
			open = false
			continue
		}
		ind := indentOf(line)
		addr, rest, ok := leadingAddress(line)
		if ok && !x.excluded(addr) && (!open || ind <= bs[len(bs)-1].indent) {
			first := ""
			if rest != "" {
				first = strings.Repeat(" ", ind+1) + rest
			}
			bs = append(bs, textBlock{addr: addr, indent: ind, lines: []string{first}})
			open = true
		} else if open {
			bs[len(bs)-1].lines = append(bs[len(bs)-1].lines, line)
		}
	}
	for i := range bs {
		bs[i].rp = findReply(bs[i].lines)
	}
	return bs
}

// bestBlocks keeps one block per address (compared without case): the
// first with the best reply, at the place of the address's first block.
func bestBlocks(bs []textBlock) []textBlock {
	var out []textBlock
	seen := make(map[string]int)
	for _, b := range bs {
		key := strings.ToLower(b.addr)
		i, ok := seen[key]
		switch {
		case !ok:
			seen[key] = len(out)
			out = append(out, b)
		case b.rp.rank > out[i].rp.rank:
			out[i] = b
		}
	}
	return out
}

// mentioned returns the addresses named by the first sentence pattern
// that names any.
func (x *extractor) mentioned() []string {
	for _, re := range mentionREs {
		var addrs []string
		for _, m := range re.FindAllStringSubmatch(x.text, 64) {
			if a := cleanAddr(m[1]); a != "" && !x.excluded(a) {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) > 0 {
			return addrs
		}
	}
	return nil
}

// reason returns the paragraph after a "because:" line, joined into one.
func (x *extractor) reason() string {
	for i, line := range x.lines {
		if !reasonRE.MatchString(line) {
			continue
		}
		var para []string
		for _, l := range x.lines[i+1:] {
			if strings.TrimSpace(l) == "" && len(para) > 0 {
				break
			}
			para = append(para, l)
		}
		return blockText(para)
	}
	return ""
}

// excluded reports whether addr is the bounce's own sender or recipient
// or a mail system's address.
func (x *extractor) excluded(addr string) bool {
	return isDaemon(addr) || strings.EqualFold(addr, x.r.From) || strings.EqualFold(addr, x.r.To)
}

// leadingAddress returns the address a line starts with and the rest of
// the line without the separators after the address ("<x@y>: ...", "x@y
// ..."); a date after the address ("x@y on 3/4/2025") is dropped.
func leadingAddress(line string) (addr, rest string, ok bool) {
	m := leadAddrRE.FindStringSubmatch(line)
	if m == nil {
		return "", "", false
	}
	if addr = cleanAddr(m[1]); addr == "" {
		return "", "", false
	}
	rest = strings.TrimSpace(strings.TrimLeft(m[2], " \t:>.,;"))
	if onDateRE.MatchString(rest) {
		rest = ""
	}
	return addr, rest, true
}

// cleanAddr returns v without surrounding white space, angle brackets
// and trailing dots when it is an address with a dotted domain and no
// white space or control character, else "".
func cleanAddr(v string) string {
	v = strings.TrimRight(strings.Trim(strings.TrimSpace(v), "<>"), ".")
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || strings.ContainsAny(domain, "@<>") ||
		strings.ContainsFunc(v, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.Contains(domain, "..") {
		return ""
	}
	return v
}

// indentOf returns the width of a line's leading white space (tab stops
// every 8).
func indentOf(line string) int {
	n := 0
	for _, c := range line {
		switch c {
		case ' ':
			n++
		case '\t':
			n = (n/8 + 1) * 8
		default:
			return n
		}
	}
	return n
}
