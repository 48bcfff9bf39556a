package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Key prefixes. See doc.go for the layout.
const (
	prefixBody     = "m/"
	prefixEnvelope = "e/"
	prefixQueue    = "q/"
	prefixRcpt     = "r/"
)

const (
	idLen  = 16 // message ID: 16 Crockford base32 characters
	idxLen = 4  // recipient index: uint32 big-endian
	dueLen = 8  // due time: uint64 ms since the Unix epoch, big-endian
	sep    = 0x00
)

func bodyKey(id string) []byte     { return append([]byte(prefixBody), id...) }
func envelopeKey(id string) []byte { return append([]byte(prefixEnvelope), id...) }

// rcptKey is r/<id><idx>.
func rcptKey(id string, idx uint32) []byte {
	k := make([]byte, 0, len(prefixRcpt)+idLen+idxLen)
	k = append(k, prefixRcpt...)
	k = append(k, id...)
	return binary.BigEndian.AppendUint32(k, idx)
}

// queuePrefix is q/<vmta>0x00<domain>0x00: every key of one queue and of no other.
func queuePrefix(vmta, domain string) []byte {
	k := make([]byte, 0, len(prefixQueue)+len(vmta)+len(domain)+2+dueLen+idLen+idxLen)
	k = append(k, prefixQueue...)
	k = append(k, vmta...)
	k = append(k, sep)
	k = append(k, domain...)
	return append(k, sep)
}

// queueKey is q/<vmta>0x00<domain>0x00<due-ms><id><idx>.
func queueKey(vmta, domain string, dueMs int64, id string, idx uint32) []byte {
	k := queuePrefix(vmta, domain)
	k = binary.BigEndian.AppendUint64(k, uint64(dueMs))
	k = append(k, id...)
	return binary.BigEndian.AppendUint32(k, idx)
}

// parsedQueueKey is a decoded q/ key. Strings alias nothing: they are copies.
type parsedQueueKey struct {
	vmta, domain string
	dueMs        int64
	id           string
	idx          uint32
}

func parseQueueKey(k []byte) (parsedQueueKey, error) {
	var p parsedQueueKey
	rest, ok := bytes.CutPrefix(k, []byte(prefixQueue))
	if !ok {
		return p, fmt.Errorf("spool: bad queue key %q", k)
	}
	i := bytes.IndexByte(rest, sep)
	if i < 0 {
		return p, fmt.Errorf("spool: bad queue key %q", k)
	}
	p.vmta, rest = string(rest[:i]), rest[i+1:]
	i = bytes.IndexByte(rest, sep)
	if i < 0 || len(rest)-i-1 != dueLen+idLen+idxLen {
		return p, fmt.Errorf("spool: bad queue key %q", k)
	}
	p.domain, rest = string(rest[:i]), rest[i+1:]
	p.dueMs = int64(binary.BigEndian.Uint64(rest))
	p.id = string(rest[dueLen : dueLen+idLen])
	p.idx = binary.BigEndian.Uint32(rest[dueLen+idLen:])
	return p, nil
}

func parseRcptKey(k []byte) (id string, idx uint32, err error) {
	rest, ok := bytes.CutPrefix(k, []byte(prefixRcpt))
	if !ok || len(rest) != idLen+idxLen {
		return "", 0, fmt.Errorf("spool: bad recipient key %q", k)
	}
	return string(rest[:idLen]), binary.BigEndian.Uint32(rest[idLen:]), nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// domainOf returns the lowercased part of addr after its last '@'.
func domainOf(addr string) (string, error) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return "", fmt.Errorf("recipient %q has no domain", addr)
	}
	return strings.ToLower(addr[i+1:]), nil
}

// checkComponent rejects strings that would break the key layout.
func checkComponent(what, s string) error {
	if strings.IndexByte(s, sep) >= 0 {
		return fmt.Errorf("%s %q contains a NUL byte", what, s)
	}
	return nil
}
