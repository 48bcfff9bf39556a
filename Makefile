# Sluice — see README.md. `make run` and `make test` are the two commands a
# newcomer needs; everything else is for development and benchmarks.

GO       ?= go
BIN      := bin/sluice
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
CYCLES   ?= 100
# Packages whose tests exercise concurrency run under the race detector.
RACE_PKGS := ./...

.PHONY: all build build-static run test docs test-deps bench-deps fmt-check vet unit crash-test soak bench bench-compare bench-static bench-spool bench-inject clean proto

all: build

## build: compile bin/sluice
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sluice

## build-static: a static binary (CGO_ENABLED=0) for other machines
build-static:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)-static ./cmd/sluice

## run: build and start the engine on the embedded default configuration
run: build
	./$(BIN) serve

## test: install what the tests need, then gofmt, vet and the race-enabled test suite
test: test-deps fmt-check vet unit

## test-deps: idempotent install of what the tests need
test-deps:
	@bash .ci/install-deps.sh test

## bench-deps: idempotent install of the peer tools benchmarks compare against (Postfix's smtp-source)
bench-deps:
	@bash .ci/install-deps.sh bench

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 14m $(RACE_PKGS)
	@# Rate-accuracy tests skip under -race (it slows everything ~10x): run them plain.
	$(GO) test -count=1 -run 'TestShaping_MaxMsgRate|TestReload_Rate' ./engine/

## crash-test: the kill -9 crash test for many cycles (CYCLES=100 by default)
crash-test:
	SLUICE_CRASH_CYCLES=$(CYCLES) $(GO) test -run TestReliability01 -count=1 -timeout 60m -v ./cmd/sluice/

## soak: the long forms of the reliability suite (cmd/sluice/RELIABILITY.md), then a summary table.
## SOAK_RUN narrows it (a -run pattern); SLUICE_CRASH_CYCLES, SLUICE_BACKLOG, SLUICE_SPOOL_OPS etc. resize rows.
SOAK_RUN     ?= Reliability
SOAK_SUMMARY := bin/soak-summary.tsv
soak:
	@mkdir -p bin && rm -f $(SOAK_SUMMARY)
	@status=0; SLUICE_SOAK=1 SLUICE_SOAK_SUMMARY=$(CURDIR)/$(SOAK_SUMMARY) $(GO) test -count=1 -timeout 90m -v \
		-run '$(SOAK_RUN)' ./engine/spool/ ./engine/receive/ ./engine/ ./api/ ./cmd/sluice/ > bin/soak.log 2>&1 || status=$$?; \
	grep -E '^(--- |ok |FAIL)' bin/soak.log; \
	printf '\n%-36s %6s %9s %9s %6s %10s  %s\n' scenario runs acked delivered lost duplicated note; \
	sort $(SOAK_SUMMARY) 2>/dev/null | awk -F'\t' '{printf "%-36s %6s %9s %9s %6s %10s  %s\n", $$1, $$2, $$3, $$4, $$5, $$6, $$7}'; \
	echo "(full log: bin/soak.log)"; exit $$status

## bench-spool: spool Put benchmarks (1 KB and 100 KB, 1..256 writers) and raw fsync
bench-spool:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./engine/spool/

## bench: the shipped scenarios (small, marketing, multi-rcpt, backlog); JSON reports under bench/out/
bench: build
	mkdir -p bench/out && for s in small marketing multi-rcpt backlog; do ./$(BIN) bench run $$s --json bench/out/$$s.json || exit 1; done

## bench-compare: small and marketing beside the loopback limit and a private Postfix relay (bench/peers/postfix.sh, as root)
COMPARE ?= small marketing
bench-compare: build bench-deps
	mkdir -p bench/out && for s in $(COMPARE); do ./$(BIN) bench compare $$s --json bench/out/compare-$$s.json || exit 1; done

## bench-static: the static binary and a self-contained scaling bundle, bin/sluice-bench.tar.gz (see bench/scaling/README.txt)
BUNDLE := bin/sluice-bench
bench-static: build-static
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)
	cp $(BIN)-static $(BUNDLE)/sluice
	cp bench/scaling/scale.sh bench/scaling/README.txt $(BUNDLE)/
	tar -C bin -czf $(BUNDLE).tar.gz sluice-bench
	@echo "$(BUNDLE).tar.gz: tar xzf it anywhere, then ./sluice-bench/scale.sh"

## bench-inject: durable injection into `serve` vs smtp-source into the sink (needs bench-deps)
bench-inject: build bench-deps
	bash bench/inject-vs-sink.sh

## docs: regenerate configs/README.md, the configuration reference, from the config structs
docs:
	$(GO) generate ./configs

## proto: regenerate proto/sluice/v1/*.go and api/openapi/sluice.swagger.json (the output is committed)
PROTO_SRC := $(wildcard proto/sluice/v1/*.proto)
proto:
	@bash .ci/install-deps.sh proto
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I proto -I third_party/googleapis \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		--grpc-gateway_out=proto --grpc-gateway_opt=paths=source_relative \
		--openapiv2_out=api/openapi \
		--openapiv2_opt=allow_merge=true,merge_file_name=sluice,json_names_for_fields=false,disable_service_tags=false \
		$(PROTO_SRC:proto/%=%)

clean:
	rm -rf bin
