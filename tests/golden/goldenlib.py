"""Golden scenarios: build the inputs, run them, serialize and compare the outputs.

The scenarios are declared in ``fixtures/scenarios.json``; their committed outputs live in
``expected/`` as gzipped Arrow IPC streams (``<scenario>.<table>.arrows.gz``; gzip only to keep
the repository small: the comparison is on the uncompressed IPC bytes, which must be identical).
``expected/inputs.json`` records a SHA-256 of every input so that a failure can tell "the inputs
changed" (e.g. the synthetic generator) from "the engine's output changed".

Used by ``test_golden.py`` and by ``regen.py`` (``bash scripts/regen_golden.sh``).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "scenarios.json"
EXPECTED = HERE / "expected"
INPUTS_FILE = EXPECTED / "inputs.json"
TABLES = ("summary", "trades", "equity")
REGEN_COMMAND = "bash scripts/regen_golden.sh"


def load_fixtures() -> dict[str, Any]:
    return dict(json.loads(FIXTURES.read_text()))


def ipc_bytes(table: pa.Table) -> bytes:
    """The Arrow IPC stream of ``table`` (the byte form the determinism contract is about)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- inputs ----------------------------------------------------------------------------------

def _synthetic(spec: Mapping[str, Any]) -> oe.Bars:
    bars = oe.synthetic_bars(spec["symbol"], n=int(spec["n"]), timeframe=spec["timeframe"],
                             seed=int(spec["seed"]), start=spec["start"])
    gaps = spec.get("gaps")
    if gaps is None:
        return bars
    # Every `every`-th bar opens away from the previous close by the next of `pips` (cycled):
    # the whole series from that bar on is shifted, so each bar stays a consistent OHLC candle.
    table = bars.to_arrow()
    pip = oe.specs.get(spec["symbol"]).pip_size
    n = table.num_rows
    shift = [0.0] * n
    acc, k = 0.0, 0
    for i in range(n):
        if i > 0 and i % int(gaps["every"]) == 0:
            acc += float(gaps["pips"][k % len(gaps["pips"])]) * pip
            k += 1
        shift[i] = acc
    shift_arr = pa.array(shift, pa.float64())
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name.startswith(("bid_", "ask_")):
            # Round to the feed's tenth of a pip like the generator, so prices stay exact.
            col = pc.round(pc.add(col, shift_arr), 6)
        cols[name] = col
    return oe.load_bars(spec["symbol"], pa.table(cols))


def _ticks_from_bars(bars: oe.Bars) -> oe.Ticks:
    """Four ticks per bar (open, the extreme nearer the open, the other extreme, close) at
    +0 s, +15 s, +30 s, +45 s of the bar; bid and ask from the matching candle prices."""
    t = bars.to_arrow()
    ts = t.column("timestamp").cast(pa.int64()).to_pylist()
    step = (ts[1] - ts[0]) // 4
    cols = {k: t.column(k).to_pylist() for k in t.column_names if k != "timestamp"}
    out_ts: list[int] = []
    bid: list[float] = []
    ask: list[float] = []
    for i, t0 in enumerate(ts):
        o, h, lo, c = (cols[f"bid_{k}"][i] for k in ("open", "high", "low", "close"))
        ao, ah, al, ac = (cols[f"ask_{k}"][i] for k in ("open", "high", "low", "close"))
        up_first = (h - o) < (o - lo)
        path_b = [o, h, lo, c] if up_first else [o, lo, h, c]
        path_a = [ao, ah, al, ac] if up_first else [ao, al, ah, ac]
        for j in range(4):
            out_ts.append(t0 + j * step)
            bid.append(path_b[j])
            ask.append(path_a[j])
    table = pa.table({"timestamp": pa.array(out_ts, pa.timestamp("us", tz="UTC")),
                      "bid": bid, "ask": ask})
    return oe.load_ticks(bars.symbol, table)


