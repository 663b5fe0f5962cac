#!/usr/bin/env bash
# make-ca.sh DIR: a test CA and a code-signing certificate it issued, for RAUC bundles (the disks'
# keyring is the CA; `rauc bundle` signs with the leaf). Test keys only: never for a real product.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
cat >ca.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
O = hw-test
CN = hw-test RAUC test CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
# codeSigning for the disks (check-purpose=codesign), emailProtection for the host's
# `rauc bundle --keyring` check, which uses OpenSSL's default S/MIME purpose.
extendedKeyUsage = codeSigning, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
# EC keys: fast to make and to verify under emulation.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 36500 \
	-config ca.cnf -extensions ca_ext -keyout ca.key.pem -out ca.cert.pem 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-subj "/O=hw-test/CN=hw-test RAUC bundle signing" -keyout signing.key.pem -out signing.csr.pem 2>/dev/null
openssl x509 -req -in signing.csr.pem -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days 36500 \
	-extfile ca.cnf -extensions leaf_ext -out signing.cert.pem 2>/dev/null
openssl verify -CAfile ca.cert.pem -purpose any signing.cert.pem
