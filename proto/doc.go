// Package proto holds Sluice's protobuf sources (proto/sluice/v1) and their
// generated Go code, which is committed. It lands with the API issue.
package proto
