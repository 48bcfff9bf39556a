package spool

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// splitList turns a fuzzed string into a list ("" is no list at all).
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x1f")
}

// FuzzRecordRoundTrip: reliability row 22 (spool records). Every value and
// key the spool writes decodes to what was encoded, for any field contents:
// envelope (e/), recipient state (q/ value), recipient reference (r/) and
// queue key (q/, whose vmta and domain may hold anything but the NUL
// separator that checkComponent refuses).
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("a@b.test", "v1", "pool", "camp", "ten", "smtp 127.0.0.1", int64(1700000000000), int64(-5), int64(1<<40), uint32(3),
		true, false, "HDRS", "env+id", "FAILURE\x1fNEVER", "rfc822;x@y\x1f", "b.test", 7, "451 4.7.1 later", "0123456789ABCDEF", uint32(2))
	f.Add("", "", "", "", "", "", int64(0), int64(0), int64(0), uint32(0), false, true, "", "", "", "", "", 0, "", "", uint32(0))
	f.Add("\x00\xff", "v\x00", "\x1f", "é", "\n", "\r\n.\r\n", int64(-1), int64(1<<62), int64(-1), uint32(1<<31),
		true, true, "FULL", "\x00", "\x1f\x1f", "\x1f", "d\x00", -3, "\xff", "short", uint32(1<<32-1))
	f.Fuzz(func(t *testing.T, from, vmta, pool, campaign, tenant, source string, recvMs, expMs, bodySize int64, nrcpt uint32,
		b8, utf8 bool, ret, envID, notify, orcpt, domain string, attempts int, lastReply, id string, idx uint32) {
		env := storedEnvelope{Envelope: Envelope{From: from, VMTA: vmta, Pool: pool, Campaign: campaign, Tenant: tenant,
			Source: source, ReceivedAt: timeOf(recvMs), ExpiresAt: timeOf(expMs), Body8Bit: b8, SMTPUTF8: utf8,
			DSNRet: ret, EnvID: envID, Notify: splitList(notify), ORcpt: splitList(orcpt)}, bodySize: bodySize, nrcpt: nrcpt}
		got, err := decodeEnvelope(encodeEnvelope(&env))
		if err != nil {
			t.Fatalf("envelope: %v", err)
		}
		if got.From != from || got.VMTA != vmta || got.Pool != pool || got.Campaign != campaign || got.Tenant != tenant ||
			got.Source != source || msOf(got.ReceivedAt) != recvMs || msOf(got.ExpiresAt) != expMs ||
			got.Body8Bit != b8 || got.SMTPUTF8 != utf8 || got.DSNRet != ret || got.EnvID != envID ||
			!slices.Equal(got.Notify, env.Notify) || !slices.Equal(got.ORcpt, env.ORcpt) ||
			got.bodySize != bodySize || got.BodySize != bodySize || got.nrcpt != nrcpt {
			t.Fatalf("envelope round trip:\n got %+v\nwant %+v", got, env)
		}

		st := state{address: from, attempts: attempts, expiresMs: expMs, lastAttempt: recvMs, lastReply: lastReply}
		if gotSt, err := decodeState(encodeState(&st)); err != nil || gotSt != st {
			t.Fatalf("state round trip: %+v, %v; want %+v", gotSt, err, st)
		}

		// A message ID is always 16 characters.
		id = (id + "0000000000000000")[:idLen]
		dueMs := max(recvMs, 0)
		qk := queueKey(vmta, domain, dueMs, id, idx)
		pk, err := parseQueueKey(qk)
		storable := checkComponent("vmta", vmta) == nil && checkComponent("domain", domain) == nil
		if storable && (err != nil || pk != (parsedQueueKey{vmta: vmta, domain: domain, dueMs: dueMs, id: id, idx: idx})) {
			t.Fatalf("queue key round trip: %+v, %v", pk, err)
		}

		ref := rcptRef{nrcpt: nrcpt, bodySize: bodySize, pool: pool, campaign: campaign, tenant: tenant, qkey: qk}
		gotRef, err := decodeRcptRef(encodeRcptRef(&ref))
		if err != nil || gotRef.nrcpt != nrcpt || gotRef.bodySize != bodySize || gotRef.pool != pool ||
			gotRef.campaign != campaign || gotRef.tenant != tenant || !bytes.Equal(gotRef.qkey, qk) {
			t.Fatalf("rcpt ref round trip: %+v, %v; want %+v", gotRef, err, ref)
		}
		if gotID, gotIdx, err := parseRcptKey(rcptKey(id, idx)); err != nil || gotID != id || gotIdx != idx {
			t.Fatalf("rcpt key round trip: %q %d %v", gotID, gotIdx, err)
		}
	})
}
