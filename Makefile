# Onramp: `make run` starts a server on 127.0.0.1:8080; `make test` runs every test;
# `make conformance` runs the public SCIM conformance suites against the binary.

GO      ?= go
GOFMT   ?= gofmt
BIN     := bin/onramp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/onramp (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/onramp

.PHONY: run
run: build ## build, then serve on 127.0.0.1:8080 with sqlite:onramp.db
	./$(BIN) serve --listen 127.0.0.1:8080 --database sqlite:onramp.db

.PHONY: test
test: ## run every test, with the race detector (starts a throwaway PostgreSQL when it can)
	scripts/test.sh

.PHONY: conformance
conformance: build ## run Microsoft's and Okta's SCIM suites (../shared/conformance) on SQLite and PostgreSQL
	ONRAMP_BIN=$(BIN) scripts/conformance.sh

.PHONY: bench
bench: ## load test of the real binary on SQLite and PostgreSQL (BENCH_ARGS=--quick for a short run)
	scripts/bench.sh $(BENCH_ARGS)

.PHONY: lint
lint: ## gofmt and go vet
	@unformatted=$$($(GOFMT) -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: clean
clean: ## remove build output
	rm -rf bin
