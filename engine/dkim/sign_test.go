package dkim

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSign_RSA2048_SignatureVerifies(t *testing.T) {
	keys, d := setup(t)
	signed, ok, err := mustNew(t, keys).Sign(testMsg("rsa.example"), "bounce@rsa.example")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	vs := verify(t, d, signed)
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "rsa.example" {
		t.Fatalf("verifications = %+v", vs)
	}
	sig := sigField(signed)
	for _, want := range []string{"a=rsa-sha256", "c=relaxed/relaxed", "s=s1", "d=rsa.example"} {
		if !strings.Contains(strings.ReplaceAll(sig, "\r\n ", ""), want) {
			t.Errorf("signature lacks %s: %s", want, sig)
		}
	}
}

func TestSign_RSAKeyInPKCS8_SignatureVerifies(t *testing.T) {
	rk, _ := testKeys(t)
	key := Key{Domain: "rsa.example", Selector: "p8", KeyFile: writePEM(t, t.TempDir(), "k.pem", "PRIVATE KEY", pkcs8(t, rk))}
	d := dns{}
	d.publish(t, "rsa.example", "p8", &rk.PublicKey)
	signed, ok, err := mustNew(t, []Key{key}).Sign(testMsg("rsa.example"), "")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	if vs := verify(t, d, signed); len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verifications = %+v", vs)
	}
}

func TestSign_Ed25519_SignatureVerifies(t *testing.T) {
	keys, d := setup(t)
	signed, ok, err := mustNew(t, keys).Sign(testMsg("ed.example"), "")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	vs := verify(t, d, signed)
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "ed.example" {
		t.Fatalf("verifications = %+v", vs)
	}
	if !strings.Contains(sigField(signed), "a=ed25519-sha256") {
		t.Errorf("signature: %s", sigField(signed))
	}
}

func TestSign_RSAAndEd25519KeysForOneDomain_BothSignaturesVerify(t *testing.T) {
	keys, d := setup(t)
	keys[1].Domain = "rsa.example"
	_, ek := testKeys(t)
	d.publish(t, "rsa.example", "ed1", ek.Public())
	signed, ok, err := mustNew(t, keys).Sign(testMsg("rsa.example"), "")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	vs := verify(t, d, signed)
	if len(vs) != 2 {
		t.Fatalf("%d signatures, want 2", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("signature invalid: %v", v.Err)
		}
	}
}

func TestSign_SignedFields_AreDefaultsPlusKeyHeaders(t *testing.T) {
	keys, d := setup(t)
	keys[0].Headers = []string{"X-Campaign", "subject", "Reply-To"}
	signed, _, err := mustNew(t, keys).Sign(testMsg("rsa.example"), "")
	if err != nil {
		t.Fatal(err)
	}
	vs := verify(t, d, signed)
	got := strings.ToLower(strings.Join(vs[0].HeaderKeys, ":"))
	want := strings.ToLower(strings.Join(append(DefaultHeaders(), "X-Campaign", "Reply-To"), ":"))
	if got != want {
		t.Errorf("h= %s, want %s", got, want)
	}
}

func TestSign_ChangeAfterSigning_FailsVerification(t *testing.T) {
	keys, d := setup(t)
	s := mustNew(t, keys)
	for _, tc := range []struct {
		name   string
		tamper func(string) string
	}{
		{"body changed", func(m string) string { return strings.Replace(m, "everything must go", "nothing must go", 1) }},
		{"body appended", func(m string) string { return m + "P.S. click here\r\n" }},
		{"subject changed", func(m string) string { return strings.Replace(m, "Subject: Spring sale", "Subject: Winter sale", 1) }},
		{"unsubscribe added", func(m string) string {
			return strings.Replace(m, "\r\n\r\n", "\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n", 1)
		}},
	} {
		for _, domain := range []string{"rsa.example", "ed.example"} {
			t.Run(tc.name+"/"+domain, func(t *testing.T) {
				signed, _, err := s.Sign(testMsg(domain), "")
				if err != nil {
					t.Fatal(err)
				}
				vs := verify(t, d, []byte(tc.tamper(string(signed))))
				if len(vs) != 1 || vs[0].Err == nil {
					t.Fatalf("tampered message verified: %+v", vs)
				}
			})
		}
	}
}

func TestSign_WhitespaceChangedInTransit_StillVerifiesUnderRelaxed(t *testing.T) {
	keys, d := setup(t)
	signed, _, err := mustNew(t, keys).Sign(testMsg("rsa.example"), "")
	if err != nil {
		t.Fatal(err)
	}
	relayed := strings.Replace(string(signed), "Subject: Spring sale", "subject:   Spring\t sale ", 1)
	relayed = strings.Replace(relayed, "everything must go.", "everything   must go.   ", 1)
	if vs := verify(t, d, []byte(relayed)); vs[0].Err != nil {
		t.Fatalf("relaxed canonicalisation should absorb whitespace: %v", vs[0].Err)
	}
}

func TestSign_NoKeyForEitherDomain_ReturnsMessageUnchanged(t *testing.T) {
	keys, _ := setup(t)
	msg := testMsg("other.example")
	signed, ok, err := mustNew(t, keys).Sign(msg, "bounce@other.example")
	if err != nil || ok {
		t.Fatalf("Sign = %v, %v; want false, nil", ok, err)
	}
	if &signed[0] != &msg[0] || len(signed) != len(msg) {
		t.Error("message was copied or changed")
	}
}

