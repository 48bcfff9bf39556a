// Package dkim signs outgoing mail with DKIM (RFC 6376) at submit time,
// with RSA-SHA256 (RFC 8301) or Ed25519-SHA256 (RFC 8463) keys per sender
// domain, using github.com/emersion/go-msgauth.
//
// # Which key signs
//
// Keys are chosen by the domain of the first address in the message's From
// header (case-insensitive, exact: a key for example.com does not sign mail
// from news.example.com); when no key has that domain, by the domain of the
// envelope sender. Every key configured for the chosen domain signs, so an
// RSA and an Ed25519 key for one domain give the dual signature RFC 8463
// recommends; the signatures are prepended in configuration order. A
// message without a key for either domain, or without a From field (which
// DKIM must sign), is returned unchanged with ok=false.
//
// # Signatures
//
// Canonicalisation is relaxed/relaxed, the hash SHA-256. The signed fields
// are DefaultHeaders plus the key's own Headers; a listed field the message
// lacks is still named in h=, so that adding it later breaks the signature.
//
// # Invariants
//
//   - A Signer is immutable after New and safe for concurrent use.
//   - Sign signs the bytes it returns: line endings are normalised to CRLF
//     first (the SMTP path already delivers CRLF; this guards the others), so
//     what is spooled and sent is exactly what was signed. Anything that
//     changes a signed field or the body after Sign breaks the signature:
//     Sign is the last step before the spool.
//   - Key files are read once, in New; a bad file fails New with an error
//     naming the domain, selector and file.
//
// # What it must never do
//
// Import other Sluice packages, read key files or DNS while signing, log or
// return key material, or sign with SHA-1 or an RSA key under 1024 bits.
package dkim
