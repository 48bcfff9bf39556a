#!/usr/bin/env bash
# Durable injection into `sluice serve` against the loopback limit, in one run:
#   A. Postfix smtp-source -> sluice sink     (no queue at all: the loopback/SMTP limit)
#   B. sluice inject       -> sluice sink     (our generator against the same limit)
#   C. sluice inject       -> sluice serve    (durable: each 250 after the spool's fsync)
#   D. smtp-source       -> sluice serve    (durable, same injector as A)
# and prints D/A (same injector, durable vs no queue) and C/B. Usage: bench/inject-vs-sink.sh [COUNT] [SIZE] [SESSIONS]
set -euo pipefail
COUNT=${1:-20000}
SIZE=${2:-4KB}
SESS=${3:-20}
BIN=${BIN:-./bin/sluice}
BYTES=$(python3 -c "import sys;u={'KB':1024,'MB':1<<20};s=sys.argv[1];print(int(float(s[:-2])*u[s[-2:]]) if s[-2:] in u else int(s))" "$SIZE")
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
json() { python3 -c "import json,sys;d=json.load(sys.stdin);print($1)"; }

$BIN sink --listen 127.0.0.1:2626 --http 127.0.0.1:2680 2>/dev/null & pids+=($!)
wait_port 2626

# A: smtp-source, connections reused (-d), SESS sessions.
t0=$(date +%s.%N)
smtp-source -d -s "$SESS" -m "$COUNT" -l "$BYTES" -f bench@sluice.test -t user@d0.test 127.0.0.1:2626
t1=$(date +%s.%N)
a=$(python3 -c "print($COUNT/($t1-$t0))")
got=$(curl -s 127.0.0.1:2680/stats | json 'd["messages"]')
curl -s -X POST 127.0.0.1:2680/reset >/dev/null

# B: sluice inject into the sink.
b=$($BIN inject --to-smtp 127.0.0.1:2626 --count "$COUNT" --concurrency "$SESS" --size "$SIZE" --quiet --json | json 'd["MessagesPerSecond"]')

# C: sluice inject into a durable node.
cat > "$work/sluice.yaml" <<YAML
spool: {dir: $work/spool, min_free_space: 64MiB, ballast_size: 0}
listen: {smtp: 127.0.0.1:2625, http: 127.0.0.1:2681, grpc: ""}
log: {level: warn}
delivery: {hold: true}
YAML
$BIN serve --config "$work/sluice.yaml" & pids+=($!)
wait_port 2625
cres=$($BIN inject --to-smtp 127.0.0.1:2625 --count "$COUNT" --concurrency "$SESS" --size "$SIZE" --quiet --json)
c=$(echo "$cres" | json 'd["MessagesPerSecond"]')
p50=$(echo "$cres" | json 'd["Latency"]["P50"]/1e6')
p99=$(echo "$cres" | json 'd["Latency"]["P99"]/1e6')

# D: smtp-source into the durable node (same injector as A).
t0=$(date +%s.%N)
smtp-source -d -s "$SESS" -m "$COUNT" -l "$BYTES" -f bench@sluice.test -t user@d0.test 127.0.0.1:2625
t1=$(date +%s.%N)
d=$(python3 -c "print($COUNT/($t1-$t0))")

printf '\n%d messages of %s over %d sessions\n' "$COUNT" "$SIZE" "$SESS"
printf '  A smtp-source -> sink      %8.0f msgs/s  (sink counted %s)\n' "$a" "$got"
printf '  B sluice inject -> sink    %8.0f msgs/s\n' "$b"
printf '  C sluice inject -> serve   %8.0f msgs/s  durable; final 250 p50 %.2f ms, p99 %.2f ms\n' "$c" "$p50" "$p99"
printf '  D smtp-source -> serve     %8.0f msgs/s  durable\n' "$d"
python3 -c "print('  D/A = %.2f (durable vs no queue, same injector)   C/B = %.2f' % ($d/$a, $c/$b))"
