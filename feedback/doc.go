// Package feedback turns what receivers say into decisions: SMTP reply
// classification, bounce categories, adaptive rate control, DSN and ARF
// parsing, suppression. It is pure policy: no goroutines, no clocks read
// inside, no I/O.
//
// It lands with the feedback issue.
package feedback
