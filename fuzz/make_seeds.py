"""Writes the committed seed inputs of the fuzz targets (fuzz/seeds/<target>/); see fuzz/README.md.

    python fuzz/make_seeds.py

Seeds give the fuzzers (cargo fuzz and the libFuzzer-free run in crates/loop/tests/fuzz_inputs.rs)
valid inputs to mutate from: the run configs of the golden scenarios, signals tables as Arrow IPC
streams in the layouts the engine accepts (and a few it must reject with a code), and byte strings
for the structured bars target, plus regression inputs of bugs the fuzzers found.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
sys.path.insert(0, str(ROOT / "tests" / "golden"))

import goldenlib as g  # noqa: E402
from omega_engine import config  # noqa: E402


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def main() -> None:
    fx = g.load_fixtures()
    inputs = g.build_inputs(fx)
    for target in ("config_json", "signals_ipc", "bars"):
        d = SEEDS / target
        # Regression inputs are kept; generated seeds are rewritten.
        for p in d.glob("gen-*"):
            p.unlink()
        d.mkdir(parents=True, exist_ok=True)

    # config_json: every golden config as the engine receives it (symbols mapped onto the fuzz
    # data set: EURUSD bars, USDJPY bars, GBPUSD ticks; signals tables "signals"/"main").
    seen = set()
    for name in fx["scenarios"]:
        for i, cfg in enumerate(g.scenario_configs(fx, name, inputs)):
            if cfg["strategy"]["name"] == "signals":
                cfg["strategy"]["params"]["table"] = "main"
                if name == "ticks":
                    cfg["symbol"] = "GBPUSD"
                    cfg["symbol_spec"] = dict(fx["symbol_specs"]["EURUSD"], base_currency="GBP")
            text = config.prepare([cfg], {}, [cfg["symbol"]])[0]
            if text not in seen:
                seen.add(text)
                (SEEDS / "config_json" / f"gen-{name}-{i}.json").write_text(text)

    # signals_ipc: the golden signals tables in several accepted layouts, and rejected ones.
    sig = inputs["signals_main"]
    assert isinstance(sig, pa.Table)
    variants = {
        "golden": sig,
        "ticks": inputs["signals_ticks"],
        "int64-ts": sig.set_column(0, "timestamp", pc.cast(sig.column("timestamp"), pa.int64())),
        "large-strings": pa.table({c: (pc.cast(sig.column(c), pa.large_string())
                                      if sig.schema.field(c).type == pa.string()
                                      else sig.column(c)) for c in sig.column_names}),
        "required-only": sig.select(["timestamp", "symbol", "direction", "stop_loss",
                                     "take_profit"]),
        "bad-direction": sig.set_column(2, "direction",
                                        pa.array(["up"] * sig.num_rows, pa.string())),
        "dictionary-symbol": sig.set_column(1, "symbol",
                                            pc.dictionary_encode(sig.column("symbol"))),
        "empty": sig.slice(0, 0),
    }
    for k, t in variants.items():
        (SEEDS / "signals_ipc" / f"gen-{k}.arrows").write_bytes(ipc(t.slice(0, 12)))

    # bars: deterministic byte strings (the target reads them as a structure, see checks.rs).
    for k in range(8):
        data = b"".join(hashlib.sha256(f"bars-{k}-{j}".encode()).digest() for j in range(12))
        (SEEDS / "bars" / f"gen-{k}.bin").write_bytes(bytes([k * 2 % 8]) + data)
    count = {t: len(list((SEEDS / t).iterdir())) for t in ("config_json", "signals_ipc", "bars")}
    print(f"seeds written: {json.dumps(count)}")


if __name__ == "__main__":
    if "--clean" in sys.argv:
        shutil.rmtree(SEEDS, ignore_errors=True)
    main()
