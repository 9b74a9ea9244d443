#!/usr/bin/env bash
# Makes a demo certificate authority and one certificate per node, for meshkv's TLS (tls-port,
# tls-replication) and for clients (redis-cli --tls).
#
#   scripts/tls-certs.sh DIR NAME [NAME ...]
#
# DIR gets ca.crt and ca.key (the authority: every node's tls-ca-cert-file), and NAME.crt and
# NAME.key for each NAME. Each certificate is good for both ends of a connection (serverAuth and
# clientAuth), so a node presents the same one to its clients and to the peers it pulls from,
# and names NAME plus $TLS_EXTRA_SANS (default DNS:localhost,IP:127.0.0.1; empty for none): a peer
# link checks that the certificate names the host it dialled (the `replicaof` host). An existing ca.crt/ca.key in DIR is reused, so nodes can be
# added later. The keys are unencrypted and readable by all (the container's user must read them):
# a demo, not a production PKI.
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
dir="$1"
shift
extra="${TLS_EXTRA_SANS-DNS:localhost,IP:127.0.0.1}"
mkdir -p "$dir"
cd "$dir"

# Each CA gets a name of its own (a random suffix): another demo CA's certificates are then from
# an unknown issuer, not a forgery of this one.
if [ ! -f ca.crt ] || [ ! -f ca.key ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key \
    -days 3650 -subj "/O=meshkv demo/CN=meshkv demo CA $(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
fi

for name in "$@"; do
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$name.key" \
    -subj "/O=meshkv demo/CN=$name" -out "$name.csr" 2>/dev/null
  cat >"$name.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$name${extra:+,$extra}
EXT
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  chmod 644 "$name.key"
done
rm -f ca.srl
echo "tls-certs.sh: $(pwd)/ca.crt and ${*/%/.crt} signed by it"
