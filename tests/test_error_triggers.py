"""Every code of the error-code table has a test that raises it.

``TRIGGERS`` maps each code to an action that raises it through the public API (or the
extension where the error is born in Rust); the test checks the exception's class, ``code`` and
``[NNNN] NAME:`` message prefix. A few codes cannot be raised from Python by design; they are in
``RUST_ONLY`` with the Rust test that raises them and the reason, and the test checks that the
named Rust test exists and asserts that code. A code added to ``crates/exec-core/src/codes.rs``
without a trigger here (or a Rust-only entry) fails ``test_every_code_has_a_trigger``.
(Rust/Python table agreement itself is checked in test_errors.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine import _core, config, errors
from omega_engine.strategies import SmaCross

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"pip_size": 0.0001}
STRAT = {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "sl_pips": 10, "tp_pips": 20}}


def _bars_table(n: int = 30, **changes: Any) -> pa.Table:
    from conftest import bars_table

    t = bars_table(n)
    for col, (row, value) in changes.items():
        vals = t.column(col).to_pylist()
        vals[row] = value
        field = t.schema.field(col)
        t = t.set_column(t.schema.get_field_index(col), col, pa.array(vals, field.type))
    return t


def _bars(n: int = 400) -> oe.Bars:
    return oe.synthetic_bars("EURUSD", n=n, seed=1)


def _cfg(**over: Any) -> dict[str, Any]:
    return {"symbol": "EURUSD", "symbol_spec": SPEC, "strategy": STRAT, **over}


# --- the triggers -------------------------------------------------------------------------------

def t1001() -> None:
    # Born in Rust: the extension rejects a zero-thread pool.
    with errors.translate():
        _core.run_many([], {}, threads=0)


def t1002() -> None:
    # A signal for a symbol the simulator has no spec for (Rust-side check).
    sim = oe.ExecutionSimulator(symbol_specs=[oe.specs.get("EURUSD")])
    sim.process_signal({"timestamp": 1_704_186_000_000_000, "symbol": "XAUUSD",
                        "direction": "long", "entry_price": 2000.0, "stop_loss": 1990.0,
                        "take_profit": 2020.0})


def t1003() -> None:
    with errors.translate():
        _core.canonical_config('{"symbol": "EURUSD"}')


def t1004() -> None:
    with errors.translate():
        _core.canonical_config(config.to_json(_cfg(bogus=1)))


def t1005() -> None:
    oe.run(_cfg(strategy={"name": "no_such_strategy", "params": {}}), _bars())


def t1006() -> None:
    # A JPY-quoted symbol without tick value in a USD account, and no USDJPY rate.
    bars = oe.synthetic_bars("USDJPY", n=400, seed=2)
    oe.run({"symbol": "USDJPY", "symbol_spec": {"pip_size": 0.01, "quote_currency": "JPY",
                                                "base_currency": "USD"},
            "strategy": STRAT}, bars)


def t1007() -> None:
    bars = _bars(2_000)
    jsons = config.prepare([SmaCross(5, 20, sl_pips=10, tp_pips=20)] * 3, {}, ["EURUSD"])
    with errors.translate():
        _core.run_many(jsons, {"EURUSD": bars.core}, include_trades=True, include_equity=True,
                       memory_budget_bytes=1_000)


def t1009() -> None:
    oe.walk_forward([SmaCross(5, 20, sl_pips=10, tp_pips=20)], _bars(300), train=1000, test=500,
                    progress=False)


def t2001() -> None:
    oe.load_bars("EURUSD", _bars_table(bid_close=(3, float("nan"))))


def t2002() -> None:
    t = _bars_table()
    cols = {c: (t.column(c) if not c.startswith(("bid_", "ask_")) else
                pa.array([-v for v in t.column(c).to_pylist()])) for c in t.column_names}
    oe.load_bars("EURUSD", pa.table(cols))


def t2003() -> None:
    t = _bars_table()
    ts = t.column("timestamp").to_pylist()
    ts[4], ts[5] = ts[5], ts[4]
    oe.load_bars("EURUSD", t.set_column(0, "timestamp", pa.array(ts, t.schema.field(0).type)))


def t2004() -> None:
    t = _bars_table()
    ts = t.column("timestamp").to_pylist()
    ts[5] = ts[4]
    oe.load_bars("EURUSD", t.set_column(0, "timestamp", pa.array(ts, t.schema.field(0).type)))


def t2005() -> None:
    oe.load_bars("EURUSD", _bars_table(bid_high=(2, 0.5)))


def t2006() -> None:
    t = _bars_table(12)
    bid = t.select(["timestamp", "bid_open", "bid_high", "bid_low", "bid_close"])
    ask = t.select(["timestamp", "ask_open", "ask_high", "ask_low", "ask_close"]).slice(0, 11)
    strip = {"bid_open": "open", "bid_high": "high", "bid_low": "low", "bid_close": "close",
             "ask_open": "open", "ask_high": "high", "ask_low": "low", "ask_close": "close"}
    oe.load_bars("EURUSD", bid.rename_columns([strip.get(c, c) for c in bid.column_names]),
                 ask.rename_columns([strip.get(c, c) for c in ask.column_names]))


def t2007() -> None:
    t = _bars_table(12).select(["timestamp", "bid_open", "bid_high", "bid_low", "bid_close"])
    oe.load_bars("EURUSD", t.rename_columns(["timestamp", "open", "high", "low", "close"]))


def t2008() -> None:
    oe.load_bars("EURUSD", _bars_table().slice(0, 0))


def t3001() -> None:
    oe.load_bars("EURUSD", _bars_table().drop_columns(["bid_low"]))


def t3002() -> None:
    oe.load_bars("EURUSD", 42)


class _Broken:
    @oe.hookimpl
    def omega_symbol_specs(self) -> list[Any]:
        raise KeyError("boom")


def t4001() -> None:
    name = oe.plugins.register(_Broken(), name="gates_broken")
    try:
        oe.specs.get("EURUSD")
    finally:
        oe.plugins.unregister(name)


def t4002() -> None:
    oe.run(SmaCross(5, 20, sl_pips=10, tp_pips=20), _bars(), costs="no_such_cost_preset")


def t5003() -> None:
    # The distributed driver gives up on a chunk whose task keeps failing (here: at once, no
    # retries) with WORKER_FAILED; an in-process executor stands in for a cluster.
    from omega_engine import distributed

    class _Failing(distributed.Executor):
        def _slots(self) -> int:
            return 1

        def _default_threads(self) -> int:
            return 1

        def _open(self, payload: Any) -> Any:
            return payload

        def _submit(self, handle: Any, job: Any, chunk: Any, attempt: int) -> Any:
            return ("task", chunk.index, attempt)

        def _wait(self, pending: Any, timeout: float) -> list[Any]:
            return list(pending)

        def _outcome(self, task: Any) -> Any:
            return ConnectionResetError("worker connection lost")

        def _cancel(self, tasks: Any) -> None:
            return None

        def _close(self, handle: Any, payload: Any) -> None:
            return None

    oe.run_many([SmaCross(5, 20, sl_pips=10, tp_pips=20)], _bars(),
                executor=_Failing(retries=0), progress=False)


def t5005() -> None:
    sim = oe.ExecutionSimulator()
    with errors.translate():
        sim._sim._panic_for_tests()


def t1008() -> None:
    # Born in Rust: the run config's commission formula is parsed by the loop's config parser.
    cfg = _cfg(costs={"commission": {"default": {"schema": "formula", "formula": "1 +* lots"}}})
    oe.run(cfg, _bars())


TRIGGERS: dict[int, Callable[[], None]] = {
    1001: t1001, 1002: t1002, 1003: t1003, 1004: t1004, 1005: t1005, 1006: t1006, 1007: t1007,
    1008: t1008, 1009: t1009, 2001: t2001, 2002: t2002, 2003: t2003, 2004: t2004, 2005: t2005,
    2006: t2006, 2007: t2007, 2008: t2008, 3001: t3001, 3002: t3002, 4001: t4001, 4002: t4002,
    5003: t5003, 5005: t5005,
}

#: A fragment each message must contain: the error names what was wrong.
DETAIL: dict[int, str] = {
    1001: "threads", 1002: "XAUUSD", 1003: "symbol_spec", 1004: "bogus", 1005: "no_such_strategy",
    1008: "column 4",
    1006: "JPY", 1007: "summary-only", 1009: "window", 2001: "bid_close", 2002: "bid_open",
    2003: "before the previous", 2004: "repeats", 2005: "bid_high", 2006: "11 rows",
    2007: "spread", 2008: "no rows", 3001: "bid_low", 3002: "int",
    4001: "gates_broken", 4002: "no_such_cost_preset", 5003: "worker connection lost",
    5005: "injected panic",
}

#: Codes Python cannot make the engine raise, with the Rust test that raises them and why.
RUST_ONLY: dict[int, tuple[str, str, str]] = {
    5001: ("crates/loop/src/results.rs", "equity_rows_and_length_check",
           "an internal invariant (result builder fed inconsistent columns) that no input can "
           "violate"),
    5002: ("crates/loop/tests/runner.rs", "cancel_before_and_during_a_batch",
           "from Python a cancelled batch surfaces as KeyboardInterrupt (Ctrl-C) or as the "
           "progress callback's own exception, never as a 5002 result"),
}


def test_every_code_has_a_trigger() -> None:
    codes = {c for c, _, _ in _core.error_codes()}
    missing = codes - set(TRIGGERS) - set(RUST_ONLY)
    assert not missing, f"codes without a test that raises them: {sorted(missing)}"
    assert not (set(TRIGGERS) | set(RUST_ONLY)) - codes, "triggers for codes not in the table"
    assert not set(TRIGGERS) & set(RUST_ONLY)


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_trigger_raises_its_code(code: int, clean_plugins: None) -> None:
    name = errors.error_class(code).name
    with pytest.raises(errors.error_class(code)) as info:
        TRIGGERS[code]()
    assert info.value.code == code
    assert str(info.value).startswith(f"[{code}] {name}: "), str(info.value)
    assert DETAIL[code] in str(info.value), str(info.value)
    assert isinstance(info.value, ValueError if code < 4000 or code == 4002 else RuntimeError)


def _rust_fn_body(src: str, fn: str) -> str:
    m = re.search(rf"\bfn {re.escape(fn)}\s*\(", src)
    assert m, f"Rust test fn {fn} not found"
    depth, i = 0, src.index("{", m.end())
    start = i
    while True:
        if src[i] == "{":
            depth += 1
        elif src[i] == "}":
            depth -= 1
            if depth == 0:
                return src[start:i]
        i += 1


@pytest.mark.parametrize("code", sorted(RUST_ONLY))
def test_rust_only_codes_are_raised_by_a_rust_test(code: int) -> None:
    path, fn, _why = RUST_ONLY[code]
    src = (ROOT / path).read_text()
    body = _rust_fn_body(src, fn)
    head = src[:src.index(f"fn {fn}(")].rsplit("}", 1)[-1]
    assert "#[test]" in head, f"{path}::{fn} is not a #[test]"
    assert re.search(rf"code\(\)\.code,\s*{code}\b", body), f"{path}::{fn} does not check {code}"
