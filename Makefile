# Stockline: `make run` and `make test` do every set-up step themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := bin/stockline
GO ?= go
DATA_DIR ?= .data
# Go 1.27.3 is the toolchain every target builds and tests with: go1.26.8 (the machine's own Go) has eleven standard
# library vulnerabilities that the code reaches (net/http, crypto/tls, crypto/x509, net/textproto; see `make
# vulncheck`), fixed in 1.27.3. The go command fetches it from the Go module proxy once per machine (76 MB). Plain
# `go build`/`go test` outside make need the same export (README).
export GOTOOLCHAIN ?= go1.27.3

.PHONY: run build generate test check-static db-stop bench prereqs-pg prereqs-chromium fmt fuzz-short bench-ingest vulncheck soak

## build: compile bin/stockline
build:
	$(GO) build -o $(BIN) ./cmd/stockline

## generate: regenerate templ components (commit the *_templ.go files)
generate:
	$(GO) tool templ generate

## run: private PostgreSQL under .data/, migrate, seed the demo once, serve with simulators
run: prereqs-pg build
	@DATA_DIR=$(DATA_DIR) ./$(BIN) migrate
	@DATA_DIR=$(DATA_DIR) ./$(BIN) seed --demo
	@DATA_DIR=$(DATA_DIR) SIMULATORS=$${SIMULATORS:-true} SHOPIFY_WEBHOOK_SECRET=$${SHOPIFY_WEBHOOK_SECRET:-stockline-demo-webhook-secret} LOG_FORMAT=$${LOG_FORMAT:-text} exec ./$(BIN) serve

## db-stop: stop the private cluster that `make run` started
db-stop: build
	@DATA_DIR=$(DATA_DIR) ./$(BIN) db stop

## test: every test on a throwaway cluster (never the one `make run` uses)
test: prereqs-pg prereqs-chromium check-static build
	@tmp=$$(mktemp -d /tmp/stockline-test-XXXXXX); chmod 755 $$tmp; \
	trap 'DATA_DIR=$$tmp ./$(BIN) db stop >/dev/null 2>&1 || true; rm -rf $$tmp' EXIT; \
	url=$$(DATA_DIR=$$tmp ./$(BIN) db start); \
	echo "test cluster: $$url"; \
	STOCKLINE_TEST_PG=$$url $(GO) test -count=1 -timeout 9m ./...
	@$(MAKE) --no-print-directory fuzz-short
	@$(MAKE) --no-print-directory vulncheck

## vulncheck: govulncheck (pinned in go.mod's tool block) against the Go vulnerability database read offline from the
## golang.org/x/vulndb module (its data/osv folder, fetched through the Go module proxy like any module: vuln.go.dev is
## not reachable here). Bump VULNDB_VERSION to take newer advisories. Called findings must be fixed or explained in
## vulncheck-triage.txt (cmd/vulntriage fails on any other); see README, "Supply chain".
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
vulncheck:
	@dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  if [ ! -d "$$dir/data/osv" ]; then echo "vulncheck: golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv folder"; exit 1; fi; \
	  echo "vulncheck: $$($(GO) env GOVERSION), database golang.org/x/vulndb@$(VULNDB_VERSION) ($$(ls $$dir/data/osv | wc -l) advisories)"; \
	  $(GO) tool govulncheck -db "file://$$dir/data/osv" -format json ./... | $(GO) run ./cmd/vulntriage -triage vulncheck-triage.txt

## fuzz-short: every connector payload parser, the count CSV parser and the HTTP edge's parsers (form decoding, query
## string, Idempotency-Key, sign-in next, webhook dead-letter escaping) under go test -fuzz for FUZZTIME each.
## A count (Nx), not a duration: a timed run can end while the fuzzer is still handling a new input and then
## fails with "context deadline exceeded" though nothing crashed; a count has no deadline. 100000x is ~2-5 s a target.
FUZZTIME ?= 100000x
FUZZ_TARGETS := FuzzParseSquareChange FuzzParseShopifyOrder FuzzParseShopifyRefund FuzzParseShopifyInventoryLevel \
	FuzzParseShopifyWebhook FuzzParseCountCSV FuzzParseCountEvent FuzzParseWholeQuantity FuzzParseRetryAfter FuzzVerifyShopifyHMAC \
	FuzzFormDecoding FuzzQueryParams FuzzIdempotencyKey FuzzSafeNext FuzzCleanPayload
