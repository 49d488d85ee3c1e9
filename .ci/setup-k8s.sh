#!/usr/bin/env bash
# Builds the real Kubernetes control plane the Kubernetes backend's tests start on loopback: kube-apiserver,
# kube-controller-manager and kube-scheduler v1.35.4 (tools/k8s-bins: a scratch module that maps every staging
# module to its published version), etcd v3.6.16 (tools/etcd-bin) and kwok v0.8.0. Binaries go to
# $CONTAINERLESS_CACHE/tools/k8s-<version>/ and are reused while the stamp matches; nothing is committed.
# A cold build takes 10-25 minutes on two cores; a warm machine skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S=v1.35.4
ETCD=v3.6.16
KWOK=v0.8.0
CACHE="${CONTAINERLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/containerless}"
BIN="$CACHE/tools/k8s-$K8S"
STAMP="$BIN/.stamp-$K8S-$ETCD-$KWOK-$(sha256sum tools/k8s-bins/go.sum tools/etcd-bin/go.sum | sha256sum | cut -c1-12)"
if [ -e "$STAMP" ]; then
  echo "kubernetes $K8S, etcd $ETCD, kwok $KWOK already in $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "setup-k8s: go is not installed; the Kubernetes backend's tests need it to build kube-apiserver" >&2; exit 1; }
mkdir -p "$BIN"
start=$(date +%s)
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
P=k8s.io/component-base/version
minor=$(echo "$K8S" | cut -d. -f2)
echo "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S (progress: one line per binary)"
(cd tools/k8s-bins && go build -trimpath -o "$BIN/" \
  -ldflags "-s -w -X $P.gitVersion=$K8S -X $P.gitMajor=1 -X $P.gitMinor=$minor -X $P.gitTreeState=clean -X $P.buildDate=1970-01-01T00:00:00Z" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
echo "  control plane built ($(( $(date +%s) - start ))s)"
(cd tools/etcd-bin && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
echo "  etcd built ($(( $(date +%s) - start ))s)"
if ! (cd "${TMPDIR:-/tmp}" && GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK"); then
  echo "setup-k8s: kwok $KWOK could not be installed; tests that need ready pods will say so and skip" >&2
fi
rm -f "$BIN"/.stamp-*
touch "$STAMP"
echo "kubernetes control plane in $BIN ($(( $(date +%s) - start ))s)"
