package acct

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openLog opens a log in a temporary directory; zero fields of opts take
// test-friendly values (no background flusher, a fake clock).
func openLog(t testing.TB, opts Options) (*Log, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = -1
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, clock
}

// sampleRecord returns a bounce record numbered i.
func sampleRecord(i int) Record {
	return Record{
		Type:       TypeBounced,
		TimeQueued: time.Date(2025, 3, 4, 9, 0, 0, 123e6, time.UTC),
		TimeLogged: time.Date(2025, 3, 4, 10, 30, 0, 456e6, time.FixedZone("CET", 3600)),
		From:       "bounces@platform.example", Recipient: "user" + strconv.Itoa(i) + "@example.com",
		VMTA: "vmta-1", SourceIP: "203.0.113.5", DestHost: "mx1.example.com", DestIP: "192.0.2.25",
		DSNAction: "failed", DSNStatus: "5.1.1", DSNDiag: "smtp;550 5.1.1 user unknown",
		Size: 12345, Campaign: "spring", MsgID: "m" + strconv.Itoa(i), JobID: "job-7", TLS: true, Attempt: 2,
	}
}

// readCSV parses a CSV file, checks its header row and returns the rows.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(Columns, ",") {
		t.Fatalf("%s: header row %v, want %v", path, rows, Columns)
	}
	return rows[1:]
}

func TestWrite_CSV_ReadsBackWithEncodingCSV(t *testing.T) {
	l, _ := openLog(t, Options{})
	tricky := sampleRecord(1)
	tricky.DSNDiag = "smtp;550-5.7.1 \"blocked\", see https://x.example/a,b\r\n550 5.7.1 second line"
	if err := l.Write(sampleRecord(0), tricky, Record{Type: TypeTransient}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, l.Files()[0])
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	want := []string{"b", "2025-03-04T09:30:00.456Z", "2025-03-04T09:00:00.123Z", "bounces@platform.example",
		"user0@example.com", "vmta-1", "203.0.113.5", "mx1.example.com", "192.0.2.25", "failed", "5.1.1",
		"smtp;550 5.1.1 user unknown", "", "12345", "spring", "m0", "job-7", "true", "2"}
	if strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("row 0:\n got %q\nwant %q", rows[0], want)
	}
	// encoding/csv reads a quoted CRLF back as LF.
	if got, w := rows[1][11], strings.ReplaceAll(tricky.DSNDiag, "\r\n", "\n"); got != w {
		t.Errorf("diagnostic = %q, want %q", got, w)
	}
	if rows[2][1] != "" || rows[2][2] != "" || rows[2][13] != "0" || rows[2][17] != "false" {
		t.Errorf("zero record = %q", rows[2])
	}
}

