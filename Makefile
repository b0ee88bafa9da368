# stellarfeed: the two commands are `make run` and `make test`.
GO       ?= go
BIN      := bin/stellarfeed
BENCHBIN := bin/stellarbench
PKGS     := ./...
# The bench suite's end-to-end tests start thousands of sockets; they are
# run without -race (the race detector's 8,128-goroutine cap and slowdown
# make them meaningless there) but every other package runs with it.
RACE_PKGS := $(shell $(GO) list ./... 2>/dev/null | grep -v -e /bench)
NORACE_PKGS := $(shell $(GO) list ./... 2>/dev/null | grep -e /bench)
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build build-bench run test vet fmt lint bench bench-cluster bench-handshake fuzz check clean abuse soak

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stellarfeed

# The bench suite is a program of its own: the server links none of it.
build-bench: build
	$(GO) build -o $(BENCHBIN) ./cmd/stellarbench

## run: the whole system on the embedded default (simulator, demo SKUs, demo keys printed).
run: build
	./$(BIN) run

## test: vet, then every test (race detector where affordable), then the
## allocation budgets without the race detector (it allocates, so those
## tests skip under -race: this step is what makes `make test` fail when
## fan-out allocates). CI runs `make lint test`.
test: vet
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)
	$(if $(NORACE_PKGS),$(GO) test -count=1 -timeout 15m $(NORACE_PKGS))
	$(GO) test -count=1 -run 'Alloc' $(RACE_PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w .

lint: vet
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## bench: micro-benchmarks, then the fan-out bench suite (N x regimes x servers).
bench: build-bench
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./internal/... ./broadcast/... ./monitors/... ./engine/...
	./$(BENCHBIN) --matrix --out bench-out

## bench-cluster: 51,000 connections over 3 processes joined by an embedded NATS.
bench-cluster: build-bench
	./$(BENCHBIN) -servers ours-cluster -nodes 3 -n 51000 -m 50 -floor=false -overload-interval 100ms -out bench-out/cluster

## bench-handshake: new clients' upgrade latency and connect rate while 3,000 slowloris and
## 1,000 half-open sockets are attached (issue #10's target), against the unattacked figures.
bench-handshake:
	$(GO) test -run '^$$' -bench HandshakeUnderAttack -benchtime 2000x -count 3 ./broadcast/

## fuzz: each fuzz target for FUZZTIME.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## abuse: start `make run`'s server (fresh data directory, free loopback
## ports) and attack it with every check of bench/abuse; fails on any FAIL.
abuse: build
	$(GO) build -o bin/stellarabuse ./cmd/stellarabuse
	./bin/stellarabuse -start ./$(BIN) $(ABUSE_FLAGS)

## soak: DURATION of churning load on a fresh server; fails on growth or loss.
## Writes bench-out/soak/{soak.csv,soak.png,summary.txt,server.log}.
DURATION ?= 10m
soak: build
	$(GO) build -o bin/stellarsoak ./cmd/stellarsoak
	./bin/stellarsoak -bin ./$(BIN) -duration $(DURATION) -out bench-out/soak $(SOAK_FLAGS)

check: lint test

clean:
	rm -rf bin bench-out
