# clusterd: a cluster master for the Circus process manager.
#
#   make venv    Python venv with stock Circus (circusd, circusctl, circus-top) in .venv
#   make build   debug build of every binary (clusterd, clusterctl)
#   make run     demo: two circusd nodes + clusterd over them (scripts/demo.sh), Ctrl-C stops all
#   make test    venv + browser deps + binaries + every test, end-to-end and browser ones included (what CI runs)
#   make bench   release build, then every benchmark against its same-run baseline, written to
#                docs/benchmarks.md (never part of make test)
#   make fuzz    cargo fuzz on the request decoder for FUZZ_SECONDS (installs cargo-fuzz; needs nightly)
#   make lint    rustfmt and clippy, warnings as errors
#   make man     man pages of clusterd and clusterctl (one per clusterctl command) into target/man

PYTHON ?= python3
CARGO ?= cargo
VENV := .venv
# Written once pip has installed requirements.txt: reruns are no-ops until it changes.
VENV_STAMP := $(VENV)/.requirements.stamp

# The end-to-end tests and the demo find circusd and circusctl here.
export CIRCUS_VENV := $(CURDIR)/$(VENV)

.PHONY: venv system-deps browser-deps build run test bench fuzz lint man

# System packages (C++ compiler for libzmq, python3-venv, tmux for the circus-top test, protoc and
# libprotobuf-dev for etcd-client, etcd-server for the etcd registry tests, iproute2
# for the lab tests):
# checked on every run, installed with apt-get when missing and run as root.
venv: system-deps $(VENV_STAMP)

system-deps:
	@scripts/system-deps.sh

# Debian's chromium, Node.js and playwright-core (tests/browser/node_modules) for the dashboard's
# browser tests: checked on every run, installed when missing.
browser-deps:
	@scripts/browser-deps.sh

$(VENV_STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

build:
	$(CARGO) build --workspace --bins

run: venv
	$(CARGO) build --release --bins
	scripts/demo.sh

# The end-to-end tests run the built binaries (target/debug/clusterd, clusterctl), which
# `cargo test` alone does not build for another package. The lab tests among them (tests/e2e/lab:
# hosts in network namespaces) need root and `ip`; without them each prints `lab: skipped: <why>`.
# The browser tests need chromium and playwright-core (browser-deps installs them).
# Afterwards, check-leaks fails the run if any process the tests started is still alive, or a lab
# namespace is left (and removes them), whether the tests passed or not.
test: venv browser-deps
	$(CARGO) build --workspace --bins
	status=0; $(CARGO) test --workspace || status=$$?; scripts/check-leaks.sh && exit $$status

# The benchmarks start real processes (clusterd, simnode, a circusd from the venv) on loopback;
# clusterd-bench raises its open-files limit for the thousands of simulated nodes.
bench: venv
	$(CARGO) build --release --workspace --bins
	target/release/clusterd-bench all --out docs/benchmarks.md

# Generated from the clap definitions, so never out of date with --help; target/ is git-ignored.
# Read one with `man -l target/man/clusterctl.1`.
MAN_DIR ?= target/man
man:
	$(CARGO) run --quiet -p clusterd -- --man $(MAN_DIR)
	$(CARGO) run --quiet -p clusterctl --example manpages -- $(MAN_DIR)

# Not part of make test: libFuzzer needs a nightly toolchain (docs/testing.md).
FUZZ_SECONDS ?= 120
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz run decode_request -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# the contributors' docs: broken links and stray HTML fail like warnings do
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --document-private-items
