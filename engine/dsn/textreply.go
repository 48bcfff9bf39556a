package dsn

import "strings"

// findReply returns the best reply in lines (the first of the best rank),
// or a reply of rankNone.
func findReply(lines []string) reply {
	var best reply
	for i, l := range lines {
		rp := lineReply(l)
		if rp.rank > best.rank {
			best, best.line = rp, i
			if best.rank == rankPairText {
				break
			}
		}
	}
	return best
}

// lineReply returns the best reply in one line.
func lineReply(l string) reply {
	if m := pairRE.FindStringSubmatchIndex(l); m != nil {
		rp := reply{col: m[2], rank: rankPair, basic: l[m[2]:m[3]], enhanced: l[m[4]:m[5]]}
		if letterRE.MatchString(l[m[5]:]) {
			rp.rank = rankPairText
		}
		return rp
	}
	if m := basicRE.FindStringSubmatchIndex(l); m != nil {
		return reply{col: m[2], rank: rankBasic, basic: l[m[2]:m[3]]}
	}
	if m := enhRE.FindStringSubmatchIndex(l); m != nil {
		return reply{col: m[2], rank: rankEnhanced, enhanced: l[m[2]:m[3]]}
	}
	return reply{}
}

// replyText returns the reply that starts at rp as one line: the rest of
// its line, the lines after it indented deeper (a wrapped reply, as
// Postfix writes it), and the further lines of a multi-line reply
// ("550-5.1.1 ...", "550 5.1.1 ..."); without the quotes, "##" and
// unbalanced closing brackets that bounces wrap replies in.
func replyText(lines []string, rp reply) string {
	l := lines[rp.line]
	parts := []string{l[rp.col:]}
	ind := indentOf(l)
	more := strings.HasPrefix(l[rp.col:], rp.basic+"-")
	for _, next := range lines[rp.line+1:] {
		t := strings.TrimSpace(next)
		if t == "" || (indentOf(next) <= ind && !(more && strings.HasPrefix(t, rp.basic))) {
			break
		}
		parts = append(parts, t)
		more = strings.HasPrefix(t, rp.basic+"-")
	}
	d := strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	if rp.col > 0 && (l[rp.col-1] == '\'' || l[rp.col-1] == '"') {
		if i := strings.LastIndexByte(d, l[rp.col-1]); i >= 0 {
			d = d[:i]
		}
	}
	return trimUnbalanced(strings.TrimRight(d, "# "))
}

// blockText joins lines into one, without the brackets around the whole
// ("(user not found)").
func blockText(lines []string) string {
	d := strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
	if strings.HasPrefix(d, "(") && strings.HasSuffix(d, ")") && strings.Count(d, "(") == 1 {
		d = strings.TrimSpace(d[1 : len(d)-1])
	}
	return d
}

// trimUnbalanced drops closing brackets at the end of d that open nowhere
// in it, as in Sendmail's "(reason: 550 5.1.1 <x>... User unknown)".
func trimUnbalanced(d string) string {
	opens := map[byte]int{')': strings.Count(d, "("), '>': strings.Count(d, "<"), ']': strings.Count(d, "[")}
	closes := map[byte]int{')': strings.Count(d, ")"), '>': strings.Count(d, ">"), ']': strings.Count(d, "]")}
	for {
		d = strings.TrimRight(d, " \t")
		if d == "" {
			return d
		}
		c := d[len(d)-1]
		if _, ok := opens[c]; !ok || closes[c] <= opens[c] {
			return d
		}
		closes[c]--
		d = d[:len(d)-1]
	}
}

// statusOf returns the enhanced status code of a reply, or its class
// ("5.0.0") from its basic code or, with no code, from the action.
func statusOf(rp reply, action string) string {
	switch {
	case rp.enhanced != "":
		return rp.enhanced
	case rp.basic != "":
		return rp.basic[:1] + ".0.0"
	case action == ActionDelayed:
		return "4.0.0"
	default:
		return "5.0.0"
	}
}

// firstHost returns the first remote host that s names as bounces do:
// "host mx.example.com [192.0.2.1]", "host mx.example.com[192.0.2.1]
// said:", "by mx.example.com. [192.0.2.1]", "while talking to
// mx.example.com.:".
func firstHost(s string) string {
	if m := hostRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
