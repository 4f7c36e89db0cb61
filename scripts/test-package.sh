#!/usr/bin/env bash
# The Debian package, built and checked: its contents and conffiles, then installed with dpkg into
# a throwaway root (maintainer scripts run chrootless with DPKG_ROOT), where the binaries answer
# --version, the man pages and completions are in place, the conffile is registered, the
# postinst made the directories and the group and enabled nothing, the units pass
# `systemd-analyze verify`, the example policy passes `policy check` and the conffile names every
# key of src/config/raw.rs. Removal leaves only the conffile; purge leaves nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
fail() { echo "test-package: $*" >&2; exit 1; }
DEB=$(bash scripts/package.sh | tail -1)
[[ -f "$DEB" ]] || fail "no package built"
TMP=$(mktemp -d /tmp/pullguard-package.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# Contents and control data.
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's#^\./#/#' >"$TMP/contents"
for f in /usr/bin/pullguard /usr/bin/pullguard-containerd-verifier \
    /usr/lib/systemd/system/pullguard.service /usr/lib/systemd/system/pullguard.socket \
    /usr/lib/systemd/system/pullguard-control.socket /usr/lib/systemd/system/pullguard-mirror.socket \
    /usr/lib/systemd/system/pullguard-authz.socket \
    /usr/share/doc/pullguard/examples/docker.service.d/pullguard-authz.conf \
    /usr/share/doc/pullguard/examples/containerd.service.d/pullguard-verifier.conf \
    /etc/pullguard/config.toml /usr/share/doc/pullguard/examples/trustpolicy.json \
    /usr/share/doc/pullguard/examples/README /usr/share/doc/pullguard/README.md \
    /usr/share/man/man1/pullguard.1.gz /usr/share/man/man1/pullguard-serve.1.gz \
    /usr/share/man/man1/pullguard-verify.1.gz /usr/share/man/man1/pullguard-ctl.1.gz \
    /usr/share/man/man1/pullguard-policy-check.1.gz /usr/share/man/man1/pullguard-containerd-verifier.1.gz \
    /usr/share/bash-completion/completions/pullguard /usr/share/zsh/vendor-completions/_pullguard \
    /usr/share/fish/vendor_completions.d/pullguard.fish; do
  grep -qx "$f" "$TMP/contents" || fail "$f is not in the package"
done
! grep -q '^/etc/pullguard/trustpolicy' "$TMP/contents" || fail "a trust policy in /etc/pullguard changes what verify reads"
! grep -q 'docker.service.d/.*[^/]$' <(grep -v '^/usr/share/doc/' "$TMP/contents") || fail "a docker.service drop-in is installed live"
[[ "$(dpkg-deb -f "$DEB" Package)" == pullguard ]] || fail "package name"
dpkg-deb -I "$DEB" conffiles | grep -qx /etc/pullguard/config.toml || fail "config.toml is not a conffile"
dpkg-deb -I "$DEB" postinst >/dev/null || fail "no postinst"

# Install into a throwaway root. Its dpkg database is empty, so libc6/libssl3 are "missing".
R="$TMP/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
for db in passwd group shadow gshadow; do
  grep -v '^pullguard:' "/etc/$db" >"$R/etc/$db" || true
done
DPKG=(dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null)
"${DPKG[@]}" -i "$DEB" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "dpkg -i failed"; }
"${DPKG[@]}" -s pullguard | awk '/^Conffiles:/{c=1; next} c && /^ /{print $1} c && !/^ /{c=0}' \
  | grep -qx /etc/pullguard/config.toml || fail "dpkg does not list the conffile"

# The binaries. OpenSSL is linked in statically (.cargo/config.toml): no libssl3 needed.
for b in pullguard pullguard-containerd-verifier; do
  ! ldd "$R/usr/bin/$b" | grep -q 'libssl\|libcrypto' || fail "$b links OpenSSL dynamically"
  # Packed relative relocations (build.rs) need glibc 2.36; no symbol says so to dpkg-shlibdeps.
  if objdump -p "$R/usr/bin/$b" | grep -q GLIBC_ABI_DT_RELR; then
    dpkg-deb -f "$DEB" Depends | grep -q 'libc6 (>= 2.36)' || fail "$b needs glibc 2.36 (DT_RELR); Depends does not say so"
  fi
