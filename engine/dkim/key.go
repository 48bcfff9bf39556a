package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Key is one DKIM signing key, as configured under dkim: in the YAML file.
type Key struct {
	// Domain is the signing domain (d=), matched against the From and
	// envelope sender domains. Required.
	Domain string
	// Selector is the selector (s=): the public key is published at
	// <selector>._domainkey.<domain>. Required.
	Selector string
	// KeyFile is a PEM file holding the private key: "RSA PRIVATE KEY"
	// (PKCS#1) or "PRIVATE KEY" (PKCS#8, RSA or Ed25519). Required.
	KeyFile string
	// Headers are fields to sign in addition to DefaultHeaders.
	Headers []string
}

// minRSABits is the smallest RSA key RFC 8301 lets a signer use; verifiers
// (go-msgauth among them) reject smaller ones. 2048 is what to generate.
const minRSABits = 1024

// DefaultHeaders returns the header fields every signature covers.
// List-Unsubscribe and List-Unsubscribe-Post are included because RFC 8058
// one-click unsubscribe requires them to be signed.
func DefaultHeaders() []string {
	return []string{
		"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
		"List-Unsubscribe", "List-Unsubscribe-Post",
	}
}

// loadKey reads and parses k.KeyFile.
func loadKey(k Key) (crypto.Signer, error) {
	data, err := os.ReadFile(k.KeyFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want \"RSA PRIVATE KEY\" (PKCS#1) or \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		if bits := key.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: want at least %d (2048 recommended)", bits, minRSABits)
		}
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T: want RSA or Ed25519", key)
	}
}

// signedHeaders is DefaultHeaders plus extra, without repeats (compared
// case-insensitively).
func signedHeaders(extra []string) ([]string, error) {
	out := DefaultHeaders()
	seen := make(map[string]bool, len(out)+len(extra))
	for _, h := range out {
		seen[strings.ToLower(h)] = true
	}
	for _, h := range extra {
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, ": \t\r\n;") {
			return nil, fmt.Errorf("headers: %q is not a header field name", h)
		}
		if !seen[strings.ToLower(h)] {
			seen[strings.ToLower(h)] = true
			out = append(out, h)
		}
	}
	return out, nil
}
