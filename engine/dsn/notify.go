package dsn

import "strings"

// DefaultNotify is the NOTIFY value assumed when a recipient was injected
// without one.
//
// RFC 3461 4.1 leaves the default to the implementation: the absence of
// NOTIFY may be read as NOTIFY=FAILURE or as NOTIFY=FAILURE,DELAY. Sluice
// reads it as FAILURE only. A bulk sender's envelope sender is usually a
// bounce-processing mailbox of the injecting platform, which learns about
// deferrals from the accounting log and the event stream; a delay warning
// per deferred recipient would only add load to the very sites that are
// deferring. A client that wants delay reports asks for them with
// NOTIFY=DELAY.
const DefaultNotify = "FAILURE"

// ShouldNotify reports whether a DSN with the given action (one of the
// Action* constants) is to be sent for a recipient injected with the RFC
// 3461 NOTIFY value notify (comma-separated, case-insensitive; "" means
// DefaultNotify) and the envelope sender envelopeFrom.
//
// It is false for the null sender ("" or "<>") whatever NOTIFY says, for
// NOTIFY=NEVER (also when, invalidly, combined with other keywords), and
// for an unknown action. FAILURE covers "failed", DELAY covers "delayed",
// SUCCESS covers "delivered", "relayed" (handed to a server without DSN
// support) and "expanded" (delivered to a list or alias). Unknown keywords
// are ignored; a value with no known keyword counts as absent.
func ShouldNotify(notify string, action string, envelopeFrom string) bool {
	if isNullSender(envelopeFrom) {
		return false
	}
	var want string
	switch strings.ToLower(strings.TrimSpace(action)) {
	case ActionFailed:
		want = "FAILURE"
	case ActionDelayed:
		want = "DELAY"
	case ActionDelivered, ActionRelayed, ActionExpanded:
		want = "SUCCESS"
	default:
		return false
	}
	set := notifySet(notify)
	if len(set) == 0 {
		set = notifySet(DefaultNotify)
	}
	if set["NEVER"] {
		return false
	}
	return set[want]
}

// notifySet returns the known NOTIFY keywords in v.
func notifySet(v string) map[string]bool {
	set := map[string]bool{}
	for _, kw := range strings.Split(v, ",") {
		switch kw = strings.ToUpper(strings.TrimSpace(kw)); kw {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
			set[kw] = true
		}
	}
	return set
}
