#!/usr/bin/env bash
# Demo cluster (`make run`): two circusd nodes from config/first.ini and config/second.ini in the
# background, then clusterd over them (config/cluster.toml) in the foreground. `first` is in
# cluster.toml; `second` joins by itself: its circusd runs `clusterctl join config/second.ini` as a
# watcher, so circusd runs from the repository root with target/release first on its PATH.
# Ctrl-C, or clusterd exiting for any reason, stops everything this script started.
#
# Pid and log files go to .demo/ (git-ignored). Needs the venv (`make venv`) and a release
# build (`cargo build --release --bins`); `make run` does both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CIRCUS_VENV:-$ROOT/.venv}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
CLUSTERD="$TARGET/release/clusterd"
CLUSTERCTL="$TARGET/release/clusterctl"
DEMO="$ROOT/.demo"
NODES=(first second)
# Every port of config/: nodes first and second, then the master.
PORTS=(5555 5556 5557 6555 6556 6557 5558 5559 5560 5580)

die() {
    echo "demo: $*" >&2
    exit 1
}

# A path as the user can type it from the repository root.
rel() {
    echo "${1#"$ROOT"/}"
}

[[ -x "$VENV/bin/circusd" ]] || die "$VENV/bin/circusd not found: run 'make venv' first"
[[ -x "$CLUSTERD" ]] || die "$CLUSTERD not found: run 'cargo build --release --bins' first (or 'make run')"
[[ -x "$CLUSTERCTL" ]] || die "$CLUSTERCTL not found: run 'cargo build --release --bins' first (or 'make run')"

# Refuse to start on busy ports rather than half-start (an old demo still running, or a
# circusd on its default ports).
busy="$("$VENV/bin/python" - "${PORTS[@]}" <<'PY'
import socket, sys
busy = []
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    # As circusd and libzmq do: a port left in TIME_WAIT by a previous run is not busy.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        busy.append(str(port))
    finally:
        s.close()
print(" ".join(busy))
PY
)"
if [[ -n "$busy" ]]; then
    die "port(s) $busy on 127.0.0.1 already in use (another demo, or a circusd on its default ports?): stop it first"
fi

mkdir -p "$DEMO"

# Pids of every descendant of $1, from /proc (circusd's watchers call setsid(), so they leave
# its process group: they are found by parent pid instead).
descendants() {
    local stat line fields pid
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
        # Fields after "pid (command) ": state, ppid, ...
        read -r -a fields <<<"${line##*) }"
        if [[ "${fields[1]:-}" == "$1" ]]; then
            pid="${stat#/proc/}"
            pid="${pid%/stat}"
            echo "$pid"
            descendants "$pid"
        fi
    done
}

STARTED=()
cleanup() {
    trap - EXIT INT TERM
    local pid alive all=()
    for pid in "${STARTED[@]}"; do
        # shellcheck disable=SC2207 # one pid per word
        all+=("$pid" $(descendants "$pid"))
        kill -TERM "$pid" 2>/dev/null || true
    done
    # circusd stops its watchers on SIGTERM; give everything 10 s, then kill what is left.
    for _ in $(seq 50); do
        alive=0
        for pid in "${STARTED[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        ((alive)) || break
        sleep 0.2
    done
    for pid in "${all[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -f "$DEMO"/*.pid
    echo "demo: stopped; logs in $(rel "$DEMO")/" >&2
}
trap cleanup EXIT
# Ctrl-C is the normal way to end the demo: exit 0 once everything is stopped.
trap 'exit 0' INT
trap 'exit 143' TERM

# From the root, so that second.ini's `clusterctl join config/second.ini` finds its file; with
# target/release first on the PATH, which its watcher inherits (copy_env), so that it finds ours.
for node in "${NODES[@]}"; do
    (cd "$ROOT" && PATH="$TARGET/release:$PATH" exec "$VENV/bin/circusd" "config/$node.ini") \
        </dev/null >>"$DEMO/$node.log" 2>&1 &
    STARTED+=("$!")
    echo "$!" >"$DEMO/$node.pid"
done

# Wait until both nodes answer, so that clusterd starts with live nodes.
for node in "${NODES[@]}"; do
    endpoint="$(sed -n 's/^endpoint *= *//p' "$ROOT/config/$node.ini")"
    for attempt in $(seq 100); do
        "$VENV/bin/circusctl" --endpoint "$endpoint" --timeout 1 numwatchers >/dev/null 2>&1 && break
        kill -0 "$(cat "$DEMO/$node.pid")" 2>/dev/null || die "circusd $node exited; see $(rel "$DEMO")/$node.log"
        ((attempt < 100)) || die "circusd $node does not answer on $endpoint; see $(rel "$DEMO")/$node.log"
        sleep 0.2
    done
done

cat <<BANNER
------------------------------------------------------------------------------------------
clusterd demo: node 'first' (watcher dummy, listed in config/cluster.toml), node 'second'
(watcher dummy2, joins by itself with clusterctl join, see config/second.ini), master on 5558.
Try, in another terminal, from $ROOT:

  $(rel "$VENV")/bin/circusctl --endpoint tcp://127.0.0.1:5558 status
  $(rel "$CLUSTERCTL") --node first incr dummy
  $(rel "$CLUSTERCTL") nodes            # first: config, second: registered
  $(rel "$VENV")/bin/circus-top --endpoint tcp://127.0.0.1:5559

Ctrl-C stops clusterd and both nodes. Node logs: $(rel "$DEMO")/
------------------------------------------------------------------------------------------
BANNER

# clusterd logs here until it exits. The script waits for it with `wait` (not `exec`, nor a
# plain foreground command) so that a signal to the script runs the traps at once and the EXIT
# trap stops the nodes. clusterd's exit status becomes the script's.
"$CLUSTERD" "$ROOT/config/cluster.toml" &
STARTED+=("$!")
wait "$!"
