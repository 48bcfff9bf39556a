// Package acct writes the accounting log: one record per delivery event
// (delivered, bounced, deferred, feedback), in rotating CSV or JSON Lines
// files, in the manner of PowerMTA's acct-*.csv. Ops and the injecting
// platforms load these files into their own systems; they are the record of
// what happened to each recipient.
//
// # Files
//
// Files live in Options.Dir and are named for the moment they were opened,
// in UTC: acct-YYYYMMDD-HHMMSS.csv (or .jsonl), with a ".N" before the
// extension when that name is taken (acct-20250304-093000.1.csv). A file is
// never renamed. A symbolic link acct.csv (acct.jsonl) points at the file
// being written, for tail -F; every other acct-* file is complete and will
// not change, so a shipper may pick up any file that is not the link's
// target. A new file is started when the current one would grow past
// Options.MaxSize, when it is older than Options.MaxAge and holds records,
// at Open, and after a write error.
//
// # Columns
//
// Every CSV file starts with a header row; a JSON Lines record is an object
// with the same names. Names follow PowerMTA's accounting fields where one
// exists:
//
//	type             d delivered, b bounced, t transient (deferred), f feedback
//	timeLogged       when the event happened (RFC 3339, UTC, milliseconds)
//	timeQueued       when the message was accepted (same format)
//	orig             envelope sender
//	rcpt             recipient
//	vmta             virtual MTA that made the attempt
//	dlvSourceIp      local (source) IP of the delivery
//	dsnMta           remote MX host name talked to
//	dlvDestinationIp remote IP talked to
//	dsnAction        failed, delayed, delivered, relayed, expanded
//	dsnStatus        enhanced status code, 5.1.1
//	dsnDiag          the remote reply, smtp;550 5.1.1 user unknown
//	bounceCat        bounce category (from feedback), "" when none
//	dlvSize          message size in octets
//	campaign         campaign of the injecting platform (Sluice's own)
//	msgid            Sluice message ID (Sluice's own)
//	jobId            job ID of the injecting platform
//	tls              true when the delivery used TLS (Sluice's own)
//	attempt          delivery attempt number, 1 for the first (Sluice's own)
//
// A zero time is written as an empty field. CSV quoting is RFC 4180's
// (encoding/csv): a field with a comma, quote or line break is quoted, so
// a multi-line diagnostic stays one record. Lines end in LF.
//
// # Durability
//
// Write appends to an in-memory buffer under one lock and returns; there is
// no fsync per record. The buffer is written to the file at least every
// Options.FlushInterval, when it fills, on Flush and on Close; a file is
// fsynced when it is closed (at rotation and Close). A crash may therefore
// lose up to the last FlushInterval of records, and a power loss what the
// kernel had not written. That is by design: the spool is the truth about
// every recipient, and accounting is its record, not a second commit log. A
// write error is returned to the caller, who should log it and go on:
// delivery must not stop because accounting cannot write.
//
// # What it must never do
//
// Import other Sluice packages, block a writer on disk I/O longer than one
// buffered write, or rewrite a file once it is complete.
package acct
