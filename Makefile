# ICN in Go. `make run` starts a node; `make test` runs every test (installing
# what the tests need first). See README.md.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin
DATA_DIR ?= ./data
# Extra flags for `make run`, e.g. RUN_FLAGS="--log-format text".
RUN_FLAGS ?=
# Packages whose tests also run under the race detector.
RACE_PKGS := ./supervisors/... ./actors/... ./services/httpapi/... ./services/store/... ./services/wasm/... ./services/network/... ./messages/...

.PHONY: all build run test test-deps vet fmt-check unit race bench lint clean examples

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/icnd ./cmd/icnd
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/icnctl ./cmd/icnctl

## examples: the Go jobs of examples/jobs, built for WASI (GOOS=wasip1) into
## examples/jobs/bin/NAME.wasm, ready for `icnctl job submit` (docs/jobs.md).
EXAMPLE_JOBS := $(patsubst examples/jobs/%/main.go,%,$(wildcard examples/jobs/*/main.go))
examples:
	@mkdir -p examples/jobs/bin
	@for j in $(EXAMPLE_JOBS); do \
		echo "examples/jobs/bin/$$j.wasm"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -o examples/jobs/bin/$$j.wasm ./examples/jobs/$$j || exit 1; \
	done

## run: one node, production profile, embedded badger under $(DATA_DIR).
run: build
	$(BIN)/icnd run --profile production --data-dir $(DATA_DIR) $(RUN_FLAGS)

## test: everything CI runs.
test: test-deps fmt-check vet unit race

## test-deps: tools the tests call, from Debian's packages: promtool (checks
## metrics and alert rules), headless chromium (drives the admin page) and
## wat2wasm (checks the committed WASM test modules against their sources).
TEST_TOOLS := promtool:prometheus chromium:chromium wat2wasm:wabt
test-deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@promtool --version 2>&1 | head -1; chromium --version 2>/dev/null | head -1; echo "wat2wasm $$(wat2wasm --version)"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 10m ./...

# -short: the race run is about the runtime packages, not browsers or binaries.
race:
	$(GO) test -count=1 -race -short -timeout 10m $(RACE_PKGS)

## bench: the benchmarks recorded in docs/benchmarks.md (each compares with
## its baseline in the same run; see that file for how to read them).
BENCH_PKGS := ./supervisors/ ./cmd/icnd/ ./services/store/badgerstore/ ./actors/dag/ ./actors/ledger/ ./actors/jobs/ ./services/network/ ./messages/envelope/ ./services/identity/keystore/ ./services/wasm/ ./services/wasm/fuel/ ./ccl/runtime/ ./actors/governance/ ./wiring/
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 $(BENCH_PKGS) | tee bench.out

## lint: golangci-lint v2 from the module proxy.
lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...

clean:
	rm -rf $(BIN)
