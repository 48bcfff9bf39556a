// Package proto holds Sluice's protobuf sources (proto/sluice/v1) and their
// generated Go code (package sluicev1), which is committed: `make proto`
// regenerates it, and the OpenAPI document api/openapi/sluice.swagger.json,
// with Debian's protoc and the plugin versions pinned in
// .ci/install-deps.sh. The google/api annotation protos are vendored under
// third_party/googleapis. Building Sluice never needs protoc.
package proto