func TestSign_NoKeyForFromDomain_UsesEnvelopeSenderDomain(t *testing.T) {
	keys, d := setup(t)
	signed, ok, err := mustNew(t, keys).Sign(testMsg("other.example"), "bounces+123@ED.example")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	if vs := verify(t, d, signed); vs[0].Err != nil || vs[0].Domain != "ed.example" {
		t.Fatalf("verifications = %+v", vs)
	}
}

func TestSign_KeysForFromAndEnvelopeDomains_FromDomainWins(t *testing.T) {
	keys, d := setup(t)
	signed, _, err := mustNew(t, keys).Sign(testMsg("RSA.Example"), "bounce@ed.example")
	if err != nil {
		t.Fatal(err)
	}
	if vs := verify(t, d, signed); len(vs) != 1 || vs[0].Domain != "rsa.example" || vs[0].Err != nil {
		t.Fatalf("verifications = %+v", vs)
	}
}

func TestSign_NoFromField_ReturnsMessageUnchanged(t *testing.T) {
	keys, _ := setup(t)
	msg := []byte("To: bob@example.org\r\nSubject: x\r\n\r\nbody\r\n")
	signed, ok, err := mustNew(t, keys).Sign(msg, "bounce@rsa.example")
	if err != nil || ok || !bytes.Equal(signed, msg) {
		t.Fatalf("Sign = %v, %v; want unchanged", ok, err)
	}
}

func TestSign_UnparsableFrom_UsesEnvelopeSenderDomain(t *testing.T) {
	keys, d := setup(t)
	msg := []byte("From: not an address at all\r\nSubject: x\r\n\r\nbody\r\n")
	signed, ok, err := mustNew(t, keys).Sign(msg, "bounce@rsa.example")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	if vs := verify(t, d, signed); vs[0].Err != nil {
		t.Fatal(vs[0].Err)
	}
}

func TestSign_BareLineFeeds_NormalisedToCRLFAndVerify(t *testing.T) {
	keys, d := setup(t)
	msg := bytes.ReplaceAll(testMsg("rsa.example"), []byte("\r\n"), []byte("\n"))
	signed, ok, err := mustNew(t, keys).Sign(msg, "")
	if err != nil || !ok {
		t.Fatalf("Sign = %v, %v", ok, err)
	}
	if bytes.Contains(bytes.ReplaceAll(signed, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("signed message has bare LF")
	}
	if vs := verify(t, d, signed); vs[0].Err != nil {
		t.Fatal(vs[0].Err)
	}
}

func TestSign_NilOrEmptySigner_SignsNothing(t *testing.T) {
	msg := testMsg("rsa.example")
	for _, s := range []*Signer{nil, mustNew(t, nil)} {
		if out, ok, err := s.Sign(msg, "a@rsa.example"); ok || err != nil || !bytes.Equal(out, msg) {
			t.Errorf("Sign = %v, %v", ok, err)
		}
	}
}

func TestSign_ConcurrentCalls_AllVerify(t *testing.T) {
	keys, d := setup(t)
	s := mustNew(t, keys)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			domain := []string{"rsa.example", "ed.example"}[i%2]
			for range 10 {
				signed, ok, err := s.Sign(testMsg(domain), "")
				if err != nil || !ok {
					t.Errorf("Sign = %v, %v", ok, err)
					return
				}
				if vs := verify(t, d, signed); vs[0].Err != nil {
					t.Error(vs[0].Err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNew_BadKey_ErrorNamesDomainSelectorAndFile(t *testing.T) {
	rk, _ := testKeys(t)
	dir := t.TempDir()
	good := writePEM(t, dir, "good.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk))
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  Key
		want string
	}{
		{"missing file", Key{Domain: "a.example", Selector: "s", KeyFile: filepath.Join(dir, "nope.pem")}, "no such file"},
		{"not PEM", Key{Domain: "a.example", Selector: "s", KeyFile: notPEM}, "no PEM block"},
		{"EC key", Key{Domain: "a.example", Selector: "s", KeyFile: writePEM(t, dir, "ec.pem", "PRIVATE KEY", ecKeyDER(t))}, "unsupported key type"},
		{"wrong PEM type", Key{Domain: "a.example", Selector: "s", KeyFile: writePEM(t, dir, "cert.pem", "CERTIFICATE", []byte{1})}, "CERTIFICATE"},
		{"corrupt DER", Key{Domain: "a.example", Selector: "s", KeyFile: writePEM(t, dir, "bad.pem", "RSA PRIVATE KEY", []byte{1, 2, 3})}, "asn1"},
		{"no selector", Key{Domain: "a.example", KeyFile: good}, "required"},
		{"bad extra header", Key{Domain: "a.example", Selector: "s", KeyFile: good, Headers: []string{"X-A: b"}}, "not a header field name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]Key{tc.key})
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, want := range []string{tc.want, `"` + tc.key.Domain + `"`, `"` + tc.key.KeyFile + `"`, `"` + tc.key.Selector + `"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestNew_SameDomainAndSelectorTwice_IsError(t *testing.T) {
	keys, _ := setup(t)
	keys[1] = keys[0]
	keys[1].Domain = "RSA.example."
	if _, err := New(keys); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err = %v, want a duplicate error", err)
	}
}
