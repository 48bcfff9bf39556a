// Package api serves Sluice's network APIs: the HTTP basics (/healthz,
// Prometheus /metrics, pprof, the web monitor at /), the gRPC services of
// proto/sluice/v1 (Injector; with Options.Admin also Queues, Vmtas, Pools,
// Stats, Events, Warmup, Feedback and Suppressions) and their REST gateway
// with the OpenAPI document. The web monitor (monitor.go) is a page embedded
// in the binary that reads the REST API with the operator's key.
//
// The API never touches the spool directly: everything goes through the
// engine's one door, Submitter.Submit, which returns only once the message
// is durable. So an API success means "on disk": a recipient reported
// QUEUED survives kill -9.
//
// # Injection
//
// Inject is one message; InjectBatch one content for up to 10,000
// recipients; InjectStream a bidirectional stream of messages. Templated
// content (engine/compose) is parsed once per request and rendered once per
// recipient, each rendering queued as its own message; raw_mime is stored
// once for up to MaxRecipients recipients. The order of work is
//
//	authenticate (interceptor or REST middleware) -> role (authorize)
//	-> idempotency (replay or become the one flight for the key)
//	-> request checks (recipients, sender domain, pool)
//	-> parse, then check and render every recipient (nothing queued yet)
//	-> submit, SubmitConcurrency at a time (group commits)
//
// All-or-nothing (the default) holds for everything that can be known
// before storing: a bad address, a template error, a missing variable or an
// oversized rendering rejects the whole request with InvalidArgument naming
// every bad field, and nothing is queued. What cannot be known in advance —
// the spool failing (disk low, I/O error) after some messages were stored —
// is reported honestly, not undone: the spool cannot take back an
// acknowledged message, so those recipients are QUEUED with their IDs, the
// failing one REJECTED with its code, the rest NOT_ATTEMPTED. The rule
// clients can rely on: an RPC fails (error status) exactly when nothing was
// queued; otherwise it succeeds and each recipient has its own status.
//
// # Administration
//
// Queues (list, pause, resume, flush, purge), Vmtas (list, disable,
// enable), Pools (list) and Stats (spool totals) are thin translations onto
// Options.Admin, the engine's admin methods (the Admin interface, declared
// here, its consumer). Listing and stats need the read role, every change
// admin; an inject key may call none of them. They are registered only
// with Options.Admin, and the served OpenAPI document then lists their
// routes; without it the document leaves them out. Rules beyond the
// engine's:
//
//   - a filter is (vmta, domain), an empty field matching all; the domain
//     is lowercased, as the engine stores it;
//   - purging with an empty filter needs all=true (InvalidArgument on
//     "all" otherwise); purge bounces (dsn) unless dsn is false;
//   - an unknown vmta is NotFound naming it (message and ResourceInfo);
//   - a flush or purge that fails part-way reports how many recipients it
//     had handled (Unavailable, Canceled or DeadlineExceeded) and may be
//     retried: nothing is done twice;
//   - every change is logged with the API key's name.
//
// Vmta disable/enable lasts until restart (the file's `disabled:` is the
// lasting switch); vmtas and pools are created and changed in the file.
//
// Warmup (list, get, pause, resume, advance, reset), Feedback (actions in
// force and their lift, inbound reports, the unreadable ones kept) and
// Suppressions (list, add, delete, CSV import) follow the same rules:
//
//   - a vmta without a warm-up plan is NotFound; an unknown receiver group
//     InvalidArgument on "group"; a change answers the vmta's status after
//     it;
//   - LiftAction is logged and in the event stream as "lifted by api key
//     <name>"; nothing in force is NotFound, an unknown kind
//     InvalidArgument on "kind";
//   - ReportFeedback (admin) takes a bounce sent to a VERP return path or an
//     ARF complaint; a wrong request (kind, recipient) is InvalidArgument
//     naming the field and is not kept, an unreadable report is
//     InvalidArgument on "message" and is kept for ListBadFeedback;
//   - suppression changes are all or none and durable before the answer; a
//     bad address is InvalidArgument naming it ("entries[3].address"), a
//     bad CSV row names its line (field "csv"); an entry's source is "api
//     key <name>"; "*" is a scope only for listing (every scope, as an
//     unset scope);
//   - ListSuppressions pages by page_size (default 100, at most 1000) and
//     an opaque page_token (the last entry's scope and address).
//
// # Errors
//
// Bad input is InvalidArgument with a google.rpc.BadRequest detail whose
// field names the request field ("recipients[3].address",
// "content.subject", an unknown JSON field), and the field also opens the
// message. engine.ErrInvalidEnvelope is InvalidArgument; engine.ErrTooLarge
// is InvalidArgument on "content"; spool.ErrLowSpace is ResourceExhausted;
// a cancelled request Canceled; any other storage failure Unavailable
// (retry, with the same idempotency key).
//
// # Authentication
//
// API keys are 256 random bits ("sluice_" + base64url, NewKey), configured
// by their SHA-256 (HashKey, "sha256:<hex>"). A fast hash is the standard
// for such keys: with 256 bits of entropy there is nothing to brute-force,
// and bcrypt would cost ~50 ms of CPU per request. Clients send
// `authorization: Bearer <key>` (gRPC metadata or HTTP header). No or an
// unknown key is Unauthenticated; a key without the role (inject, admin,
// read; admin may do everything) PermissionDenied, as is a sender domain or
// pool outside the key's lists. Keyless calls from loopback have the admin
// role only with AllowLoopbackWithoutKey (the first-run default), and a
// key that is sent is checked even then. gRPC calls are authenticated by
// interceptors; the REST gateway calls the Server in process, bypassing
// them, so RESTHandler authenticates in an HTTP middleware. Handlers check
// the role themselves and fail closed on an unauthenticated context.
//
// # Idempotency
//
// A request with an idempotency_key runs at most once per (API key, RPC
// kind, idempotency key) within IdempotencyTTL: a retry gets the stored
// response of the first success and queues nothing. Concurrent duplicates
// wait for the first (one flight per key, in this process); a failed
// request is not stored, so its retry runs. Reusing a key for a different
// request is InvalidArgument. Across nodes, only the store can prevent a
// duplicate that arrives at two nodes at the same instant.
//
// # Streaming and flow control
//
// InjectStream acknowledges in request order, each ack sent only after its
// Submit returned. At most StreamWindow messages are being stored; while the
// window is full the server stops reading, gRPC's flow-control window fills
// and the client's Send blocks. A slow spool slows the client; nothing is
// dropped, and memory stays bounded.
//
// # Never
//
// Write to the spool itself; acknowledge before Submit returned; let a
// template variable add a header (compose guarantees it); log API keys.
package api
