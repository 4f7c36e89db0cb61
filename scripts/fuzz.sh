#!/usr/bin/env bash
# Run every cargo-fuzz target in turn (fuzz/), each for SECONDS (default 60), and fail on any
# crash (panic, overflow, out-of-memory, timeout). Prints per target: executions, time, crashes.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#   bash scripts/fuzz.sh --smoke [TARGET...]      # 5 s each from the seeds only (CI)
#
# Needs the nightly toolchain (rustup; else the default one with RUSTC_BOOTSTRAP=1) and cargo-fuzz (installed here when missing). The seed
# corpora are built from ../shared/testdata/notation (fuzz/seeds.py) into fuzz/corpus/ (not in
# git; what the fuzzer finds is kept there for the next run). Crashing inputs land in
# fuzz/artifacts/<target>/; replay one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/<file>
# Each target runs in a network namespace of its own with loopback only when `unshare` allows
# (certificates and registry answers from the fuzzer may name any host: nothing leaves).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=60
corpus=fuzz/corpus
if [[ ${1:-} == --smoke ]]; then
    # The seeds only, in a fresh directory: a smoke takes the same time on every run.
    secs=5
    corpus=fuzz/target/smoke-corpus
    rm -rf "$corpus"
    shift
elif [[ ${1:-} =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi

nightly=+nightly
if ! cargo +nightly --version >/dev/null 2>&1; then
    # cargo-fuzz needs unstable rustc flags; the stable compiler takes them with this.
    echo "fuzz.sh: no nightly toolchain: the default one with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
    nightly=
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# No sanitizer (safe Rust; OpenSSL is the system's, uninstrumented either way), with debug
# assertions so that integer overflow panics.
(cd fuzz && cargo $nightly fuzz build --sanitizer none --debug-assertions)
PG_FUZZ_CORPUS=$corpus python3 fuzz/seeds.py

bin=fuzz/target/x86_64-unknown-linux-gnu/release
if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(cd fuzz && cargo $nightly fuzz list)
fi

isolate=()
if unshare --net true 2>/dev/null; then
    isolate=(unshare --net sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh)
else
    echo "fuzz.sh: unshare --net is not allowed here: targets run in the host network namespace" >&2
fi

mkdir -p fuzz/logs
failed=0
rows=()
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/logs/$t.log"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    start=$(date +%s.%N)
    set +e
    "${isolate[@]}" "$bin/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "$corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if ((rc != 0)) && ((crashes == 0)); then
        crashes=1 # died without an artifact (for example killed): count it
    fi
    if ((crashes > 0)); then
        failed=1
        echo "fuzz.sh: $t crashed (exit $rc); see $log and fuzz/artifacts/$t/" >&2
        grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -5 >&2 || true
    fi
    rows+=("$(printf '%-18s %12s %8ss %8s' "$t" "${execs:-?}" "$took" "$crashes")")
done

printf '%-18s %12s %9s %8s\n' target executions time crashes
printf '%s\n' "${rows[@]}"
if ((failed)); then
    echo "fuzz.sh: FAILED: a target crashed" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each, no crash"
