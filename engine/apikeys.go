package engine

import (
	"errors"
	"strings"

	"github.com/sluice-mta/sluice/engine/spool"
)

// keyRecord is the spool record prefix of API keys created through the API.
const keyRecord = "apikey/"

// APIKeyStore keeps API-created keys (hashed) in the spool: it satisfies
// the API's KeyStore (checked there).
type APIKeyStore struct{ e *Engine }

// APIKeys returns the engine's durable API key store.
func (e *Engine) APIKeys() APIKeyStore { return APIKeyStore{e} }

// PutKeyRecord stores a key record durably.
func (s APIKeyStore) PutKeyRecord(name string, data []byte) error {
	return s.e.spool.PutRecord(keyRecord+name, data, farFuture)
}

// DeleteKeyRecord removes a key record.
func (s APIKeyStore) DeleteKeyRecord(name string) error {
	return s.e.spool.DeleteRecord(keyRecord + name)
}

// KeyRecords returns every stored key record by name.
func (s APIKeyStore) KeyRecords() (map[string][]byte, error) {
	recs, err := s.e.spool.ListRecords(keyRecord)
	if err != nil && !errors.Is(err, spool.ErrNotFound) {
		return nil, err
	}
	out := make(map[string][]byte, len(recs))
	for k, v := range recs {
		out[strings.TrimPrefix(k, keyRecord)] = v
	}
	return out, nil
}
