#!/bin/sh
# gen-test-certs.sh DIR: throwaway certificates for the tests and a quick start.
#   ca.pem ca.key            a test CA
#   server.pem server.key    server certificate for 127.0.0.1 / localhost, signed by the CA
#   chain.pem                server.pem followed by ca.pem (for tls_cert_file)
#   client.pem client.key    client certificate signed by the CA (mutual TLS)
#   other-ca.pem other-ca.key, other-client.pem other-client.key, other-server.pem other-server.key
#                            a second CA, and a client and a server it signed
# Never use these outside tests: the keys are unencrypted and the CA is throwaway.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"
days=30
umask 077

ca() {    # ca NAME SUBJECT
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
        -subj "$2" -keyout "$1.key" -out "$1.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

leaf() {    # leaf NAME SUBJECT CA EXTFILE-CONTENT
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days $days \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=gmq test CA"
ca other-ca "/CN=gmq other test CA"
leaf server "/CN=localhost" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client "/CN=gmq test client" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
leaf other-client "/CN=gmq other client" other-ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
leaf other-server "/CN=localhost" other-ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
cat server.pem ca.pem > chain.pem
rm -f ca.srl other-ca.srl
chmod 644 ./*.pem
echo "certificates in $(pwd): tls_cert_file=chain.pem tls_key_file=server.key, clients trust ca.pem"
