// Package scenarios holds the benchmark scenarios that `sluice bench run`
// ships with, as YAML files embedded in the binary, and their schema.
//
// One job: name and describe a load (how many messages, how big, to how many
// recipients and domains, how the sink answers, what the engine is told)
// without knowing how it is run; bench/run runs it.
//
// A scenario file, every key but name optional (defaults in Scenario):
//
//	name: small
//	description: 1 KB messages, 1 recipient each, over 100 domains
//	count: 20000          # messages injected
//	size: 1KB             # bytes per message (B, KB, KiB, MB, MiB)
//	rcpts: 1              # recipients per message
//	domains: 100          # recipients spread over d0.test .. d99.test
//	mx_hosts: 0           # 0: an MX per domain; N: all domains share N MX hosts
//	concurrency: 20       # injecting SMTP sessions
//	per_conn: 100         # messages per injecting connection
//	local_part: user      # recipients are <local_part><n>@d<k>.test; the sink
//	                      # scripts replies by it (defer*, bounce*, slow*, ...)
//	release: false        # once every recipient was deferred once, make the
//	                      # sink accept local_part and time the drain (backlog)
//	timeout: 10m          # give up waiting for delivery after this long
//	inject: smtp          # smtp | grpc | grpc-batch | grpc-stream
//	batch_size: 1000      # recipients per InjectBatch (grpc-batch)
//	sink_ips: 1           # the sink listens on 127.0.0.1 .. 127.0.0.N
//	dead_domains: 0       # d0.test .. get an MX where nothing listens
//	crash_after: ""       # "50%": kill -9 the server then, restart, count lost
//	sink: gmail           # sink profile: shipped name, .yaml file or inline
//	engine:               # merged over the runner's serve config
//	  delivery: {retry_after: [2s]}
//
// Decoding is strict: an unknown key is an error naming its line.
//
// It must never import an engine package: scenarios drive Sluice from the
// outside.
package scenarios