func TestWrite_JSONL_ReadsBackWithSameFieldNames(t *testing.T) {
	l, _ := openLog(t, Options{Format: FormatJSONL})
	rec := sampleRecord(3)
	rec.DSNDiag = "smtp;550 <a&b> \"quoted\",\nnext line"
	if err := l.Write(rec); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, err := os.ReadFile(l.Files()[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(l.Files()[0], ".jsonl") || bytes.Count(data, []byte("\n")) != 1 {
		t.Fatalf("want one line in a .jsonl file, got %s: %q", l.Files()[0], data)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(Columns) {
		t.Errorf("%d fields, want %d: %v", len(m), len(Columns), m)
	}
	for _, c := range Columns {
		if _, ok := m[c]; !ok {
			t.Errorf("field %q missing", c)
		}
	}
	if m["dsnDiag"] != rec.DSNDiag || m["dlvSize"] != float64(12345) || m["tls"] != true || m["timeLogged"] != "2025-03-04T09:30:00.456Z" {
		t.Errorf("values: %v", m)
	}
}

func TestRotate_BySize_EachFileHasHeaderAndStaysUnderMaxSize(t *testing.T) {
	const maxSize = 2000
	l, _ := openLog(t, Options{MaxSize: maxSize})
	for i := range 100 {
		if err := l.Write(sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	files := l.Files()
	if len(files) < 5 {
		t.Fatalf("%d files, want rotation by size", len(files))
	}
	total := 0
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize {
			t.Errorf("%s: %d octets, over MaxSize", f, fi.Size())
		}
		for j, row := range readCSV(t, f) {
			if row[15] != "m"+strconv.Itoa(total) {
				t.Fatalf("file %d row %d: msgid %q, want m%d (order lost)", i, j, row[15], total)
			}
			total++
		}
	}
	if total != 100 {
		t.Errorf("%d records, want 100", total)
	}
	if filepath.Base(files[1]) != "acct-20250304-093000.1.csv" {
		t.Errorf("second file in the same second is %s", filepath.Base(files[1]))
	}
}

func TestRotate_ByAge_WithInjectedClock(t *testing.T) {
	l, clock := openLog(t, Options{MaxAge: time.Hour})
	l.Write(sampleRecord(0))
	clock.Advance(59 * time.Minute)
	l.Write(sampleRecord(1))
	if n := len(l.Files()); n != 1 {
		t.Fatalf("rotated before MaxAge: %d files", n)
	}
	clock.Advance(time.Minute)
	l.Write(sampleRecord(2))
	files := l.Files()
	if len(files) != 2 || filepath.Base(files[1]) != "acct-20250304-103000.csv" {
		t.Fatalf("files %v, want a second file named for 10:30:00", files)
	}
	l.Close()
	if a, b := len(readCSV(t, files[0])), len(readCSV(t, files[1])); a != 2 || b != 1 {
		t.Errorf("records per file %d, %d; want 2, 1", a, b)
	}
}

func TestRotate_ByAge_IdleFileIsClosedByTheFlusher(t *testing.T) {
	l, clock := openLog(t, Options{MaxAge: time.Hour, FlushInterval: 5 * time.Millisecond})
	l.Write(sampleRecord(0))
	clock.Advance(2 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for len(l.Files()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("aged file not rotated while idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rows := readCSV(t, l.Files()[0]); len(rows) != 1 {
		t.Errorf("rotated file holds %d records, want 1", len(rows))
	}
}

func TestRotate_EmptyFileIsNotRotatedByAge(t *testing.T) {
	l, clock := openLog(t, Options{MaxAge: time.Hour})
	clock.Advance(3 * time.Hour)
	l.Write(sampleRecord(0))
	if n := len(l.Files()); n != 1 {
		t.Errorf("%d files: an empty file was rotated", n)
	}
}

func TestWrite_ConcurrentWriters_NoRecordLostOrTorn(t *testing.T) {
	const writers, each = 8, 300
	l, _ := openLog(t, Options{MaxSize: 16 << 10, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := sampleRecord(w*each + i)
				if err := l.Write(r, r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range l.Files() {
		for _, row := range readCSV(t, f) {
			seen[row[15]]++
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct records, want %d", len(seen), writers*each)
	}
	for id, n := range seen {
		if n != 2 {
			t.Fatalf("record %s seen %d times, want 2", id, n)
		}
	}
}

func TestClose_FlushesBufferedRecords(t *testing.T) {
	l, _ := openLog(t, Options{})
	l.Write(sampleRecord(0), sampleRecord(1))
	path := l.Files()[0]
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("%d octets on disk before any flush; the write buffer was bypassed", fi.Size())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, path); len(rows) != 2 {
		t.Errorf("%d records after Close, want 2", len(rows))
	}
	if err := l.Write(sampleRecord(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := l.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestFlush_MakesRecordsVisibleWithoutClose(t *testing.T) {
	l, _ := openLog(t, Options{})
	l.Write(sampleRecord(0))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, l.Files()[0]); len(rows) != 1 {
		t.Errorf("%d records after Flush, want 1", len(rows))
	}
}

func TestOpen_LinkPointsAtTheCurrentFile(t *testing.T) {
	l, _ := openLog(t, Options{MaxSize: 600})
	for i := range 5 {
		l.Write(sampleRecord(i))
	}
	files := l.Files()
	target, err := os.Readlink(filepath.Join(filepath.Dir(files[0]), "acct.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if target != filepath.Base(files[len(files)-1]) {
		t.Errorf("acct.csv -> %s, want %s", target, filepath.Base(files[len(files)-1]))
	}
}

func TestOpen_ExistingFileOfSameSecond_GetsSuffix(t *testing.T) {
	dir := t.TempDir()
	a, _ := openLog(t, Options{Dir: dir})
	b, _ := openLog(t, Options{Dir: dir})
	if a.Files()[0] == b.Files()[0] || !strings.HasSuffix(b.Files()[0], ".1.csv") {
		t.Errorf("files %s and %s", a.Files()[0], b.Files()[0])
	}
}

func TestOpen_InvalidOptions_SayWhatToFix(t *testing.T) {
	for _, opts := range []Options{{}, {Dir: t.TempDir(), Format: "xml"}} {
		if _, err := Open(opts); err == nil {
			t.Errorf("Open(%+v) succeeded", opts)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, format := range []string{FormatCSV, FormatJSONL} {
		b.Run(format, func(b *testing.B) {
			l, _ := openLog(b, Options{Format: format, FlushInterval: time.Second})
			rec := sampleRecord(1)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Write(rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// ExampleLog shows the CSV a delivery record becomes.
func ExampleLog() {
	dir, _ := os.MkdirTemp("", "acct")
	defer os.RemoveAll(dir)
	l, _ := Open(Options{Dir: dir, FlushInterval: -1, Clock: newFakeClock().Now})
	l.Write(Record{Type: TypeDelivered, TimeLogged: time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC),
		From: "b@platform.example", Recipient: "jdoe@example.com", DSNAction: "delivered", DSNStatus: "2.0.0",
		DSNDiag: "smtp;250 2.0.0 OK, queued", Size: 2048, Attempt: 1})
	l.Close()
	f, _ := os.Open(l.Files()[0])
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fmt.Println(s.Text())
	}
	// Output:
	// type,timeLogged,timeQueued,orig,rcpt,vmta,dlvSourceIp,dsnMta,dlvDestinationIp,dsnAction,dsnStatus,dsnDiag,bounceCat,dlvSize,campaign,msgid,jobId,tls,attempt
	// d,2025-03-04T09:30:00.000Z,,b@platform.example,jdoe@example.com,,,,,delivered,2.0.0,"smtp;250 2.0.0 OK, queued",,2048,,,,false,1
}
