package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks. Run: go test -run x -bench . -benchtime 2s ./engine/spool/
//
// Metrics: msgs/s is b.N over wall time; MB/s is body bytes (b.SetBytes); fsyncs/msg
// counts fsync/fdatasync calls on Pebble's WAL files (syncCountingFS, the same counter
// as Stats.WALSyncs) plus, for the body-log variant, the body log's fdatasyncs.

var (
	benchBodies  = []int{1 << 10, 100 << 10}
	benchWriters = []int{1, 16, 64, 256}
)

func benchOptions(dir string) Options {
	return Options{Dir: dir, BallastSize: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkPut measures Put with the default Options.
func BenchmarkPut(b *testing.B) {
	for _, size := range benchBodies {
		for _, w := range benchWriters {
			b.Run(fmt.Sprintf("body=%dKB/writers=%d", size>>10, w), func(b *testing.B) {
				benchPut(b, benchOptions(b.TempDir()), size, w, nil)
			})
		}
	}
}

// BenchmarkPutVariants compares the storage choices that BENCH.md weighs.
func BenchmarkPutVariants(b *testing.B) {
	variants := []struct {
		name    string
		mod     func(*Options)
		bodyLog bool
	}{
		{"mem4MiB", func(o *Options) { o.MemTableSize, o.MemTableStopWritesThreshold = 4<<20, 2 }, false},
		{"mem64MiB", func(o *Options) {}, false}, // the defaults
		{"mem64MiB+blob", func(o *Options) { o.BlobMinSize = 4 << 10 }, false},
		{"bodylog", func(o *Options) {}, true},
	}
	for _, v := range variants {
		for _, size := range benchBodies {
			for _, w := range benchWriters {
				b.Run(fmt.Sprintf("%s/body=%dKB/writers=%d", v.name, size>>10, w), func(b *testing.B) {
					o := benchOptions(b.TempDir())
					v.mod(&o)
					var bl *bodyLog
					if v.bodyLog {
						bl = openBodyLog(b, filepath.Join(o.Dir, "bodies"))
					}
					benchPut(b, o, size, w, bl)
				})
			}
		}
	}
}

func benchPut(b *testing.B, o Options, size, writers int, bl *bodyLog) {
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(size))
	syncs0 := s.Stats().WALSyncs
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			m := msg("v", "user@example.com")
			for next.Add(1) <= int64(b.N) {
				m.Body = body
				if bl != nil {
					m.Body = bl.append(b, body) // the pointer; the body is durable first
				}
				if _, err := s.Put(context.Background(), m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	syncs := s.Stats().WALSyncs - syncs0
	if bl != nil {
		syncs += bl.syncs.Load()
		_ = bl.f.Close()
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/msg")
}

// bodyLog is the prototype of the rejected design: bodies appended to one file and
// group-fdatasynced before the (small) Pebble batch that points at them commits.
type bodyLog struct {
	f     *os.File
	off   atomic.Int64
	syncs atomic.Int64

	mu      sync.Mutex
	cond    *sync.Cond
	syncing bool
	written uint64 // writes completed
	synced  uint64 // writes covered by a finished fdatasync
}

func openBodyLog(b *testing.B, path string) *bodyLog {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	l := &bodyLog{f: f}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *bodyLog) append(b *testing.B, body []byte) []byte {
	off := l.off.Add(int64(len(body))) - int64(len(body))
	if _, err := l.f.WriteAt(body, off); err != nil {
		b.Error(err)
	}
	l.mu.Lock()
	l.written++
	seq := l.written
	for l.synced < seq {
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		target := l.written
		l.mu.Unlock()
		l.syncs.Add(1)
		if err := l.f.Sync(); err != nil {
			b.Error(err)
		}
		l.mu.Lock()
		l.syncing, l.synced = false, target
		l.cond.Broadcast()
	}
	l.mu.Unlock()
	return fmt.Appendf(nil, "%016x%08x", off, len(body))
}

// BenchmarkRawFsync is the floor: writers append 4 KB each to one file in the same
// file system as the spool, each append followed by its own sync (no grouping beyond
// what the kernel and journal do).
func BenchmarkRawFsync(b *testing.B) {
	for _, w := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4<<10)
			b.SetBytes(int64(len(buf)))
			var next, off atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range w {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := f.WriteAt(buf, off.Add(int64(len(buf)))-int64(len(buf))); err != nil {
							b.Error(err)
							return
						}
						if err := f.Sync(); err != nil { // fsync(2); Go has no fdatasync on *os.File
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "syncs/s")
		})
	}
}
