package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert makes a self-signed certificate for 127.0.0.1 (also usable as a
// CA) and writes cert and key PEM files into dir.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestServe_APIOverMutualTLS_RefusesClientsWithoutACertificate(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := writeCert(t, dir, "server")
	caFile, _, clientCert := writeCert(t, dir, "client")
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr,
		"delivery: {hold: true}\napi:\n  tls: {cert: "+srvCert+", key: "+srvKey+", client_ca: "+caFile+"}\n")
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	roots := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(srvCert)
	roots.AppendCertsFromPEM(pemBytes)
	get := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: certs}}}
		return c.Get("https://" + httpAddr + "/healthz")
	}
	resp, err := get([]tls.Certificate{clientCert})
	if err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a client certificate: %s", resp.Status)
	}
	if resp, err := get(nil); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate was served")
	} else if !strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "tls") {
		t.Logf("refused as expected: %v", err)
	}
}
