package spool

import (
	"errors"
	"testing"
	"time"
)

func TestRecords_ListDelete(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	for k, ttl := range map[string]time.Duration{"cfg/a": time.Hour, "cfg/b": 2 * time.Hour, "cfgx": time.Hour, "other/a": time.Hour} {
		if err := s.PutRecord(k, []byte("v-"+k), clock.Now().Add(ttl)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListRecords("cfg/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["cfg/a"]) != "v-cfg/a" || string(got["cfg/b"]) != "v-cfg/b" {
		t.Fatalf("list: %q", got)
	}
	if err := s.DeleteRecord("cfg/a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord("cfg/none"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
	if _, err := s.GetRecord("cfg/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err = s2.ListRecords("cfg/")
	if err != nil || len(got) != 1 || string(got["cfg/b"]) != "v-cfg/b" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
	clock.Advance(time.Hour + time.Minute)
	if got, err = s2.ListRecords("cfg"); err != nil || len(got) != 1 {
		t.Fatalf("expired records listed: %q, %v", got, err)
	}
	if got, err = s2.ListRecords("nothing/"); err != nil || len(got) != 0 {
		t.Fatalf("empty prefix: %q, %v", got, err)
	}
}
