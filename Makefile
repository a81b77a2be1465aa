# ringbus: the targets people type.
GO ?= go
PKGS := ./...
# Every Go module of the repository (the root and the nested ones, which go.work ties
# together for development); test, unit, vet and tidy-check run in each.
MODULES := $(patsubst %/,%,$(dir $(shell git ls-files '*go.mod' 2>/dev/null || find . -name go.mod -not -path './.cache/*')))
# golangci-lint is pinned and installed into .cache/bin (ignored by git) by `make lint`.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CURDIR)/.cache/bin/golangci-lint
BENCH ?= .
COUNT ?= 10

.PHONY: run test race unit bench lint lint-install fmt vet fuzz services tidy-check

run: ## run the quickstart example
	$(GO) run ./examples/quickstart

test: ## the whole suite of every module under the race detector (what CI runs)
	@set -e; for m in $(MODULES); do echo "== module $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 20m $(PKGS)); done

race: test

unit: ## the suite of every module without the race detector
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -count=1 $(PKGS)); done

bench: ## benchmarks of the dispatch core; compare runs with benchstat
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./perf/ ./ring/ ./pool/ ./wire/

vet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet $(PKGS)); done

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: lint-install ## gofmt check, go vet and golangci-lint (.golangci.yml) in every module
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt: these files need make fmt:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	@$(MAKE) --no-print-directory vet
	@set -e; for m in $(MODULES); do echo "== golangci-lint $$m"; (cd $$m && $(GOLANGCI_LINT) run $(PKGS)); done

lint-install: ## install the pinned golangci-lint into .cache/bin unless it is there
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'version $(GOLANGCI_LINT_VERSION:v%=%) ' || \
		(echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(dir $(GOLANGCI_LINT))"; \
		GOBIN=$(abspath $(dir $(GOLANGCI_LINT))) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION))

fuzz: ## run the fuzz targets for a while each (FUZZTIME=30s)
	$(GO) test -run '^$$' -fuzz FuzzParseTime -fuzztime $${FUZZTIME:-30s} ./ident/
	$(GO) test -run '^$$' -fuzz FuzzParseUUID -fuzztime $${FUZZTIME:-30s} ./ident/
	$(GO) test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime $${FUZZTIME:-30s} ./wire/

tidy-check: ## go mod tidy changes no go.mod or go.sum
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done; git diff --exit-code -- '*go.mod' '*go.sum'

services: ## check the local PostgreSQL, Redis and NATS, and start the ones that are down
	scripts/services.sh

# --- performance harness (README.md, section Performance) ---
RUNS ?= 3
SCENARIO ?= 50k-events

.PHONY: perfmatrix cores instructions pprof bench-peers

perfmatrix: ## ringbus's row of the abxbus runtime table: each scenario RUNS times in a fresh process
	$(GO) run ./cmd/perfmatrix -runs $(RUNS)

cores: ## one core against two: every scenario and probe at GOMAXPROCS=1 and 2, alternated, with the ratios
	$(GO) run ./cmd/perfmatrix -runs $(RUNS) -procs 1,2 -probes all

instructions: ## instructions per event of BenchmarkEmitBatch under callgrind (needs valgrind)
	scripts/instructions.sh

pprof: ## profile one scenario (make pprof SCENARIO=worst-case-forwarding-timeouts); prints the folder
	$(GO) run ./pprof -scenario $(SCENARIO)

bench-peers: ## ringbus beside watermill, EventBus and a plain channel (nested module perf/peers)
	cd perf/peers && $(GO) test -run '^$$' -bench . -benchmem
