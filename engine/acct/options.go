package acct

import (
	"errors"
	"fmt"
	"time"
)

// Formats of the log files.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// Defaults of Options.
const (
	DefaultMaxSize       = 100 << 20
	DefaultMaxAge        = time.Hour
	DefaultFlushInterval = time.Second
)

// Options configure a Log. Zero values take the defaults (SetDefaults).
type Options struct {
	// Dir is the directory of the files; created if missing. Required.
	Dir string
	// Format is FormatCSV (default; a header row opens each file) or
	// FormatJSONL (one JSON object per line).
	Format string
	// MaxSize, in octets, is the size a file is kept under: a record that
	// would take the file past it goes into a new file (a record larger
	// than MaxSize gets a file of its own). Default 100 MiB; negative means
	// no limit.
	MaxSize int64
	// MaxAge is the longest a file that holds records stays open, counted
	// from its creation. Default 1h; negative means no limit (the zero
	// value cannot mean that, as it takes the default).
	MaxAge time.Duration
	// FlushInterval is how often buffered records are written to the file
	// at least (and an aged file rotated while idle). Default 1s; negative
	// disables the background flusher, leaving writes to a full buffer,
	// Flush and Close.
	FlushInterval time.Duration
	// Clock returns the current time; it names files and ages them. Default
	// time.Now.
	Clock func() time.Time
}

// SetDefaults fills the zero fields of o with their defaults.
func (o *Options) SetDefaults() {
	if o.Format == "" {
		o.Format = FormatCSV
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Validate reports what is wrong with o (after SetDefaults).
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("acct: Options.Dir is empty: set the directory for accounting files")
	}
	if o.Format != FormatCSV && o.Format != FormatJSONL {
		return fmt.Errorf("acct: Options.Format %q: use %q or %q", o.Format, FormatCSV, FormatJSONL)
	}
	return nil
}
