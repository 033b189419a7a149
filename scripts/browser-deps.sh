#!/usr/bin/env bash
# What the dashboard's browser tests need (tests/e2e/browser.rs): Debian's chromium, Node.js
# with npm, and playwright-core (no browser download: it drives /usr/bin/chromium) installed
# into tests/browser/node_modules (git-ignored). Installs what is missing with apt-get when run as
# root on Debian/Ubuntu; otherwise says what to install. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "browser-deps: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "browser-deps: missing ${missing[*]}: install them (e.g. sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi
if [[ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]]; then
    echo "browser-deps: npm install in tests/browser" >&2
    npm install --prefix "$ROOT/tests/browser" --no-audit --no-fund --silent
fi
