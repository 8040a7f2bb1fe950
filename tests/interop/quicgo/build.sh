#!/bin/sh
# Builds mqtt-quicgo-check into OUTDIR, offline, from Debian's golang-go and
# golang-github-lucas-clemente-quic-go-dev (quic-go 0.29 and its dependencies under
# /usr/share/gocode). GOPATH mode (GO111MODULE=off) resolves imports from that tree, so no
# module proxy or go.sum is involved; the Go build cache lives in OUTDIR, so a rebuild with
# unchanged sources takes about a second.
#
# Usage: tests/interop/quicgo/build.sh OUTDIR
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

GO=${GO:-go}
gocode=/usr/share/gocode
if ! command -v "$GO" >/dev/null 2>&1; then
  echo "build.sh: '$GO' not found; install golang-go" >&2
  exit 1
fi
if [ ! -d "$gocode/src/github.com/lucas-clemente/quic-go" ]; then
  echo "build.sh: $gocode has no quic-go; install golang-github-lucas-clemente-quic-go-dev" >&2
  exit 1
fi

# Everything the go command reads from the environment is pinned here, so the user's go env
# file, a module-mode GOFLAGS or a proxy setting can't change the result.
cd "$src"
env GO111MODULE=off GOPATH="$gocode" GOCACHE="$out/gocache" GOENV=off GOFLAGS= \
  GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
  "$GO" build -trimpath -o "$out/mqtt-quicgo-check" .
echo "built $out/mqtt-quicgo-check"
