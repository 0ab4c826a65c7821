#!/bin/sh
# deps.sh — install the Debian packages that llmkit's build and tests need. Idempotent: a
# package already installed is left alone, and nothing is fetched when all are present.
#   scripts/deps.sh           install what is missing (needs root or sudo)
#   scripts/deps.sh --check   exit 1 if something is missing, install nothing
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev libcmocka-dev libpcre2-dev python3 libcurl4-openssl-dev libjansson-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    [ "${1:-}" = "--check" ] || echo "deps.sh: all packages present"
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "deps.sh: missing:$missing" >&2
    exit 1
fi

echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
