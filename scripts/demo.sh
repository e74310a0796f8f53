#!/usr/bin/env bash
# The main job of the README: a demo backtest on generated data, with a printed summary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OMEGA_EXTRAS="${OMEGA_EXTRAS:-report}" source scripts/setup.sh
omega-engine demo "$@"