done
"$R/usr/bin/pullguard" --version | grep -qx "pullguard $(dpkg-deb -f "$DEB" Version | cut -d- -f1)" || fail "pullguard --version"
"$R/usr/bin/pullguard-containerd-verifier" --version | grep -q '^pullguard-containerd-verifier ' || fail "verifier --version"
"$R/usr/bin/pullguard-containerd-verifier" --help | grep -q -- '-digest' || fail "verifier --help"
# Man pages: roff with a title; completions name the commands.
for m in "$R"/usr/share/man/man1/*.1.gz; do
  zcat "$m" | grep -q '^\.TH ' || fail "$m is not a man page"
done
grep -q 'serve' "$R/usr/share/bash-completion/completions/pullguard" || fail "bash completion"
grep -q 'serve' "$R/usr/share/zsh/vendor-completions/_pullguard" || fail "zsh completion"
grep -q 'serve' "$R/usr/share/fish/vendor_completions.d/pullguard.fish" || fail "fish completion"

# The postinst: directories and the group, nothing enabled.
for d in /etc/pullguard/truststore/x509/ca /etc/pullguard/truststore/x509/signingAuthority /etc/pullguard/truststore/x509/tsa; do
  [[ -d "$R$d" ]] || fail "postinst did not create $d"
done
grep -q '^pullguard:' "$R/etc/group" || fail "postinst did not create the pullguard group"
[[ -z "$(find "$R/etc" -path '*systemd*' -name 'pullguard*' 2>/dev/null)" ]] || fail "a unit was enabled"

# The conffile: every key of src/config/raw.rs is in it, and uncommented it is a valid config.
keys=$(awk '/^pub struct (RawConfig|[A-Za-z]+Section) /{s=1} s && /^}/{s=0} s && /^    pub [a-z_]+:/{sub(/:.*/, "", $2); print $2}' src/config/raw.rs)
[[ -n "$keys" ]] || fail "no keys found in src/config/raw.rs"
for k in $keys; do
  grep -Eq "^(# )?$k = |^\[$k\]" "$R/etc/pullguard/config.toml" || fail "config key $k is not in config.toml"
done
sed -E 's/^# ([a-z_]+ = )/\1/' "$R/etc/pullguard/config.toml" >"$TMP/uncommented.toml"
# The example policy with a real CA in its store passes policy check under that config.
P="$TMP/policy"
mkdir -p "$P/truststore/x509/ca/example"
cp "$R/usr/share/doc/pullguard/examples/trustpolicy.json" "$P/"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/ca.key" -out "$P/truststore/x509/ca/example/ca.crt" \
  -subj "/CN=Example Root/O=Example/C=US" -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
sed -i -E "s#^policy_dir = .*#policy_dir = \"$P\"#" "$TMP/uncommented.toml"
out=$("$R/usr/bin/pullguard" policy check --config "$TMP/uncommented.toml") || fail "policy check: $out"
[[ "$out" == ok:* ]] || fail "policy check: $out"
"$R/usr/bin/pullguard" policy check --config "$R/etc/pullguard/config.toml" --policy-dir "$P" >/dev/null \
  || fail "the installed config.toml does not load"

# The installed units, with ExecStart pointing into the root.
U="$TMP/units"
mkdir -p "$U"
cp "$R"/usr/lib/systemd/system/pullguard* "$U/"
grep -q '^ExecStart=/usr/bin/pullguard ' "$U/pullguard.service" || fail "the unit does not run /usr/bin/pullguard"
sed -i "s#/usr/bin/pullguard#$R/usr/bin/pullguard#" "$U/pullguard.service"
if command -v systemd-analyze >/dev/null; then
  (cd "$U" && MANPATH="$R/usr/share/man" systemd-analyze verify pullguard.service pullguard.socket pullguard-control.socket pullguard-mirror.socket pullguard-authz.socket) \
    >"$TMP/verify.log" 2>&1 || { cat "$TMP/verify.log" >&2; fail "systemd-analyze verify"; }
  [[ ! -s "$TMP/verify.log" ]] || { cat "$TMP/verify.log" >&2; fail "systemd-analyze verify warned"; }
else
  fail "systemd-analyze is missing (apt-get install systemd)"
fi

# Remove: only the conffile (and the postinst's directories) stay. Purge: nothing.
"${DPKG[@]}" -r pullguard >/dev/null 2>&1 || fail "dpkg -r failed"
left=$(cd "$R" && find . -type f ! -path './var/lib/dpkg/*' ! -path './etc/passwd*' ! -path './etc/group*' ! -path './etc/shadow*' ! -path './etc/gshadow*' | sort)
[[ "$left" == "./etc/pullguard/config.toml" ]] || fail "after dpkg -r: $left"
"${DPKG[@]}" -P pullguard >/dev/null 2>&1 || fail "dpkg -P failed"
[[ ! -e "$R/etc/pullguard" ]] || fail "after purge: $(find "$R/etc/pullguard")"
echo "test-package: ok ($DEB)"