fuzz-short:
	@for f in $(FUZZ_TARGETS); do \
	  out=$$($(GO) test ./connectors/fuzz -run '^$$' -fuzz "^$$f\$$" -fuzztime=$(FUZZTIME) 2>&1) || { \
	    echo "$$out" | tail -40; echo "fuzz target $$f failed; the input is saved under connectors/fuzz/testdata/fuzz/$$f"; exit 1; }; \
	done; echo "fuzz-short: $(words $(FUZZ_TARGETS)) targets, $(FUZZTIME) each, passed"

## bench: the one benchmark harness (cmd/stockbench) on its own throwaway cluster: reservations, orders, ingest and reconciliation in
## sequence, each figure beside a baseline measured in the same run, ending with one summary table, the consistency
## checks and the wall time (BENCH_FLAGS="-locations 20 -skus 2000 -orders 20000 -ingest-events 20000" for a quick run;
## go run ./cmd/stockbench -h lists every flag)
BENCH_FLAGS ?=
bench: prereqs-pg
	$(GO) run ./cmd/stockbench $(BENCH_FLAGS)

## bench-reservations, bench-orders, bench-ingest, bench-reconciliation, bench-feeds, bench-metrics, bench-exceptions: one section of `make bench` (-only=...)
.PHONY: bench-reservations bench-orders bench-ingest bench-reconciliation bench-feeds bench-metrics
bench-reconciliation: prereqs-pg
	$(GO) run ./cmd/stockbench -only=reconciliation $(BENCH_FLAGS)
bench-reservations: prereqs-pg
	$(GO) run ./cmd/stockbench -only=reservations $(BENCH_FLAGS)
bench-orders: prereqs-pg
	$(GO) run ./cmd/stockbench -only=orders $(BENCH_FLAGS)
bench-ingest: prereqs-pg
	$(GO) run ./cmd/stockbench -only=ingest $(BENCH_FLAGS)
.PHONY: bench-exceptions
bench-exceptions: prereqs-pg
	$(GO) run ./cmd/stockbench -only=exceptions $(BENCH_FLAGS)
bench-feeds: prereqs-pg
	$(GO) run ./cmd/stockbench -only=feeds $(BENCH_FLAGS)
bench-metrics: prereqs-pg
	$(GO) run ./cmd/stockbench -only=metrics $(BENCH_FLAGS)

## soak: open-loop constant-rate load (cmd/stocksoak) on its own throwaway cluster: 200 checkouts/s, 500 Square feed
## events/s, 20 page views/s over four roles, 10 minutes; SOAK_FLAGS="-duration 30s" shortens it, "-faults" restarts
## PostgreSQL and disturbs the connection mid-load (go run ./cmd/stocksoak -h lists every flag). Exit 1 on a missed goal.
SOAK_FLAGS ?=
soak: prereqs-pg
	$(GO) run ./cmd/stocksoak $(SOAK_FLAGS)

## soak-faults: make soak with -faults (make itself cannot take -faults after the target)
.PHONY: soak-faults
soak-faults: prereqs-pg
	$(GO) run ./cmd/stocksoak -faults $(SOAK_FLAGS)

## check-static: gofmt, go vet, fresh templ output, vendored asset checksums
check-static:
	@bad=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	@$(GO) tool templ generate -check >/dev/null 2>&1 || { \
	    echo "generated templ files are stale: run 'make generate' and commit the *_templ.go files"; exit 1; }
	@cd static/vendor && sha256sum --quiet -c SHA256SUMS

prereqs-pg:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && [ -n "$${CI:-}$${STOCKLINE_AUTO_INSTALL:-}" -o "$(MAKECMDGOALS)" = test -o "$(MAKECMDGOALS)" = bench ]; then \
	    echo "installing PostgreSQL server binaries (apt-get install -y postgresql)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries (initdb, pg_ctl) are missing. Install them with:"; \
	    echo "    sudo apt-get update && sudo apt-get install -y postgresql"; exit 1; \
	  fi; \
	fi

prereqs-chromium:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium. Install it with:"; \
	    echo "    sudo apt-get update && sudo apt-get install -y chromium"; exit 1; \
	  fi; \
	fi

fmt:
	gofmt -w $$(git ls-files '*.go')
