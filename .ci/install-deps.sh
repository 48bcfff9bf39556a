#!/usr/bin/env bash
# Idempotent installer for what Sluice's tests and benchmarks need.
#   install-deps.sh test   # Go modules (and, as issues land, protoc and friends)
#   install-deps.sh bench  # plus Postfix's smtp-source/smtp-sink for peer comparisons
set -euo pipefail
what=${1:-test}

apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	# An apt clean-up hook on some machines deletes downloaded packages
	# mid-install: keep the archives in a private cache.
	mkdir -p /tmp/aptcache/partial
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o Dir::Cache::archives=/tmp/aptcache "${missing[@]}"
}

go mod download

case "$what" in
test) ;;
bench)
	if ! command -v smtp-source >/dev/null; then
		echo "postfix postfix/main_mailer_type select No configuration" | ${SUDO:-} debconf-set-selections 2>/dev/null || true
		apt_install postfix
	fi
	;;
*) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
