package feedback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// VERP return paths name the message and recipient a bounce is about:
//
//	b-<msgid>-<idx>-<mac>@<bounce domain>
//
// mac is 40 bits of HMAC-SHA256(key, lower(msgid) "/" idx) in lower-case
// base32, so a bounce forged to suppress someone else's recipient, or to
// probe message IDs, is rejected. The local part stays under 64 octets for
// msgids up to 40 characters.
//
// NB: the recipient address is not in the MAC: DecodeVERP must verify from
// the address alone, and the spool maps (msgid, idx) back to the recipient.
// NB: some relays fold the local part to lower case; the MAC ignores the
// msgid's case, and DecodeVERP returns the msgid as the address spells it
// (spool IDs are upper case: the engine folds it back).

const (
	verpPrefix = "b-"
	verpMACLen = 5 // bytes; 8 base32 characters
)

var verpEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrVERPMsgID is returned by EncodeVERP for a message ID that cannot be
// written in a local part.
var ErrVERPMsgID = errors.New("feedback: VERP: message ID must be 1 to 40 characters of A-Z a-z 0-9 . _ = +")

// EncodeVERP returns the return path for recipient rcptIdx of message msgID,
// at bounceDomain, authenticated with key.
func EncodeVERP(key []byte, bounceDomain, msgID string, rcptIdx uint32) (string, error) {
	if !validVERPMsgID(msgID) {
		return "", fmt.Errorf("%w: %q", ErrVERPMsgID, msgID)
	}
	idx := strconv.FormatUint(uint64(rcptIdx), 10)
	return verpPrefix + msgID + "-" + idx + "-" + verpMAC(key, msgID, idx) + "@" + bounceDomain, nil
}

// DecodeVERP returns the message ID and recipient index a VERP return path
// names; ok is false when addr is not one (wrong shape, or a MAC that key
// did not make). The domain is not checked: the listener routes by it.
func DecodeVERP(addr string, key []byte) (msgID string, idx uint32, ok bool) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", 0, false
	}
	local, found := cutPrefixFold(addr[:at], verpPrefix)
	if !found {
		return "", 0, false
	}
	rest, mac, ok1 := cutLast(local, "-")
	msgID, idxs, ok2 := cutLast(rest, "-")
	if !ok1 || !ok2 || !validVERPMsgID(msgID) || idxs == "" || (len(idxs) > 1 && idxs[0] == '0') {
		return "", 0, false
	}
	n, err := strconv.ParseUint(idxs, 10, 32)
	if err != nil {
		return "", 0, false
	}
	if !hmac.Equal([]byte(strings.ToLower(mac)), []byte(verpMAC(key, msgID, idxs))) {
		return "", 0, false
	}
	return msgID, uint32(n), true
}

func verpMAC(key []byte, msgID, idx string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(msgID)))
	m.Write([]byte{'/'})
	m.Write([]byte(idx))
	return verpEncoding.EncodeToString(m.Sum(nil)[:verpMACLen])
}

func validVERPMsgID(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '=' || c == '+'
		if !ok {
			return false
		}
	}
	return true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
