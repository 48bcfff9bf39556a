#!/usr/bin/env bash
# Multi-core scaling runs of Sluice, from the bench bundle (make bench-static):
# each scenario at each core count, the server pinned to that many cores
# (taskset) with GOMAXPROCS to match, the load generator and sink (the
# `bench run` process) on the other cores. Needs only bash, coreutils and
# taskset (util-linux): no Go, no Postfix, no network.
#
#   ./scale.sh [--cores "1 2 4 8 16"] [--scenarios "small marketing"] [--count N] [--out DIR]
#
# Writes DIR/SCENARIO-Ncores.json (`sluice bench run` reports) and prints
# the summary: cores, delivered msgs/s, speed-up over 1 core, server CPU
# seconds per 1,000 messages. Core counts above this machine's are skipped.
# NB: at the machine's full core count the load generator shares the
# server's cores; below it they never share.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sluice=$here/sluice
cores="1 2 4 8 16"
scenarios="small marketing"
count=""
out=$here/out

die() { echo "scale.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--cores) cores=${2:?--cores needs a list}; shift 2 ;;
	--scenarios) scenarios=${2:?--scenarios needs a list}; shift 2 ;;
	--count) count=${2:?--count needs a number}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -x "$sluice" ] || die "no sluice binary next to this script ($sluice)"
[ -z "$count" ] || [[ $count =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive integer, got '$count'"
for n in $cores; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "--cores: '$n' is not a positive integer"; done
command -v taskset >/dev/null || die "taskset is missing (util-linux): it pins the server to N cores"

ncpu=$(nproc)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The runner starts `BIN serve --config F`: this wrapper pins that server.
# exec keeps the pid, so the runner samples the server's own CPU and memory.
wrapper=$out/serve-pinned.sh
cat >"$wrapper" <<'EOF'
#!/bin/sh
exec taskset -c "$SCALE_SERVER_CPUS" env GOMAXPROCS="$SCALE_SERVER_PROCS" "$SCALE_SLUICE" "$@"
EOF
chmod +x "$wrapper"

reports=()
for sc in $scenarios; do
	for n in $cores; do
		if [ "$n" -gt "$ncpu" ]; then
			echo "scale.sh: skipping $n cores: this machine has $ncpu" >&2
			continue
		fi
		harness="0-$((ncpu - 1))"
		[ "$n" -lt "$ncpu" ] && harness="$n-$((ncpu - 1))"
		json=$out/$sc-${n}cores.json
		echo "== $sc: server on cores 0-$((n - 1)), load generator on $harness" >&2
		SCALE_SERVER_CPUS="0-$((n - 1))" SCALE_SERVER_PROCS=$n SCALE_SLUICE=$sluice \
			taskset -c "$harness" "$sluice" bench run "$sc" --quiet --bin "$wrapper" --json "$json" \
			${count:+--count "$count"} >"$out/$sc-${n}cores.txt" ||
			die "$sc at $n cores failed (see $out/$sc-${n}cores.txt)"
		reports+=("$json")
	done
done
[ ${#reports[@]} -gt 0 ] || die "nothing ran"
echo
"$sluice" bench scaling --json "$out/scaling.json" "${reports[@]}" | tee "$out/scaling.txt"
