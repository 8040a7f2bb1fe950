#!/usr/bin/env bash
# Fails if lib/codec or lib/util includes I/O, TLS, QUIC, logging or higher-layer headers, or if
# lib/broker includes transport headers. Runs a negative control first: a planted violation in a
# temporary copy must be detected, so this test cannot pass vacuously.
set -euo pipefail
root=${1:?usage: check_layering.sh SOURCE_DIR}

codec_forbidden='ev\.h|ev\+\+\.h|ngtcp2|nghttp3|gnutls|openssl|spdlog|yaml-cpp|sys/socket|netinet|"broker/|"transport/|"server/|"config/|"persistence/|"auth/|<chrono>|<thread>|<iostream>|<fstream>'
broker_forbidden='ev\.h|ev\+\+\.h|ngtcp2|nghttp3|gnutls|openssl|sys/socket|netinet|"transport/|"server/'

scan() {  # scan DIR REGEX -> prints violations
  local dir=$1 re=$2
  [ -d "$dir" ] || return 0
  grep -rnE --include='*.h' --include='*.cc' "^[[:space:]]*#[[:space:]]*include.*(${re})" "$dir" || true
}

# Negative control.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/codec"
printf '#include <ngtcp2/ngtcp2.h>\n' > "$tmp/codec/planted.h"
if [ -z "$(scan "$tmp/codec" "$codec_forbidden")" ]; then
  echo "layering: negative control was not detected; the checker is broken" >&2
  exit 1
fi

bad=$(scan "$root/lib/codec" "$codec_forbidden"; scan "$root/lib/util" "$codec_forbidden";
      scan "$root/lib/broker" "$broker_forbidden")
if [ -n "$bad" ]; then
  echo "layering: forbidden includes:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "layering: lib/codec, lib/util and lib/broker are clean"
