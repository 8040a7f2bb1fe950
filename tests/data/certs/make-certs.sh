#!/usr/bin/env bash
# Regenerates the test PKI used by the QUIC tests (ECDSA P-256, openssl CLI only):
#   ca.pem / ca.key           test CA
#   server.pem / server.key   CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1; signed by ca
#   client.pem / client.key   CN=quic-client (client auth); signed by ca
#   other-ca.pem / other-ca.key, other-client.pem / other-client.key
#                             an unrelated CA and a client certificate it signed (negative tests)
#   other-server.pem / other-server.key
#                             CN=localhost (same SANs as server.pem) signed by other-ca: a second
#                             server certificate (certificate reload tests)
# The generated files are committed, so tests never need to run this. Certificates are valid for
# 20 years from generation. For tests only: the private keys are public.
set -euo pipefail
cd "$(dirname "$0")"
days=7300
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ca() {  # ca NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem"
}

leaf() {  # leaf NAME CN CA EXTFILE
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
    -CAserial "$tmp/$3.srl" -sha256 -days "$days" -extfile "$4" -out "$1.pem"
}

cat > "$tmp/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
cat > "$tmp/client.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT

ca ca "mquictt test CA"
leaf server localhost ca "$tmp/server.ext"
leaf client quic-client ca "$tmp/client.ext"
ca other-ca "unrelated test CA"
leaf other-client other-client other-ca "$tmp/client.ext"
leaf other-server localhost other-ca "$tmp/server.ext"
echo "test certificates written to $(pwd)"
