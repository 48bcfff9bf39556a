#!/usr/bin/env bash
# Idempotent installer for what Sluice's tests and benchmarks need.
#   install-deps.sh test   # Go modules, Postfix (smtp-source, and the private relay the
#                          # bench/run and bench/peers tests start; one small package, not
#                          # configured), and chromium for the web monitor's browser test
#   install-deps.sh bench  # Go modules and Postfix, for `sluice bench compare` and the peer scripts
#   install-deps.sh proto  # protoc (Debian protobuf-compiler) and the pinned Go plugins for `make proto`
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

# install_postfix: Debian's postfix with "No configuration": no main.cf is
# written and no system instance started; bench/peers/postfix.sh runs its own.
install_postfix() {
	[ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/postfix ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections 2>/dev/null || true
	apt_install postfix
}

go mod download

case "$what" in
test)
	install_postfix
	# The web monitor's browser test drives Debian's chromium (headless);
	# without it that one test skips and says so.
	command -v chromium >/dev/null || apt_install chromium
	;;
bench) install_postfix ;;
proto)
	# Debian's protoc (3.21) compiles proto3; its Go plugins are too old, so
	# the plugins are pinned here and installed into $(go env GOPATH)/bin.
	apt_install protobuf-compiler libprotobuf-dev # libprotobuf-dev: google/protobuf/*.proto (timestamp)
	gobin=$(go env GOPATH)/bin
	# go_tool PKG VERSION: go install PKG@VERSION unless that version is installed.
	go_tool() {
		local bin=$gobin/${1##*/}
		if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]].*[[:space:]]$2([[:space:]]|$)"; then
			return 0
		fi
		go install "$1@$2"
	}
	go_tool google.golang.org/protobuf/cmd/protoc-gen-go v1.36.12
	go_tool google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2
	go_tool github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway v2.33.0
	go_tool github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 v2.33.0
	;;
*) echo "usage: $0 test|bench|proto" >&2; exit 2 ;;
esac
