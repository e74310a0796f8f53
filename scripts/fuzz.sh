#!/usr/bin/env bash
# Coverage-guided fuzzing of the config parser, the signals-table decoder and bar validation with
# cargo fuzz (libFuzzer); see fuzz/README.md.
#
#   bash scripts/fuzz.sh                      # long run: 600 s per target, AddressSanitizer
#   bash scripts/fuzz.sh 3600 config_json     # one target for an hour
#   bash scripts/fuzz.sh --ci                 # CI's short run: 20 s per target, no sanitizer
#
# Works on the stable toolchain: cargo fuzz needs nightly-only rustc flags, which
# RUSTC_BOOTSTRAP=1 unlocks for the fuzz build only (the project itself stays on stable).
# Environment: OMEGA_FUZZ_SECONDS (per target), OMEGA_FUZZ_SANITIZER (address|none),
# OMEGA_FUZZ_JOBS (parallel libFuzzer jobs per target in the long run, default 1).
# A finding stops the run with a non-zero status; the input is in fuzz/artifacts/<target>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CI_MODE=0
if [ "${1:-}" = "--ci" ]; then
    CI_MODE=1
    shift
fi
if [ "$CI_MODE" = 1 ]; then
    SECONDS_PER_TARGET="${OMEGA_FUZZ_SECONDS:-20}"
    SANITIZER="${OMEGA_FUZZ_SANITIZER:-none}"
else
    SECONDS_PER_TARGET="${1:-${OMEGA_FUZZ_SECONDS:-600}}"
    [ $# -gt 0 ] && shift
    SANITIZER="${OMEGA_FUZZ_SANITIZER:-address}"
fi
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(config_json signals_ipc bars)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (once per machine)"
    cargo install cargo-fuzz --version "^0.13" --locked --quiet
fi
case "$(rustc --version)" in
    *nightly*) ;;
    *) export RUSTC_BOOTSTRAP=1 ;;
esac

cd fuzz
# One build for all targets (cargo fuzz run below finds it up to date).
echo "== cargo fuzz build (sanitizer: $SANITIZER)"
BUILD_TARGET=()
if [ ${#TARGETS[@]} -eq 1 ]; then BUILD_TARGET=("${TARGETS[0]}"); fi
if ! cargo fuzz build -O -s "$SANITIZER" "${BUILD_TARGET[@]}" > /tmp/omega-fuzz-build.log 2>&1; then
    tail -40 /tmp/omega-fuzz-build.log >&2
    echo "cargo fuzz build failed (log: /tmp/omega-fuzz-build.log)" >&2
    exit 1
fi
tail -1 /tmp/omega-fuzz-build.log
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    echo "== fuzz $t for ${SECONDS_PER_TARGET}s"
    # corpus/<t> (ignored by git) grows across runs; seeds/<t> is committed and read-only here.
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a memory blow-up.
    set +e
    cargo fuzz run -O -s "$SANITIZER" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -jobs="${OMEGA_FUZZ_JOBS:-1}" -workers="${OMEGA_FUZZ_JOBS:-1}" \
        -print_final_stats=1 > "/tmp/omega-fuzz-$t.log" 2>&1
    status=$?
    set -e
    grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "/tmp/omega-fuzz-$t.log" || true
    if [ "$status" -ne 0 ]; then
        grep -E "panicked at|ERROR|SUMMARY|Test unit written" -A4 "/tmp/omega-fuzz-$t.log" | head -40
        echo "fuzz target $t found a problem (log: /tmp/omega-fuzz-$t.log). Reproduce:" >&2
        echo "  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s $SANITIZER $t artifacts/$t/<file>)" >&2
        echo "then fix it and add the input to fuzz/seeds/$t/ as regression-<what>.<ext>" >&2
        exit 1
    fi
done
echo "== fuzzing finished without findings"
