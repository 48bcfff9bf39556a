package dkim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// Keys are generated once per test binary: RSA-2048 generation is slow.
var (
	keysOnce   sync.Once
	rsaKey     *rsa.PrivateKey
	edKey      ed25519.PrivateKey
	keysGenErr error
)

func testKeys(t testing.TB) (*rsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if rsaKey, keysGenErr = rsa.GenerateKey(rand.Reader, 2048); keysGenErr != nil {
			return
		}
		_, edKey, keysGenErr = ed25519.GenerateKey(rand.Reader)
	})
	if keysGenErr != nil {
		t.Fatal(keysGenErr)
	}
	return rsaKey, edKey
}

// writePEM writes der as a PEM block of the given type into dir/name.
func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// dns is a fake DNS: TXT records by name, for dkim.VerifyOptions.LookupTXT.
type dns map[string]string

func (d dns) lookupTXT(name string) ([]string, error) {
	if v, ok := d[name]; ok {
		return []string{v}, nil
	}
	return nil, errors.New("no such TXT record: " + name)
}

// publish adds the DKIM key record of pub at selector._domainkey.domain.
func (d dns) publish(t testing.TB, domain, selector string, pub any) {
	t.Helper()
	var rec string
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		rec = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		rec = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	default:
		t.Fatalf("publish: %T", pub)
	}
	d[selector+"._domainkey."+domain] = rec
}

// setup writes an RSA key (PKCS#1) for rsa.example and an Ed25519 key for
// ed.example, and returns the Keys and the DNS that publishes them.
func setup(t testing.TB) ([]Key, dns) {
	t.Helper()
	rk, ek := testKeys(t)
	dir := t.TempDir()
	keys := []Key{
		{Domain: "rsa.example", Selector: "s1", KeyFile: writePEM(t, dir, "rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk))},
		{Domain: "ed.example", Selector: "ed1", KeyFile: writePEM(t, dir, "ed.pem", "PRIVATE KEY", pkcs8(t, ek))},
	}
	d := dns{}
	d.publish(t, "rsa.example", "s1", &rk.PublicKey)
	d.publish(t, "ed.example", "ed1", ek.Public())
	return keys, d
}

func mustNew(t testing.TB, keys []Key) *Signer {
	t.Helper()
	s, err := New(keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// verify runs go-msgauth's verifier over msg with d as DNS.
func verify(t testing.TB, d dns, msg []byte) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: d.lookupTXT})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return vs
}

func testMsg(from string) []byte {
	return []byte("From: Shop <news@" + from + ">\r\n" +
		"To: bob@example.org\r\n" +
		"Subject: Spring sale\r\n" +
		"Date: Tue, 04 Mar 2025 09:30:00 +0000\r\n" +
		"Message-ID: <1234@" + from + ">\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello Bob,\r\n\r\neverything must go.\r\n")
}

func ecKeyDER(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8(t, k)
}

func sigField(msg []byte) string {
	s := string(msg)
	if !strings.HasPrefix(s, "DKIM-Signature:") {
		return ""
	}
	end := strings.Index(s, "\r\n") // first line
	for end >= 0 && end+2 < len(s) && (s[end+2] == ' ' || s[end+2] == '\t') {
		next := strings.Index(s[end+2:], "\r\n")
		if next < 0 {
			break
		}
		end += 2 + next
	}
	return s[:end]
}
