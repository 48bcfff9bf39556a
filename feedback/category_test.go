package feedback

import "testing"

func TestClassify_RealReplies(t *testing.T) {
	rules := DefaultRules()
	tests := []struct {
		name string
		r    Reply
		want Category
	}{
		{"success has no category", Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}, ""},
		{"5.1.1 is a bad mailbox whatever the text", Reply{550, "5.1.1", "The email account that you tried to reach does not exist.", false}, CategoryBadMailbox},
		{"5.1.2 is a bad domain", Reply{550, "5.1.2", "Host unknown", false}, CategoryBadDomain},
		{"5.1.10 null MX is a bad domain", Reply{556, "5.1.10", "Recipient address has null MX", false}, CategoryBadDomain},
		{"5.2.1 disabled is inactive", Reply{550, "5.2.1", "The email account that you tried to reach is disabled.", false}, CategoryInactiveMailbox},
		{"gmail 452 4.2.2 over quota", Reply{452, "4.2.2", "The email account that you tried to reach is over quota.", false}, CategoryQuota},
		{"5.2.2 mailbox full", Reply{552, "5.2.2", "Mailbox full", false}, CategoryQuota},
		{"4.4.7 expired", Reply{421, "4.4.7", "Message expired", true}, CategoryMessageExpired},
		{"5.6.x is content", Reply{554, "5.6.0", "Message content rejected", false}, CategoryContent},
		{"5.5.x syntax is protocol", Reply{501, "5.5.4", "Invalid command arguments", false}, CategoryProtocol},
		{"4.5.3 too many recipients is protocol", Reply{452, "4.5.3", "Too many recipients", false}, CategoryProtocol},
		{"5.4.x without a matching text is routing", Reply{554, "5.4.4", "Unable to route", false}, CategoryRouting},
		{"4.1.1 is transient, not a verdict", Reply{450, "4.1.1", "Recipient address verification in progress", false}, CategoryTransient},
		{"5.7.1 blocklist text is spam", Reply{550, "5.7.1", "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus", false}, CategorySpamRelated},
		{"5.7.1 relay denied is policy", Reply{550, "5.7.1", "Relaying denied", false}, CategoryPolicyRelated},
		{"5.7.26 is policy", Reply{550, "5.7.26", "This mail is unauthenticated, which poses a security risk to the sender and Gmail users.", false}, CategoryPolicyRelated},
		{"gmail 4.7.28 rate limit is spam", Reply{421, "4.7.28", "[192.0.2.1 15] Our system has detected an unusual rate of\nunsolicited mail originating from your IP address.", false}, CategorySpamRelated},
		{"microsoft 5.4.1 access denied is a bad mailbox", Reply{550, "5.4.1", "Recipient address rejected: Access denied. AS(201806281) [BN8NAM12FT003.eop-nam12.prod.protection.outlook.com]", false}, CategoryBadMailbox},
		{"microsoft S3150 is spam", Reply{550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", false}, CategorySpamRelated},
		{"yahoo TSS04 is spam", Reply{421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1", false}, CategorySpamRelated},
		{"yahoo 5.7.9 is policy", Reply{554, "5.7.9", "Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes", false}, CategoryPolicyRelated},
		{"no enhanced code, user unknown text", Reply{550, "", "<bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table", false}, CategoryBadMailbox},
		{"no enhanced code, mailbox full text", Reply{552, "", "Mailbox is full", false}, CategoryQuota},
		{"no enhanced code, plain 421", Reply{421, "", "Service not available", false}, CategoryTransient},
		{"no enhanced code, 554 unknown text", Reply{554, "", "Transaction failed", false}, CategoryOther},
		{"no enhanced code, 553 is a bad mailbox", Reply{553, "", "sorry, that domain isn't in my list", false}, CategoryBadMailbox},
		{"no reply at all is routing", Reply{Code: 0, Text: "connection refused", Local: true}, CategoryRouting},
		{"local size refusal", Reply{552, "5.3.4", "message size exceeds fixed maximum", true}, CategoryContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.r, rules); got != tt.want {
				t.Errorf("Classify(%q) = %q, want %q", tt.r.String(), got, tt.want)
			}
		})
	}
}

func TestClassify_NilRules_UsesCodesOnly(t *testing.T) {
	if got := Classify(Reply{550, "5.7.1", "blocked using Spamhaus", false}, nil); got != CategoryPolicyRelated {
		t.Errorf("got %q, want policy-related (5.7.x fallback)", got)
	}
	if got := Classify(Reply{550, "", "user unknown", false}, nil); got != CategoryOther {
		t.Errorf("got %q, want other", got)
	}
}

func TestCategory_Valid(t *testing.T) {
	for _, c := range Categories {
		if !c.Valid() {
			t.Errorf("%q not valid", c)
		}
	}
	if Category("bogus").Valid() || Category("").Valid() {
		t.Error("bogus or empty category reported valid")
	}
}

func TestReply_String_CollapsesForMatching(t *testing.T) {
	r := Reply{421, "4.7.28", "a\n  b", false}
	if got := r.String(); got != "421 4.7.28 a\n  b" {
		t.Errorf("String = %q", got)
	}
	if got := r.subject(); got != "421 4.7.28 a b" {
		t.Errorf("subject = %q", got)
	}
}
