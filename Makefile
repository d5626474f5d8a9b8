# vpclab — see README.md.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
SHELL := /bin/bash

# The live lab and its tests need root. Run as another user, the targets
# that need it run their root step under sudo (and say so); with neither
# root nor sudo they run anyway and the tests that need root fail, saying so.
ifeq ($(shell id -u),0)
AS_ROOT :=
else ifneq ($(shell command -v sudo),)
AS_ROOT := sudo env "PATH=$(PATH)"
$(info vpclab: not root; the steps that need root run under sudo)
else
AS_ROOT :=
$(info vpclab: not root and no sudo; the live-lab tests will fail)
endif

.PHONY: all build test race bench bench-e2e bench-apply bench-flood soak fuzz demo explain-demo clean

all: build

# The source revision is stamped by the linker, so vpclab version names it
# even where the build has no VCS stamp (-buildvcs=false, a tarball).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +modified)
LDFLAGS := -X main.revision=$(REVISION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vpclab ./cmd/vpclab

# The test command of the README: unit, differential and policy-suite tests,
# then the live suite (integration) again on the eBPF datapath.
# Packages are listed as they finish, with the totals and the wall time
# at the end (internal/testprogress reads go test -json).
test:
	$(GO) vet ./...
	$(GO) build -o bin/testprogress ./internal/testprogress
	@echo "vpclab: testing every package (about a minute; each is listed as it finishes)"
	set -o pipefail; $(AS_ROOT) $(GO) test -count=1 -json ./... | ./bin/testprogress
	@echo "vpclab: the live suite again on the eBPF datapath (up --datapath ebpf)"
	set -o pipefail; $(AS_ROOT) $(GO) test -count=1 -json ./integration/ -args -datapath=ebpf | ./bin/testprogress

race:
	$(GO) test -count=1 -race ./conntrack/ ./dataplane/ ./classify/

# Benchmarks with their baselines, measured in one run, printed as one table:
# medians of BENCHCOUNT runs with min and max. BENCHFLAGS='-o json' for machines.
BENCHCOUNT ?= 3
BENCHFLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) -timeout 60m ./bench/ ./internal/reference/ 2>&1 | tee bench.out
	$(GO) run ./bench/table $(BENCHFLAGS) < bench.out

# End-to-end throughput (as root): iperf3 through a live two-instance lab
# and through a kernel router namespace with nftables conntrack, one run,
# one table. Not part of test. E2EFLAGS: -t SECONDS, -l UDPLEN, -mtu, -v.
E2EFLAGS ?=
bench-e2e:
	@command -v iperf3 >/dev/null && command -v nft >/dev/null || \
		{ apt-get update && apt-get install -y iperf3 nftables; }
	$(GO) run ./bench/e2e $(E2EFLAGS)

# Apply latency (as root): PUT /v1/lab of a 10,000-rule lab, 20 times, while
# a TCP stream runs through the lab; the stream is checked byte by byte and
# compared with the same stream without applies, one run, one table.
# APPLYFLAGS: -n APPLIES, -every DURATION, -rules N, -v.
APPLYFLAGS ?=
bench-apply:
	$(GO) run ./bench/apply $(APPLYFLAGS)

# Floods (as root): an iperf3 TCP stream between two instances while a
# third floods a fourth with SYNs, then with UDP datagrams of new flows,
# each also into a device of its own (the sender's CPU alone); the kernel
# (a router namespace with nftables conntrack) as the baseline, then the
# lab with its workers, one run. FLOODFLAGS: -t SECONDS per phase, -modes
# (kernel, workers, goroutines), -pin (taskset), -procs, -workers,
# -cpuprofile PREFIX, -v.
FLOODFLAGS ?=
bench-flood:
	@command -v iperf3 >/dev/null && command -v nft >/dev/null || \
		{ apt-get update && apt-get install -y iperf3 nftables; }
	$(AS_ROOT) $(GO) run ./bench/flood $(FLOODFLAGS)

# A soak (as root, not in CI): a live lab under mixed traffic and random
# policy changes for 10 minutes, checking that goroutines, descriptors and
# memory do not grow. SOAKFLAGS: -d DURATION, -every, -apply.
SOAKFLAGS ?=
soak:
	$(AS_ROOT) $(GO) run ./bench/soak $(SOAKFLAGS)

# Fuzz runs of every fuzz target of the tree, FUZZTIME each (found by
# name, so that a new target is never left out; see scripts/fuzz.sh).
# Their seed corpora run in make test; CI also runs this with FUZZTIME=5s.
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# The main job on the built-in example lab (as root): bring it up, send a
# matrix of real connections, compare them with what explain predicts,
# tear it down.
demo: build
	$(AS_ROOT) ./bin/vpclab demo

# The same lab without privileges: its policy tests and two flows explained.
explain-demo: build
	./bin/vpclab test testdata/policy/example.yaml
	./bin/vpclab explain --from web1 --to app1 --proto tcp --dport 8080
	./bin/vpclab explain --from web1 --to db1 --proto tcp --dport 5432

clean:
	rm -rf bin bench.out
