#!/usr/bin/env bash
# Regenerates the golden outputs in tests/golden/expected and prints what changed, table by table
# (see tests/golden/README.md). Rebuild the extension first so the outputs come from your code:
#   bash scripts/regen_golden.sh            # all scenarios (rebuilds the extension)
#   bash scripts/regen_golden.sh costs      # one scenario
#   bash scripts/regen_golden.sh --check    # report differences only, write nothing
#   OMEGA_SKIP_BUILD=1 bash scripts/regen_golden.sh   # use the extension as installed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source .venv/bin/activate
if [ -z "${OMEGA_SKIP_BUILD:-}" ]; then
    maturin develop --quiet --profile "${OMEGA_CARGO_PROFILE:-ci}" \
        --manifest-path crates/py-bindings/Cargo.toml
fi
python tests/golden/regen.py "$@"
echo
git status --short tests/golden/expected
