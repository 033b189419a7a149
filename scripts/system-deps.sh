#!/usr/bin/env bash
# System packages the build and tests need beyond the Rust toolchain: a C++ compiler (the zmq
# crate builds libzmq from source), Python's venv module (for the circus venv), tmux (the
# circus-top end-to-end test), iproute2's `ip` and nftables' `nft` (the network-namespace lab
# tests, run as root), protoc with the protobuf well-known types (the etcd-client crate's build)
# and etcd itself (the etcd registry's tests start their own on loopback ports). Installs what is missing with apt-get when run as root on Debian/Ubuntu;
# otherwise says what to install. Idempotent: does nothing when everything is there.
set -euo pipefail

missing=()
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# The end-to-end tests run stock circus-top in a detached tmux session (tests/helper/tmux.rs).
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
# The lab tests (tests/helper/lab) build network namespaces, a bridge and veth pairs with `ip`.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# ... and cut a host off one way with an nftables drop rule.
command -v nft >/dev/null 2>&1 || missing+=(nftables)
# etcd-client compiles etcd's .proto files at build time: protoc and google/protobuf/*.proto.
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[[ -e /usr/include/google/protobuf/timestamp.proto ]] || missing+=(libprotobuf-dev)
# The registry = "etcd" tests (tests/helper/etcd.rs) start Debian's etcd on loopback ports.
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
((${#missing[@]})) || exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]}: install them (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