def _signals_from(times: list[int], bid: list[float], ask: list[float], symbol: str, pip: float,
                  every: int, sl_pips: float, tp_pips: float) -> pa.Table:
    """A deterministic signals table: a signal every ``every`` rows, cycling through
    market/limit/stop orders, long/short and entry offsets; some rows deliberately have a stop
    on the wrong side or too close (rejections) and some carry reason/scenario/tags."""
    rows: dict[str, list[Any]] = {k: [] for k in (
        "timestamp", "symbol", "direction", "order_type", "entry_price", "stop_loss",
        "take_profit", "reason", "scenario", "tags")}
    for k, i in enumerate(range(every, len(times), every)):
        long = k % 2 == 0
        kind = ("market", "limit", "stop", "market", "market")[k % 5]
        ref = ask[i] if long else bid[i]
        sign = 1.0 if long else -1.0
        if kind == "market":
            entry = None if k % 3 else ref
        elif kind == "limit":
            entry = ref - sign * 2.0 * pip
        else:
            entry = ref + sign * 2.0 * pip
        base = ref if entry is None else entry
        sl = base - sign * sl_pips * pip
        tp = base + sign * tp_pips * pip
        if k % 11 == 7:
            sl = base + sign * sl_pips * pip  # wrong side: rejected
        if k % 13 == 5:
            sl = base - sign * 0.01 * pip  # closer than the minimum distance: rejected
        rows["timestamp"].append(times[i])
        rows["symbol"].append(symbol)
        rows["direction"].append("long" if long else "short")
        rows["order_type"].append(kind)
        rows["entry_price"].append(None if entry is None else round(entry, 6))
        rows["stop_loss"].append(round(sl, 6))
        rows["take_profit"].append(round(tp, 6))
        rows["reason"].append(f"rule{k % 4}" if k % 2 else None)
        rows["scenario"].append("golden" if k % 3 == 0 else None)
        rows["tags"].append("a,b" if k % 4 == 1 else None)
    types = {"timestamp": pa.timestamp("us", tz="UTC"), "entry_price": pa.float64(),
             "stop_loss": pa.float64(), "take_profit": pa.float64()}
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in rows.items()})


def build_inputs(fx: Mapping[str, Any]) -> dict[str, oe.Bars | oe.Ticks | pa.Table]:
    """Every named input of the fixtures (bars, ticks, signals tables)."""
    out: dict[str, oe.Bars | oe.Ticks | pa.Table] = {}
    for name, spec in fx["data"].items():
        kind = spec["kind"]
        if kind == "synthetic_bars":
            out[name] = _synthetic(spec)
        elif kind == "ticks_from_bars":
            out[name] = _ticks_from_bars(_synthetic(spec["bars"]))
        elif kind == "signals_from_bars":
            src = out[spec["bars"]]
            t = src.to_arrow()
            symbol = src.symbol
            pip = oe.specs.get(symbol).pip_size
            times = t.column("timestamp").cast(pa.int64()).to_pylist()
            if isinstance(src, oe.Ticks):
                bid, ask = t.column("bid").to_pylist(), t.column("ask").to_pylist()
            else:
                bid, ask = t.column("bid_close").to_pylist(), t.column("ask_close").to_pylist()
            out[name] = _signals_from(times, bid, ask, symbol, pip, int(spec["every"]),
                                      float(spec["sl_pips"]), float(spec["tp_pips"]))
        else:
            raise ValueError(f"fixtures: data {name!r} has an unknown kind {kind!r}")
    return out


def input_hashes(inputs: Mapping[str, oe.Bars | oe.Ticks | pa.Table]) -> dict[str, str]:
    return {name: sha256(ipc_bytes(v if isinstance(v, pa.Table) else v.to_arrow()))
            for name, v in sorted(inputs.items())}


# --- runs ------------------------------------------------------------------------------------

