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

func TestPutRecords_OneBatch_ListedAndReadBack(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	exp := clock.Now().Add(time.Hour)
	if err := s.PutRecords([]Record{{"t/a", []byte("1"), exp}, {"t/b", []byte("2"), exp}, {"u/c", []byte("3"), exp}}, true); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRecords("t/")
	if err != nil || len(got) != 2 || string(got["t/b"]) != "2" {
		t.Fatalf("list: %v %v", got, err)
	}
	if v, err := s.GetRecord("u/c"); err != nil || string(v) != "3" {
		t.Fatalf("get: %q %v", v, err)
	}
}
