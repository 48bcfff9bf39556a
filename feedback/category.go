package feedback

import (
	"strconv"
	"strings"
)

// Category is the bounce category of a reply: what the receiver's answer
// says about the recipient, the message or the sender. It goes into the
// accounting log (bounceCat) and the event stream. A category does not say
// whether to retry: that is the reply code's class (4xx or 5xx).
type Category string

// The bounce categories. The empty Category is "no failure" (a 2xx reply).
const (
	// CategoryBadMailbox: the recipient address does not exist.
	CategoryBadMailbox Category = "bad-mailbox"
	// CategoryBadDomain: the recipient domain does not exist or accepts no mail.
	CategoryBadDomain Category = "bad-domain"
	// CategoryInactiveMailbox: the mailbox exists but is disabled or abandoned.
	CategoryInactiveMailbox Category = "inactive-mailbox"
	// CategoryQuota: the mailbox is full.
	CategoryQuota Category = "quota"
	// CategorySpamRelated: refused for reputation, complaints, blocklists or spam content.
	CategorySpamRelated Category = "spam-related"
	// CategoryPolicyRelated: refused by a policy the sender can fix
	// (authentication, DMARC, reverse DNS, sender address).
	CategoryPolicyRelated Category = "policy-related"
	// CategoryContent: refused for the message itself (size, virus, format).
	CategoryContent Category = "content"
	// CategoryRouting: the receiver could not be reached or could not route.
	CategoryRouting Category = "routing"
	// CategoryProtocol: an SMTP protocol or syntax problem.
	CategoryProtocol Category = "protocol"
	// CategoryMessageExpired: the message outlived its bounce_after.
	CategoryMessageExpired Category = "message-expired"
	// CategoryTransient: a temporary failure with no more specific cause.
	CategoryTransient Category = "transient"
	// CategoryOther: a failure nothing else describes.
	CategoryOther Category = "other"
)

// Categories lists every category, in the order of the constants.
var Categories = []Category{
	CategoryBadMailbox, CategoryBadDomain, CategoryInactiveMailbox, CategoryQuota,
	CategorySpamRelated, CategoryPolicyRelated, CategoryContent, CategoryRouting,
	CategoryProtocol, CategoryMessageExpired, CategoryTransient, CategoryOther,
}

// Valid reports whether c is one of the named categories.
func (c Category) Valid() bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// Reply mirrors the engine's SMTP reply (engine/deliver/client.Reply), so
// that feedback need not import it.
type Reply struct {
	// Code is the three-digit reply code. Zero means no reply at all: the
	// connection failed or was refused before the server said anything.
	Code int
	// Enhanced is the RFC 3463 enhanced status code, e.g. "5.1.1", or "".
	Enhanced string
	// Text is the reply text without code and enhanced code; the lines of a
	// multiline reply are joined with "\n".
	Text string
	// Local is true when the sending side made the reply up (SIZE exceeded,
	// SMTPUTF8 not offered). It is classified, but it never triggers an
	// action or slows a rate: it says nothing about the receiver.
	Local bool
}

// String formats the reply as one wire line: "550 5.1.1 no such user".
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// subject is what text patterns are matched against: the reply on one
// line ("421 4.7.28 Our system has ..."), white space collapsed, so that
// a pattern need not care where a receiver wrapped its lines.
func (r Reply) subject() string {
	return strings.Join(strings.Fields(r.String()), " ")
}

// Classify returns the bounce category of a reply, or "" for a 2xx.
//
// The order: an enhanced status code whose meaning receivers use
// consistently decides alone (5.1.1 is always a bad mailbox); otherwise the
// text patterns of rules decide, searched in every receiver group (use
// Decide when the group is known); otherwise the enhanced code's class and
// subject, then the basic reply code, give a fallback. NB: most codes are
// not decisive because receivers use them loosely: Microsoft answers 5.4.1
// "Recipient address rejected: Access denied" for unknown recipients, and
// 5.7.1 covers everything from blocklists to relaying denied.
//
// rules may be nil (no text patterns). A reply with Code 0 (no reply: the
// connection failed) is routing.
func Classify(r Reply, rules *Rules) Category {
	return classify("", r, rules)
}