def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "strategy":
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def scenario_configs(fx: Mapping[str, Any], name: str,
                     inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scenario's configs with its defaults, the account and the symbol spec filled in."""
    sc = fx["scenarios"][name]
    symbols = [v.symbol for k, v in inputs.items() if k in sc["data"] and hasattr(v, "symbol")]
    configs = []
    for cfg in sc["configs"]:
        c = _merge(sc.get("defaults", {}), cfg)
        c.setdefault("symbol", symbols[0])
        c["account"] = _merge(fx["account"], c.get("account", {}))
        c["symbol_spec"] = _merge(fx["symbol_specs"][c["symbol"]], c.get("symbol_spec", {}))
        configs.append(c)
    return configs


def run_scenario(fx: Mapping[str, Any], name: str, inputs: Mapping[str, Any],
                 threads: int | None = 1) -> dict[str, bytes]:
    """Runs one scenario (all tables); returns table name → IPC bytes."""
    sc = fx["scenarios"][name]
    data = {inputs[k].symbol: inputs[k] for k in sc["data"]
            if not isinstance(inputs[k], pa.Table)}
    signals = {k: inputs[k] for k in sc["data"] if isinstance(inputs[k], pa.Table)} or None
    result = oe.run_many(scenario_configs(fx, name, inputs), data, threads=threads,
                         include=TABLES, progress=False, signals=signals, errors="raise")
    tables = {"summary": result.summary, "trades": result.trades, "equity": result.equity}
    out = {}
    for t in TABLES:
        table = tables[t]
        if table is None:
            raise AssertionError(f"golden scenario {name!r}: the {t} table is missing")
        out[t] = ipc_bytes(table)
    return out


# --- committed files -------------------------------------------------------------------------

def expected_path(scenario: str, table: str) -> Path:
    return EXPECTED / f"{scenario}.{table}.arrows.gz"


def read_expected(scenario: str, table: str) -> bytes | None:
    p = expected_path(scenario, table)
    return gzip.decompress(p.read_bytes()) if p.exists() else None


def write_expected(scenario: str, table: str, data: bytes) -> None:
    # mtime=0 and no file name in the header: the same bytes compress to the same file.
    EXPECTED.mkdir(parents=True, exist_ok=True)
    expected_path(scenario, table).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


# --- a readable diff -------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def describe_diff(old: bytes | None, new: bytes, limit: int = 12) -> list[str]:
    """What changed between two IPC streams of one table, in words (for review)."""
    if old is None:
        t = read_ipc(new)
        return [f"new file: {t.num_rows} rows, {t.num_columns} columns"]
    if old == new:
        return []
    a, b = read_ipc(old), read_ipc(new)
    lines: list[str] = []
    if a.schema != b.schema:
        an, bn = set(a.schema.names), set(b.schema.names)
        if bn - an:
            lines.append(f"columns added: {sorted(bn - an)}")
        if an - bn:
            lines.append(f"columns removed: {sorted(an - bn)}")
        for f in a.schema:
            if f.name in bn and b.schema.field(f.name) != f:
                lines.append(f"column {f.name}: {f} -> {b.schema.field(f.name)}")
        if [n for n in a.schema.names if n in bn] != [n for n in b.schema.names if n in an]:
            lines.append("column order changed")
        if a.schema.metadata != b.schema.metadata:
            lines.append("schema metadata changed")
    if a.num_rows != b.num_rows:
        lines.append(f"rows: {a.num_rows} -> {b.num_rows}")
    shown = 0
    for name in a.schema.names:
        if name not in b.schema.names:
            continue
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if x == y:
            continue
        n = min(len(x), len(y))
        diffs = [i for i in range(n) if x[i] != y[i] and not (x[i] != x[i] and y[i] != y[i])]
        if not diffs:
            continue  # only the row count differs (reported above)
        lines.append(f"column {name}: {len(diffs)} of {n} common rows differ"
                     + (f", first at row {diffs[0]}: {_fmt(x[diffs[0]])} -> {_fmt(y[diffs[0]])}"
                        if diffs else ""))
        shown += 1
        if shown >= limit:
            lines.append("... (more columns differ)")
            break
    if not lines:
        lines.append("same values, different bytes (IPC layout: padding, chunking or metadata)")
    return lines
