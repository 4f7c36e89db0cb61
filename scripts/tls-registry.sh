# Sourced by the benchmarks' TLS=1 modes: `tls_registry DIR STORAGE` starts a docker-registry
# serving TLS on a free loopback port over the storage directory STORAGE, with a test CA made in
# DIR and trusted the way a host trusts one: hashed into a copy of the system's certificate
# directory (SSL_CERT_DIR, exported; SSL_CERT_FILE unset), which Go (notation, docker-registry)
# and OpenSSL (pullguard) both read. Sets TLS_PORT, TLS_PID and TLS_CA (the CA file, for curl).
tls_registry() {
  local dir=$1 storage=$2
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  mkdir -p "$dir/certs"
  cp -a /etc/ssl/certs/. "$dir/certs/"
  cp "$dir/cert.pem" "$dir/certs/$(openssl x509 -noout -subject_hash -in "$dir/cert.pem").0"
  TLS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n  tls: {certificate: %s, key: %s}\n' \
    "$storage" "$TLS_PORT" "$dir/cert.pem" "$dir/key.pem" >"$dir/registry-tls.yml"
  docker-registry serve "$dir/registry-tls.yml" >"$dir/registry-tls.log" 2>&1 </dev/null &
  TLS_PID=$!
  TLS_CA=$dir/cert.pem
  local _
  for _ in $(seq 100); do
    curl -sf --cacert "$TLS_CA" "https://127.0.0.1:$TLS_PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  unset SSL_CERT_FILE
  export SSL_CERT_DIR=$dir/certs
}
