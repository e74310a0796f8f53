#!/usr/bin/env bash
# Creates .venv, installs the Python dependencies and builds the extension into it.
# Sourced by demo.sh and test.sh; safe to run again (pip and cargo only redo what changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${OMEGA_EXTRAS:-test}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install --quiet --upgrade pip
# setuptools + wheel: the local plugin packages below are built without build isolation.
python -m pip install --quiet "maturin>=1.9,<2" "setuptools>=64" wheel
# Dependencies first (from pyproject), then the package itself built by maturin in the ci profile.
python - "$EXTRAS" <<'PY' > .venv/omega-requirements.txt
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = list(project["dependencies"])
for extra in filter(None, sys.argv[1].split(",")):
    reqs += project["optional-dependencies"][extra]
print("\n".join(reqs))
PY
python -m pip install --quiet -r .venv/omega-requirements.txt
maturin develop --quiet --profile "${OMEGA_CARGO_PROFILE:-ci}" --manifest-path crates/py-bindings/Cargo.toml
# Example plugins, installed so that entry-point discovery is exercised for real.
for plugin in plugins/*/; do
    if [ -f "$plugin/pyproject.toml" ]; then
        python -m pip install --quiet --no-deps --no-build-isolation -e "$plugin"
    fi
done
# The test suite's own tiny plugin (tests/plugins/): entry-point discovery in the tests.
case ",$EXTRAS," in
    *,test,*)
        for plugin in tests/plugins/*/; do
            if [ -f "$plugin/pyproject.toml" ]; then
                # Built from a copy so that no build artefacts land in the source tree.
                tmp="$(mktemp -d)"
                cp -r "$plugin" "$tmp/plugin"
                python -m pip install --quiet --no-deps --no-build-isolation "$tmp/plugin"
                rm -rf "$tmp"
            fi
        done
        ;;
esac
