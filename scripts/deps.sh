#!/bin/sh
# deps.sh — install the Debian packages that llmkit's build and tests need, and the npm
# packages of the SDK tests (tests/integration/sdk: the official openai and @anthropic-ai/sdk,
# pinned by its package-lock.json). Idempotent: a package already installed is left alone, and
# nothing is fetched when all are present.
#   scripts/deps.sh           install what is missing (needs root or sudo)
#   scripts/deps.sh --check   exit 1 if something is missing, install nothing
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev libcmocka-dev libpcre2-dev python3 libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev"

SDK_DIR="$(dirname "$0")/../tests/integration/sdk"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
npm_missing=""
[ -d "$SDK_DIR/node_modules/openai" ] && [ -d "$SDK_DIR/node_modules/@anthropic-ai/sdk" ] || npm_missing="tests/integration/sdk/node_modules"

if [ -z "$missing" ] && [ -z "$npm_missing" ]; then
    [ "${1:-}" = "--check" ] || echo "deps.sh: all packages present"
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "deps.sh: missing:$missing${npm_missing:+ $npm_missing (npm ci)}" >&2
    exit 1
fi

if [ -n "$npm_missing" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "deps.sh: npm ci in tests/integration/sdk"
        (cd "$SDK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    else
        echo "deps.sh: npm not found; the SDK tests (tests/integration/serve.sh) need Node.js and npm" >&2
    fi
fi
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
