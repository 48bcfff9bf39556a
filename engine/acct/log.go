package acct

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("acct: log is closed")

// bufferSize is the write buffer in front of each file.
const bufferSize = 64 << 10

// maxSuffix bounds the ".N" tried for a name that is taken.
const maxSuffix = 10000

// Log is an open accounting log. Its methods are safe for concurrent use.
type Log struct {
	opts   Options // immutable after Open
	ext    string
	header []byte // first line of every file; nil for JSON Lines
	stop   chan struct{}
	done   chan struct{}

	mu struct {
		sync.Mutex
		enc     encoder // reuses one buffer: used under mu only
		f       *os.File
		w       *bufio.Writer
		name    string    // path of f
		opened  time.Time // Clock() when f was created
		size    int64     // octets in f, buffered ones included
		records int       // records in f
		broken  bool      // a write to f failed: start a new file first
		files   []string
		closed  bool
	}
}

// Open creates opts.Dir if needed and starts a new file in it (see the
// package documentation for names and rotation).
func Open(opts Options) (*Log, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("acct: create directory: %w", err)
	}
	l := &Log{opts: opts, ext: opts.Format}
	if opts.Format == FormatCSV {
		enc := newCSVEncoder()
		l.header = append([]byte(nil), enc.header()...)
		l.mu.enc = enc
	} else {
		l.mu.enc = newJSONEncoder()
	}
	l.mu.Lock()
	err := l.openFileLocked()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if opts.FlushInterval > 0 {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.flusher()
	}
	return l, nil
}

// Write appends recs to the log. It only encodes into a buffer (the file
// write happens when the buffer fills, at the next flush, or at rotation),
// so it is cheap; see the package documentation for what a crash loses.
// An error means some records may not have reached the file; the next
// Write starts a new file.
func (l *Log) Write(recs ...Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	now := l.opts.Clock()
	var lost error
	for i := range recs {
		line, err := l.mu.enc.encode(&recs[i])
		if err != nil {
			return fmt.Errorf("acct: encode record for %s: %w", recs[i].Recipient, err)
		}
		if l.needRotateLocked(now, len(line)) {
			if err := l.rotateLocked(); err != nil {
				if l.mu.f == nil {
					return err
				}
				lost = err
			}
		}
		n, err := l.mu.w.Write(line)
		l.mu.size += int64(n)
		if err != nil {
			l.mu.broken = true
			return fmt.Errorf("acct: write %s: %w", l.mu.name, err)
		}
		l.mu.records++
	}
	return lost
}

// needRotateLocked reports whether a record of n octets must go into a new
// file.
func (l *Log) needRotateLocked(now time.Time, n int) bool {
	switch {
	case l.mu.f == nil || l.mu.broken:
		return true
	case l.mu.records == 0:
		return false
	case l.opts.MaxSize > 0 && l.mu.size+int64(n) > l.opts.MaxSize:
		return true
	default:
		return l.opts.MaxAge > 0 && now.Sub(l.mu.opened) >= l.opts.MaxAge
	}
}

// Flush writes buffered records to the file (without fsync).
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	return l.flushLocked()
}

// flushLocked writes the buffer to the current file.
func (l *Log) flushLocked() error {
	if l.mu.w == nil {
		return nil
	}
	if err := l.mu.w.Flush(); err != nil {
		l.mu.broken = true
		return fmt.Errorf("acct: flush %s: %w", l.mu.name, err)
	}
	return nil
}

// Close flushes, fsyncs and closes the current file and stops the flusher.
// A second Close returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.mu.Unlock()
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeFileLocked()
}

// Files returns the paths of the files this Log created, oldest first; the
// last is the one being written until Close.
func (l *Log) Files() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.mu.files...)
}

// flusher flushes the buffer every FlushInterval and rotates a file that
// aged while no Write came.
func (l *Log) flusher() {
	defer close(l.done)
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.tick(); err != nil {
				slog.Warn("acct: background flush failed", "dir", l.opts.Dir, "err", err)
			}
		}
	}
}

// tick is one round of the flusher.
func (l *Log) tick() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed || l.mu.f == nil {
		return nil
	}
	if l.mu.records > 0 && l.opts.MaxAge > 0 && l.opts.Clock().Sub(l.mu.opened) >= l.opts.MaxAge {
		return l.rotateLocked()
	}
	return l.flushLocked()
}

// rotateLocked closes the current file (if any) and opens a new one. When
// only closing failed, the new file is open and the error says what was
// lost.
func (l *Log) rotateLocked() error {
	closeErr := l.closeFileLocked()
	if err := l.openFileLocked(); err != nil {
		return errors.Join(closeErr, err)
	}
	return closeErr
}

// closeFileLocked flushes, fsyncs and closes the current file.
func (l *Log) closeFileLocked() error {
	if l.mu.f == nil {
		return nil
	}
	var errs []error
	if err := l.mu.w.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("acct: flush %s: %w", l.mu.name, err))
	}
	if err := l.mu.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("acct: sync %s: %w", l.mu.name, err))
	}
	if err := l.mu.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("acct: close %s: %w", l.mu.name, err))
	}
	l.mu.f, l.mu.w = nil, nil
	return errors.Join(errs...)
}

// openFileLocked creates the next file, writes its header and points the
// acct.<ext> link at it.
func (l *Log) openFileLocked() error {
	now := l.opts.Clock()
	base := "acct-" + now.UTC().Format("20060102-150405")
	for n := 0; n < maxSuffix; n++ {
		name := base
		if n > 0 {
			name += "." + strconv.Itoa(n)
		}
		name += "." + l.ext
		path := filepath.Join(l.opts.Dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("acct: create %s: %w", path, err)
		}
		l.mu.f, l.mu.name, l.mu.opened = f, path, now
		l.mu.w = bufio.NewWriterSize(f, bufferSize)
		l.mu.w.Write(l.header) // cannot fail: smaller than the buffer
		l.mu.size, l.mu.records, l.mu.broken = int64(len(l.header)), 0, false
		l.mu.files = append(l.mu.files, path)
		l.linkCurrent(name)
		return nil
	}
	return fmt.Errorf("acct: create file in %s: %s.N.%s taken for N up to %d", l.opts.Dir, base, l.ext, maxSuffix)
}

// linkCurrent points the acct.<ext> symbolic link at name, atomically. It
// never replaces anything but a symbolic link, and its failure does not
// stop the log: the link is a convenience for operators.
func (l *Log) linkCurrent(name string) {
	link := filepath.Join(l.opts.Dir, "acct."+l.ext)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		slog.Warn("acct: not replacing a file that is not a symbolic link", "path", link)
		return
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	err := os.Symlink(name, tmp)
	if err == nil {
		err = os.Rename(tmp, link)
	}
	if err != nil {
		slog.Warn("acct: cannot link the current file", "path", link, "err", err)
	}
}
