#!/usr/bin/env bash
# Installs nats-server (pinned) for the watchdog's tracing tests: `go install` from the Go module proxy into
# $CONTAINERLESS_CACHE/tools/bin (default ~/.cache/containerless/tools/bin). Skips when it is already there.
# Tests look for the binary there first, then on PATH.
set -euo pipefail
VERSION=v2.15.2
CACHE="${CONTAINERLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/containerless}"
BIN="$CACHE/tools/bin"
STAMP="$BIN/.nats-server-$VERSION"
if [ -x "$BIN/nats-server" ] && [ -e "$STAMP" ]; then
  echo "nats-server $VERSION already in $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "setup-nats: go is not installed; the watchdog's tracing tests need nats-server" >&2; exit 1; }
mkdir -p "$BIN"
start=$(date +%s)
if ! (cd "${TMPDIR:-/tmp}" && GOBIN="$BIN" GOFLAGS="-buildvcs=false" go install "github.com/nats-io/nats-server/v2@$VERSION"); then
  # Some proxies refuse the version list `go install` asks for; the exact version downloads and builds.
  MOD="github.com/nats-io/nats-server/v2@$VERSION"
  DIR=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$MOD" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$DIR" ] && [ -d "$DIR" ] || { echo "setup-nats: go mod download $MOD gave no folder" >&2; exit 1; }
  (cd "$DIR" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$BIN/nats-server" .)
fi
rm -f "$BIN"/.nats-server-*
touch "$STAMP"
echo "nats-server $VERSION installed in $BIN ($(( $(date +%s) - start ))s)"
