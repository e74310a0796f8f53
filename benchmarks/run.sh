#!/usr/bin/env bash
# The peer comparison suite in one command: installs the `bench` extra (vectorbt,
# backtesting.py, matplotlib) into .venv, builds the extension with the release profile
# (fat LTO: the build users get), then runs benchmarks/run.py with the arguments given, e.g.
#   bash benchmarks/run.sh              # the full suite (about 10 minutes on 2 cores)
#   bash benchmarks/run.sh --quick      # W3 on 100 configs for vectorbt
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OMEGA_EXTRAS="${OMEGA_EXTRAS:-bench}" OMEGA_CARGO_PROFILE=release bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
exec python benchmarks/run.py "$@"
