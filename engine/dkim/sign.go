package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// Signer signs messages with the keys given to New. It is immutable and safe
// for concurrent use.
type Signer struct {
	byDomain map[string][]*dkim.SignOptions // lower-case domain -> keys, in config order
}

// New loads every key. An error names the key's domain, selector and file;
// a domain and selector given twice is an error.
func New(keys []Key) (*Signer, error) {
	s := &Signer{byDomain: make(map[string][]*dkim.SignOptions, len(keys))}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		id := fmt.Sprintf("dkim: key %d (domain %q, selector %q, file %q)", i, k.Domain, k.Selector, k.KeyFile)
		if k.Domain == "" || k.Selector == "" || k.KeyFile == "" {
			return nil, fmt.Errorf("%s: domain, selector and key_file are required", id)
		}
		domain := strings.ToLower(strings.TrimSuffix(k.Domain, "."))
		if seen[domain+"\x00"+k.Selector] {
			return nil, fmt.Errorf("%s: domain and selector given twice", id)
		}
		seen[domain+"\x00"+k.Selector] = true
		signer, err := loadKey(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		headers, err := signedHeaders(k.Headers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		opts := &dkim.SignOptions{
			Domain:                 domain,
			Selector:               k.Selector,
			Signer:                 signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             headers,
		}
		// Check the options now, so that Sign cannot fail on them later.
		if _, err := dkim.NewSigner(opts); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		s.byDomain[domain] = append(s.byDomain[domain], opts)
	}
	return s, nil
}

// Sign returns msg with one DKIM-Signature field prepended per key of the
// From header's domain or, when no key has that domain, of envelopeFrom's
// domain; ok reports whether it signed. Without a key for either, or
// without a From field, it returns msg unchanged and ok=false. The signed
// message has CRLF line endings (see the package doc). A nil *Signer signs
// nothing. An error means the header could not be read or signing failed;
// msg is then returned unchanged.
func (s *Signer) Sign(msg []byte, envelopeFrom string) (signed []byte, ok bool, err error) {
	if s == nil || len(s.byDomain) == 0 {
		return msg, false, nil
	}
	from, hasFrom, err := fromDomain(msg)
	if err != nil {
		return msg, false, fmt.Errorf("dkim: sign: %w", err)
	}
	if !hasFrom {
		return msg, false, nil // DKIM must sign From; there is none
	}
	keys := s.byDomain[from]
	if keys == nil {
		keys = s.byDomain[domainOf(envelopeFrom)]
	}
	if keys == nil {
		return msg, false, nil
	}
	body := normalizeCRLF(msg)
	sigs := make([]string, 0, len(keys))
	size := len(body)
	for _, opts := range keys {
		sig, err := signOne(body, opts)
		if err != nil {
			return msg, false, fmt.Errorf("dkim: sign with %s._domainkey.%s: %w", opts.Selector, opts.Domain, err)
		}
		sigs = append(sigs, sig)
		size += len(sig)
	}
	out := make([]byte, 0, size)
	for _, sig := range sigs {
		out = append(out, sig...)
	}
	return append(out, body...), true, nil
}

func signOne(msg []byte, opts *dkim.SignOptions) (string, error) {
	signer, err := dkim.NewSigner(opts)
	if err != nil {
		return "", err
	}
	if _, err := signer.Write(msg); err != nil {
		_ = signer.Close()
		return "", err
	}
	if err := signer.Close(); err != nil {
		return "", err
	}
	return signer.Signature(), nil
}

// addressParser lets net/mail parse display names in any charset: only the
// address matters here.
var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
}}

// fromDomain returns the lower-case domain of the first address of the
// message's From field ("" when none can be read from it) and whether the
// message has a From field at all.
func fromDomain(msg []byte) (domain string, hasFrom bool, err error) {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg))).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return "", false, fmt.Errorf("read header: %w", err)
	}
	v := strings.TrimSpace(h.Get("From"))
	if v == "" {
		return "", false, nil
	}
	if list, err := addressParser.ParseList(v); err == nil && len(list) > 0 {
		return domainOf(list[0].Address), true, nil
	}
	// An unparsable From: take the last "<...>" or the whole value.
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	return domainOf(strings.TrimSpace(v)), true, nil
}

// domainOf returns the lower-case domain of an address, "" when it has none.
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(addr[at+1:], "<> \t"), "."))
}

// normalizeCRLF rewrites every bare CR and bare LF to CRLF; it returns msg
// itself when there is none.
func normalizeCRLF(msg []byte) []byte {
	bare := false
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') || c == '\r' && (i+1 == len(msg) || msg[i+1] != '\n') {
			bare = true
			break
		}
	}
	if !bare {
		return msg
	}
	out := make([]byte, 0, len(msg)+len(msg)/32+2)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		switch {
		case c == '\r' && i+1 < len(msg) && msg[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}
