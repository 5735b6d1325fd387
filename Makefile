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

# Unit tests only: no root, no cluster. First the Debian packages they run
# (hack/test-deps.sh: Chromium, xmllint, ...; apt-get only when one is
# missing, and that needs root). The JUnit schema the render tests
# validate against is fetched (and hash-checked) first, outside the tests;
# the HTML report tests run a real headless Chromium (KPR_SKIP_BROWSER=1
# skips them for `make unit` on a machine without one; never in `make test`).
unit:
	hack/test-deps.sh unit
	xsd=$$(hack/junit-xsd.sh) && KPR_JUNIT_XSD=$$xsd $(GO) test -race ./...
	cd lab/standin && $(GO) test ./...
	for d in lab/standin/releases/v1_*/; do (cd $$d && $(GO) vet ./... && $(GO) test ./...) || exit 1; done

# vet + unit, then the end-to-end tests on the local lab (needs root):
# lab-up, e2e, and lab-down in a trap, also on failure (lab/test.sh).
# test-deps first installs what the unit tests and the lab need (one
# apt-get run on a fresh machine). The browser tests always run here:
# KPR_SKIP_BROWSER is cleared for unit and, through MAKE, for the e2e half.
test: override export KPR_SKIP_BROWSER :=
test: test-deps vet unit
	MAKE='$(MAKE) KPR_SKIP_BROWSER=' lab/test.sh

# The Debian packages `make test` needs (hack/test-deps.sh test), and the
# lab's own beyond lab/lab.sh's set (hack/test-deps.sh demo: clang-19 and
# llvm-19 for the Cilium agents, symlinked into a private bin dir whose
# path it prints). Installed only when missing; installing needs root.
.PHONY: test-deps demo-deps
test-deps:
	hack/test-deps.sh test

demo-deps:
	hack/test-deps.sh demo

# The local lab (lab/README.md): real control plane + kwok nodes in network
# namespaces. Needs root. Binaries are cached in ~/.cache/kubectl-kpr/lab.
LAB_CACHE ?= $(HOME)/.cache/kubectl-kpr/lab/v1.37.2
.PHONY: lab-up lab-down e2e demo
lab-up:
	lab/lab.sh up

lab-down:
	lab/lab.sh down

# End-to-end tests against a running lab (make lab-up first).
e2e:
	xsd=$$(hack/junit-xsd.sh) && KPR_JUNIT_XSD=$$xsd KPR_FAULTS_OUT=$(CURDIR)/.lab/faults.md \
		KPR_E2E_KUBECONFIG=$(CURDIR)/.lab/kubeconfig KPR_E2E_KUBECTL=$(LAB_CACHE)/bin/kubectl \
		$(GO) test -count=1 -timeout 30m ./test/e2e/
	@echo "fault matrix (docs/reliability.md):"; cat .lab/faults.md

# The fault matrix alone (test/e2e/faults_test.go; it also runs in `make
# e2e`, hence in `make test`): prints the table docs/reliability.md holds.
.PHONY: faults
faults:
	KPR_FAULTS_OUT=$(CURDIR)/.lab/faults.md KPR_E2E_KUBECONFIG=$(CURDIR)/.lab/kubeconfig KPR_E2E_KUBECTL=$(LAB_CACHE)/bin/kubectl \
		$(GO) test -count=1 -timeout 30m -run 'TestFaultMatrix' ./test/e2e/
	@cat .lab/faults.md

# Brings the lab up and shows kpr's main job on it, through kubectl's
# plugin discovery, with colors. demo-deps right after the preflight (so a
# non-root run still gets the preflight's `sudo make demo`).
demo: lab-preflight demo-deps build lab-up
	lab/demo.sh

# Root, Linux, and the kernel features the lab needs, checked before any
# build: one sentence saying what is missing, nothing set up.
.PHONY: lab-preflight
lab-preflight:
	lab/lab.sh preflight demo

# Regenerate the Cilium parser fixtures with each release's own code
# (tools/fixturegen; needs the Go module proxy; not run in CI).
# Seed deliberate logic changes into the engines and the judging code,
# one at a time: each must make a unit test fail (hack/mutants.py).
.PHONY: mutants
mutants:
	python3 hack/mutants.py

.PHONY: fixtures
fixtures:
	$(MAKE) -C tools/fixturegen fixtures

# Release check with the real tools: goreleaser snapshot, krew manifest
# validation, krew install and kubectl plugin discovery (hack/ship-check.sh).
.PHONY: ship-check
ship-check:
	hack/ship-check.sh

# Speed at scale (bench/, BENCHMARKS.md): the scale lab with N=200 and
# N=1000 kwok nodes in a network namespace of its own; kpr against kubectl
# by hand and a bare client-go floor. Needs root; not part of `make test`.
.PHONY: bench bench-smoke
bench:
	bench/run.sh

# The same at N=20 with fewer runs: checks the bench works (CI runs it).
bench-smoke:
	bench/run.sh --smoke

# Capture the lab's REAL Cilium agents' outputs as parser fixtures
# (pkg/interpret/cilium/testdata/v*/captured/; a running lab first).
.PHONY: capture-cilium
capture-cilium:
	hack/capture-cilium.sh

# Regenerate the example outputs (docs/commands/*.md and README.md's
# status excerpt) from real runs on the lab.
.PHONY: readme-outputs
readme-outputs:
	hack/readme-outputs.sh
