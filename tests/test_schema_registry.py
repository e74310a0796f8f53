"""Schema drift detection: every Arrow schema that crosses the Rust/Python boundary is listed once,
with a fingerprint (SHA-256 of a canonical rendering: field names, types, nullability, field and
schema metadata) recorded in tests/golden/schema_fingerprints.json.

A schema change without an updated fingerprint file fails here. When the change is intended:

    python tests/test_schema_registry.py --update

then review ``git diff tests/golden/schema_fingerprints.json`` (it shows the fields, not only
hashes), update the README's column reference if a result table changed, and commit both.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

FINGERPRINTS = Path(__file__).resolve().parent / "golden" / "schema_fingerprints.json"
UPDATE_COMMAND = "python tests/test_schema_registry.py --update"


# --- canonical rendering ------------------------------------------------------------------------

def _meta(md: dict[bytes, bytes] | None) -> dict[str, str]:
    if not md:
        return {}
    return {k.decode("utf-8", "backslashreplace"): v.decode("utf-8", "backslashreplace")
            for k, v in sorted(md.items())}


def render_type(t: pa.DataType) -> Any:
    """A type as text; nested types list their children as fields (names, nullability and
    metadata of children matter too, and ``str(type)`` omits some of that)."""
    if t.num_fields == 0:
        return str(t)
    children = [render_field(t.field(i)) for i in range(t.num_fields)]
    kind = type(t).__name__
    if pa.types.is_dictionary(t):
        return {"dictionary": [str(t.index_type), render_type(t.value_type)],
                "ordered": t.ordered}
    return {kind: str(t), "children": children}


def render_field(f: pa.Field) -> dict[str, Any]:
    return {"name": f.name, "type": render_type(f.type), "nullable": f.nullable,
            "metadata": _meta(f.metadata)}


def render_schema(s: pa.Schema) -> dict[str, Any]:
    return {"fields": [render_field(f) for f in s], "metadata": _meta(s.metadata)}


def fingerprint(rendered: dict[str, Any]) -> str:
    text = json.dumps(rendered, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def field_lines(s: pa.Schema) -> list[str]:
    """One readable line per field (what a reviewer reads in the fingerprint file's diff)."""
    out = []
    for f in s:
        line = f"{f.name}: {f.type}{'' if f.nullable else ' not null'}"
        if f.metadata:
            line += f" {json.dumps(_meta(f.metadata), sort_keys=True)}"
        out.append(line)
    return out


# --- the schemas that cross the boundary ----------------------------------------------------------

def _simulator_tables() -> dict[str, Callable[[], pa.Table]]:
    """Tables the ExecutionSimulator returns; not (yet) in ``_core.schemas()``, so they are read
    from a live simulator."""
    import omega_engine as oe

    def outcomes() -> pa.Table:
        sim = oe.ExecutionSimulator()
        row = {"timestamp": pa.array([1_704_186_000_000_000], pa.timestamp("us", tz="UTC")),
               "symbol": ["EURUSD"], "direction": ["long"], "entry_price": [1.1],
               "stop_loss": [1.098], "take_profit": [1.104]}
        return sim.process_signals_batch(pa.table(row))

    return {
        "simulator.active_positions": lambda: oe.ExecutionSimulator().active_positions,
        "simulator.closed_positions": lambda: oe.ExecutionSimulator().closed_positions,
        "simulator.signal_outcomes": outcomes,
    }


def current_schemas() -> dict[str, pa.Schema]:
    from omega_engine import _core

    out: dict[str, pa.Schema] = dict(_core.schemas())
    for name, make in _simulator_tables().items():
        out.setdefault(name, make().schema)
    return out


def build_file(schemas: dict[str, pa.Schema]) -> dict[str, Any]:
    return {
        "_doc": ("Fingerprints of every Arrow schema that crosses the Rust/Python boundary "
                 "(_core.schemas() plus the ExecutionSimulator's tables). Checked by "
                 f"tests/test_schema_registry.py; regenerate with `{UPDATE_COMMAND}` and review "
                 "the field lists in the diff."),
        "schemas": {
            name: {"sha256": fingerprint(render_schema(s)), "fields": field_lines(s),
                   "metadata": _meta(s.metadata), "canonical": render_schema(s)}
            for name, s in sorted(schemas.items())
        },
    }


def _load() -> dict[str, Any]:
    return dict(json.loads(FINGERPRINTS.read_text()))


# --- tests --------------------------------------------------------------------------------------

def test_every_boundary_schema_is_listed_once() -> None:
    recorded = set(_load()["schemas"])
    now = set(current_schemas())
    assert now == recorded, (
        f"schemas added: {sorted(now - recorded)}, removed: {sorted(recorded - now)}; "
        f"if intended, run `{UPDATE_COMMAND}` and commit tests/golden/schema_fingerprints.json")


def test_fingerprints_match() -> None:
    recorded = _load()["schemas"]
    problems = []
    for name, schema in sorted(current_schemas().items()):
        if name not in recorded:
            continue  # reported by the test above
        fp = fingerprint(render_schema(schema))
        if fp != recorded[name]["sha256"]:
            old, new = recorded[name]["fields"], field_lines(schema)
            gone = [f for f in old if f not in new]
            added = [f for f in new if f not in old]
            detail = f"removed/changed {gone}, added/changed {added}" if gone or added else (
                "field order or metadata changed")
            problems.append(f"{name}: {detail}")
    assert not problems, (
        "Arrow schemas changed without the fingerprint file being updated:\n  "
        + "\n  ".join(problems)
        + f"\nIf the change is intended, run `{UPDATE_COMMAND}`, review the diff of "
          "tests/golden/schema_fingerprints.json, update the README column reference and the "
          "golden outputs (bash scripts/regen_golden.sh), and commit them with the change.")


def test_fingerprint_file_is_consistent() -> None:
    """The recorded hashes are the hashes of the recorded renderings (no hand-edited hash)."""
    for name, entry in _load()["schemas"].items():
        assert fingerprint(entry["canonical"]) == entry["sha256"], name
        assert len(entry["fields"]) == len(entry["canonical"]["fields"]), name


def test_fingerprint_sees_every_property() -> None:
    base = pa.schema([pa.field("a", pa.float64(), nullable=False),
                      pa.field("b", pa.struct([pa.field("x", pa.int32())]))])
    variants = [
        pa.schema([pa.field("a", pa.float64(), nullable=True), base.field("b")]),  # nullability
        pa.schema([pa.field("a", pa.float32(), nullable=False), base.field("b")]),  # type
        pa.schema([pa.field("A", pa.float64(), nullable=False), base.field("b")]),  # name
        pa.schema([base.field("b"), base.field("a")]),  # order
        base.with_metadata({"k": "v"}),  # schema metadata
        pa.schema([base.field("a").with_metadata({"unit": "usd"}), base.field("b")]),
        pa.schema([base.field("a"), pa.field("b", pa.struct([pa.field("x", pa.int32(),
                                                                      nullable=False)]))]),
        pa.schema([base.field("a"), pa.field("b", pa.struct([pa.field("y", pa.int32())]))]),
    ]
    fps = {fingerprint(render_schema(s)) for s in [base, *variants]}
    assert len(fps) == 1 + len(variants)
    assert fingerprint(render_schema(base)) == fingerprint(render_schema(
        pa.schema(list(base))))


def test_registry_schemas_are_what_the_boundary_returns(small_bars) -> None:
    """The registry is not just a list: the tables that actually cross have exactly these
    schemas (the summary adds one nullable float64 column per strategy parameter after the key
    columns)."""
    import omega_engine as oe
    from omega_engine import _core

    reg = dict(_core.schemas())
    assert oe.schemas().keys() == reg.keys()
    assert small_bars.to_arrow().schema == reg["bars"]
    ticks = oe.load_ticks("EURUSD", pa.table({
        "timestamp": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
        "bid": [1.1, 1.1001, 1.1002], "ask": [1.1001, 1.1002, 1.1003]}))
    assert ticks.to_arrow().schema == reg["ticks"]
    r = oe.run(oe.SmaCross(5, 20, sl_pips=10, tp_pips=20), small_bars.slice(0, 2000))
    assert r.trades is not None and r.equity is not None
    assert r.trades.schema == reg["trades"]
    assert r.equity.schema == reg["equity"]
    fixed = reg["summary"]
    params = [f for f in r.summary.schema if f.name not in fixed.names]
    assert {"fast", "slow", "sl_pips", "tp_pips"} <= {f.name for f in params}
    assert all(f.type == pa.float64() and f.nullable for f in params)
    assert pa.schema([f for f in r.summary.schema if f.name in fixed.names]) == fixed
    # The signals schema is what the engine accepts: a table in exactly that schema runs.
    ts = small_bars.to_arrow().column("timestamp")[100:102]
    sig = pa.table({
        "timestamp": ts, "symbol": ["EURUSD", "EURUSD"], "direction": ["long", "short"],
        "order_type": ["market", "market"], "entry_price": [None, None],
        "stop_loss": [1.0, 2.0], "take_profit": [2.0, 0.5], "reason": [None, "r"],
        "scenario": [None, None], "tags": [None, None]}, schema=reg["signals"])
    out = oe.run(oe.Signals(), small_bars.slice(0, 2000), signals=sig)
    assert out.summary.column("signals").to_pylist() == [2]


def test_simulator_tables_have_their_listed_schemas() -> None:
    recorded = _load()["schemas"]
    for name, make in _simulator_tables().items():
        assert fingerprint(render_schema(make().schema)) == recorded[name]["sha256"], name


def _update() -> None:
    FINGERPRINTS.write_text(json.dumps(build_file(current_schemas()), indent=1) + "\n")
    print(f"wrote {FINGERPRINTS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE_COMMAND}")
    _update()
