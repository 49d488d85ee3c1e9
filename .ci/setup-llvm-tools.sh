#!/usr/bin/env bash
# Installs rustup's llvm-tools component: its llvm-profdata (the same LLVM as rustc's) merges the runtime's
# profile that `optimized` dispatcher builds use (harness/pgo.ts). Nothing to do when it is there already.
set -euo pipefail
host=$(rustc -vV | sed -n 's/^host: //p')
tool="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ -x "$tool" ]; then
  echo "llvm-profdata already in $(dirname "$tool")"
  exit 0
fi
command -v rustup >/dev/null || { echo "setup-llvm-tools: rustup is not installed; optimized builds need its llvm-tools component" >&2; exit 1; }
rustup component add llvm-tools
[ -x "$tool" ] || { echo "setup-llvm-tools: rustup added llvm-tools but $tool is missing" >&2; exit 1; }
echo "llvm-profdata installed in $(dirname "$tool")"
