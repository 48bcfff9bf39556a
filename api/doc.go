// Package api serves Sluice's network APIs: for now the HTTP basics
// (/healthz and Prometheus /metrics); the gRPC services, the REST gateway
// and the web monitor join it with their issue.
//
// The API never touches the spool directly: everything goes through the
// engine, which is the one owner of queued mail.
package api
