#!/usr/bin/env bash
# Fails when processes started by the end-to-end tests (circusd, its watchers, clusterd) outlived
# their test run. The test fixtures tag them with CLUSTER_E2E_TAG=<test pid>-...; a tagged
# process whose test process is gone is a leak. Leaks are listed, killed, and the script exits 1.
# Run by `make test` after `cargo test`.
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

# Processes just sent SIGKILL by a fixture may take a moment to go.
for _ in $(seq 25); do
    found="$(leaks)"
    [[ -n "$found" ]] || exit 0
    sleep 0.2
done

echo "check-leaks: processes left behind by the end-to-end tests:" >&2
for pid in $found; do
    echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" >&2
    kill -KILL "$pid" 2>/dev/null || true
done
exit 1