// classify is Classify within one receiver group ("" for all groups).
func classify(group string, r Reply, rules *Rules) Category {
	c, _ := match(group, r, rules)
	return c
}

// match returns the category of r and the first text rule matching it
// (nil if none). The rule is returned even when the enhanced code, not the
// rule, decided the category: a rule's action applies either way.
func match(group string, r Reply, rules *Rules) (Category, *Rule) {
	if r.Code/100 == 2 {
		return "", nil
	}
	code, decisive := enhancedCategory(r.Enhanced)
	var rule *Rule
	if r.Code != 0 && rules != nil {
		rule = rules.match(group, r.subject())
	}
	switch {
	case decisive:
		return code, rule
	case rule != nil && rule.Category != "":
		return rule.Category, rule
	case code != "":
		return code, rule
	}
	return basicCategory(r.Code), rule
}

// decisive lists the enhanced codes (without their class) that decide a
// category alone, and what they decide.
var decisive = map[string]Category{
	"1.1":  CategoryBadMailbox,      // bad destination mailbox address
	"1.2":  CategoryBadDomain,       // bad destination system address
	"1.3":  CategoryBadMailbox,      // bad destination mailbox address syntax
	"1.6":  CategoryInactiveMailbox, // destination mailbox has moved, no forwarding address
	"1.7":  CategoryPolicyRelated,   // bad sender's mailbox address syntax
	"1.8":  CategoryPolicyRelated,   // bad sender's system address
	"1.10": CategoryBadDomain,       // recipient address has null MX (RFC 7505)
	"2.1":  CategoryInactiveMailbox, // mailbox disabled, not accepting messages
	"2.2":  CategoryQuota,           // mailbox full
	"4.7":  CategoryMessageExpired,  // delivery time expired
	"5.1":  CategoryProtocol,        // invalid command
	"5.2":  CategoryProtocol,        // syntax error
	"5.3":  CategoryProtocol,        // too many recipients
	"5.4":  CategoryProtocol,        // invalid command arguments
	"5.5":  CategoryProtocol,        // wrong protocol version
	"5.6":  CategoryProtocol,        // authentication exchange line too long
	"7.13": CategoryInactiveMailbox, // user account disabled (RFC 4954)
	"7.17": CategoryInactiveMailbox, // mailbox owner has changed (RFC 7293)
	"7.18": CategoryBadDomain,       // domain owner has changed (RFC 7293)
	"7.26": CategoryPolicyRelated,   // multiple authentication checks failed (RFC 7372)
	"7.27": CategoryPolicyRelated,   // sender address has null MX (RFC 7505)
}

// enhancedCategory maps an enhanced status code to a category and whether
// that category is decisive. It returns "" for a missing or malformed code.
func enhancedCategory(enh string) (Category, bool) {
	class, rest, ok := strings.Cut(enh, ".")
	if !ok || (class != "4" && class != "5") {
		return "", false
	}
	if c, ok := decisive[rest]; ok {
		if class == "4" && c != CategoryQuota && c != CategoryMessageExpired && c != CategoryProtocol {
			// 4.1.1 and friends are "try again": a directory lookup that
			// failed for now, not a verdict on the mailbox.
			return CategoryTransient, false
		}
		return c, true
	}
	subject, _, _ := strings.Cut(rest, ".")
	if class == "4" {
		return CategoryTransient, false
	}
	switch subject {
	case "1":
		return CategoryBadMailbox, false
	case "3":
		if rest == "3.4" { // message too big for system
			return CategoryContent, false
		}
		return CategoryOther, false
	case "4":
		return CategoryRouting, false
	case "5":
		return CategoryProtocol, false
	case "6":
		return CategoryContent, true
	case "7":
		return CategoryPolicyRelated, false
	}
	return CategoryOther, false
}

// basicCategory is the fallback from the reply code alone.
func basicCategory(code int) Category {
	switch {
	case code == 0:
		return CategoryRouting
	case code/100 == 4:
		return CategoryTransient
	case code == 552:
		return CategoryQuota // RFC 5321: exceeded storage allocation
	case code == 553:
		return CategoryBadMailbox // mailbox name not allowed
	case code >= 500 && code <= 504:
		return CategoryProtocol
	}
	return CategoryOther
}
