#!/usr/bin/env bash
# Build the Debian package: target/debian/pullguard_<version>-1_<arch>.deb (its path is printed).
# Release binaries, then man pages and shell completions generated from the command line
# (examples/gen_docs.rs) into target/release/generated/, then cargo-deb ([package.metadata.deb]).
# PACKAGE_PROFILE=dev packages the debug build instead (what the test suite checks: the same
# files, without a release build of its own).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
command -v dpkg-deb >/dev/null || { echo "package: dpkg-deb is missing" >&2; exit 1; }
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
PROFILE=${PACKAGE_PROFILE:-release}
case $PROFILE in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
GEN="$TARGET/$DIR/generated"
cargo build --profile "$PROFILE" --locked --bins
rm -rf "$GEN"
cargo run --profile "$PROFILE" --locked --quiet --example gen_docs -- "$GEN"
gzip -9n "$GEN"/man/*.1
cargo deb --no-build --locked --profile "$PROFILE" --output "$TARGET/debian/" >/dev/null
ls -t "$TARGET"/debian/pullguard_*.deb | head -1
