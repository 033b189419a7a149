#!/usr/bin/env bash
# Fails when the end-to-end tests left something behind:
# * processes (circusd, its watchers, clusterd): the test fixtures tag them with
#   CLUSTER_E2E_TAG=<test pid>-...; a tagged process whose test process is gone is a leak;
# * network namespaces of the lab tests (tests/helper/lab), named cdlab-<test pid>-<n>-<host>:
#   one whose test process is gone is a leak.
# Leaks are listed and removed (processes killed; a namespace's processes killed by pid, then the
# namespace deleted), and the script exits 1. Run by `make test` after `cargo test`.
set -euo pipefail

leaks() {
    local environ tag pid
    for environ in /proc/[0-9]*/environ; do
        tag="$( (tr '\0' '\n' <"$environ" | sed -n 's/^CLUSTER_E2E_TAG=//p') 2>/dev/null || true)"
        [[ -n "$tag" ]] || continue
        pid="${environ#/proc/}"
        pid="${pid%/environ}"
        kill -0 "${tag%%-*}" 2>/dev/null || echo "$pid"
    done
}

# Lab namespaces whose test process is gone (none where `ip` is missing: no lab ran).
leaked_namespaces() {
    command -v ip >/dev/null 2>&1 || return 0
    local netns owner
    for netns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ "$netns" =~ ^cdlab-([0-9]+)- ]] || continue
        owner="${BASH_REMATCH[1]}"
        kill -0 "$owner" 2>/dev/null || echo "$netns"
    done
}

status=0

# Processes just sent SIGKILL by a fixture may take a moment to go.
found=""
for _ in $(seq 25); do
    found="$(leaks)"
    [[ -n "$found" ]] || break
    sleep 0.2
done
if [[ -n "$found" ]]; then
    echo "check-leaks: processes left behind by the end-to-end tests:" >&2
    for pid in $found; do
        echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" >&2
        kill -KILL "$pid" 2>/dev/null || true
    done
    status=1
fi

namespaces="$(leaked_namespaces)"
if [[ -n "$namespaces" ]]; then
    echo "check-leaks: network namespaces left behind by the lab tests (removed):" >&2
    for netns in $namespaces; do
        pids="$(ip netns pids "$netns" 2>/dev/null | tr '\n' ' ' || true)"
        echo "  $netns${pids:+ (processes: $pids)}" >&2
        for pid in $pids; do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$netns" 2>/dev/null || echo "  cannot delete $netns" >&2
    done
    status=1
fi
exit $status
