package engine

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

func TestAdmin_PurgeWithoutDSN_EveryRecipientAccountedAndEvented(t *testing.T) {
	w := newWorld(t, 0)
	dir := t.TempDir()
	e := w.engine(t, dir, nil)
	e.Pause(QueueFilter{Domain: "p.test"})
	id := submit(t, e, "pat@sender.example", "x@p.test", "y@p.test")
	n, err := e.Purge(context.Background(), QueueFilter{Domain: "p.test"}, false)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v", n, err)
	}
	evs := takeEvents(t, e, 0, EventFilter{Domain: "p.test"}, 2)
	if s := eventSummary(evs); !slices.Equal(s, []string{"bounced x@p.test", "bounced y@p.test"}) {
		t.Fatalf("events %v", s)
	}
	if evs[0].MsgID != id || evs[0].Reply == "" {
		t.Fatalf("event %+v", evs[0])
	}
	if err := e.Close(); err != nil { // flushes the accounting log
		t.Fatal(err)
	}
	if w.capture.count() != 0 {
		t.Fatal("a DSN was sent for a purge without DSN")
	}
	var got []string
	for _, row := range readAcct(t, filepath.Join(dir, "acct")) {
		// type, ..., orig(3), rcpt(4), ..., dsnAction(9), dsnStatus(10)
		got = append(got, row[0]+" "+row[3]+" "+row[4]+" "+row[9]+" "+row[10])
	}
	slices.Sort(got)
	want := []string{"b pat@sender.example x@p.test failed 5.0.0", "b pat@sender.example y@p.test failed 5.0.0"}
	if !slices.Equal(got, want) {
		t.Fatalf("accounting rows %v, want %v", got, want)
	}
}
