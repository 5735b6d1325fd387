# kubectl-kpr — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/kubectl-kpr
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w \
	-X github.com/kubectl-kpr/kubectl-kpr/pkg/version.Version=$(VERSION) \
	-X github.com/kubectl-kpr/kubectl-kpr/pkg/version.Commit=$(shell git rev-parse --short HEAD 2>/dev/null || echo none) \
	-X github.com/kubectl-kpr/kubectl-kpr/pkg/version.Date=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

.PHONY: build unit test vet
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-kpr

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

# Unit tests only: no root, no cluster.
unit:
	$(GO) test -race ./...

test: vet unit

# Regenerate the Cilium parser fixtures with each release's own code
# (tools/fixturegen; needs the Go module proxy; not run in CI).
.PHONY: fixtures
fixtures:
	$(MAKE) -C tools/fixturegen fixtures

# Release check with the real tools: goreleaser snapshot, krew manifest
# validation, krew install and kubectl plugin discovery (hack/ship-check.sh).
.PHONY: ship-check
ship-check:
	hack/ship-check.sh
