package spool

import (
	"errors"
	"testing"
	"time"
)

func TestRecords_PutGetExpireReopen(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	if err := s.PutRecord("k1", []byte("result"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	v, err := s2.GetRecord("k1")
	if err != nil || string(v) != "result" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
	clock.Advance(time.Hour)
	if _, err := s2.GetRecord("k1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired record: %v", err)
	}
}
