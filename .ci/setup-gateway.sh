#!/usr/bin/env bash
# Installs the real OpenFaaS CE gateway (openfaas/faas gateway/, pinned pseudo-version) for the provider's
# end-to-end tests, downloaded from the Go module proxy and built and cached under
# $CONTAINERLESS_CACHE/tools/bin. Skips the build when the binary is already there.
set -euo pipefail
VERSION=v0.0.0-20260702090804-8d803bf9e265
CACHE="${CONTAINERLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/containerless}"
BIN="$CACHE/tools/bin"
STAMP="$BIN/.gateway-$VERSION"
if [ -x "$BIN/gateway" ] && [ -e "$STAMP" ]; then
  echo "gateway $VERSION already in $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "setup-gateway: go is not installed; the provider e2e tests need it" >&2; exit 1; }
mkdir -p "$BIN"
start=$(date +%s)
# `go install module@version` fails here: it also asks the proxy for the module's version list (to report
# deprecations), which answers 403. Downloading the exact version and building it in place needs no list.
MOD="github.com/openfaas/faas/gateway@$VERSION"
DIR=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$MOD" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$DIR" ] && [ -d "$DIR" ] || { echo "setup-gateway: go mod download $MOD gave no folder" >&2; exit 1; }
(cd "$DIR" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$BIN/gateway" .)
rm -f "$BIN"/.gateway-*
touch "$STAMP"
echo "gateway $VERSION installed in $BIN ($(( $(date +%s) - start ))s)"
