#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium (the browser the
# HTML status report test renders the page with). Installs the `chromium` package
# with apt-get when it is missing; exits non-zero with a message when it cannot.
#   tools/ensure_chromium.sh          # idempotent; quiet when Chromium is there
# Environment: CHROMIUM (default /usr/bin/chromium) names the binary to check.
set -euo pipefail

chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$chromium" ]; then
    exit 0
fi

fail() {
    echo "ensure_chromium: $*" >&2
    echo "ensure_chromium: install it by hand with: apt-get install -y chromium" >&2
    exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
    fail "$chromium is missing and there is no apt-get here (not a Debian-like system)"
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        fail "$chromium is missing and installing it needs root (or password-less sudo)"
    fi
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "ensure_chromium: installing Debian's chromium with apt-get" >&2
if ! "${sudo[@]}" apt-get install -y -qq chromium >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine: refresh them once.
    if ! "${sudo[@]}" apt-get update -qq >>"$log" 2>&1 \
        || ! "${sudo[@]}" apt-get install -y -qq chromium >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        fail "apt-get could not install chromium"
    fi
fi

if [ ! -x "$chromium" ]; then
    fail "apt-get installed chromium but $chromium is still missing"
fi
echo "ensure_chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")" >&2
