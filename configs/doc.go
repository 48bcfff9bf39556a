// Package configs holds Sluice's configuration file: its schema, the strict
// decoder and the embedded default (sluice.yaml).
//
// The file is YAML. Decoding is strict: an unknown key, a value of the wrong
// kind or a value out of range is an error that names the key and its line,
// for example
//
//	config: line 7: unknown key "dirr" in spool
//
// Load and Parse never return a partially valid Config: a caller either gets a
// Config whose Validate has passed, or an error. Reload (SIGHUP, API) relies on
// that: validate the new file whole, then swap.
//
// This package imports no other Sluice package; the engine maps these plain
// values onto each package's own Config.
package configs

//go:generate go run ./refgen -dir . -o README.md
