"""Malformed inputs from Python (hypothesis): ``load_bars``/``load_ticks``, ``run``/``run_many``
with broken configs and signals tables, and ``ExecutionSimulator`` call sequences.

Every case must end in a valid result or a coded exception (an ``OmegaError`` whose message starts
with ``[NNNN] NAME:``): never another exception type leaking out (pyarrow, TypeError, KeyError,
...), never a crash, never a hang (each call is timed) and never partial state (a simulator call
that raises leaves the simulator exactly as it was).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hypothesis.strategies as st
import omega_engine as oe
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from omega_engine import errors

T = TypeVar("T")
T0 = 1_704_186_000_000_000  # 2024-01-02 09:00 UTC
MIN = 60_000_000
CODED = re.compile(r"^\[(\d{4})\] ([A-Z0-9_]+): ")
MAX_SECONDS = 10.0  # one call on inputs this small taking longer counts as a hang

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(f: Callable[[], T]) -> T | errors.OmegaError:
    """Calls ``f``; returns its result or the coded error it raised. Anything else fails."""
    start = time.perf_counter()
    try:
        return f()
    except errors.OmegaError as e:
        m = CODED.match(str(e))
        assert m, f"uncoded message: {e!r}"
        assert int(m.group(1)) == e.code and m.group(2) == errors.error_class(e.code).name, e
        assert e.code != 5005, f"a Rust panic was caught: {e}"
        return e
    finally:
        took = time.perf_counter() - start
        assert took < MAX_SECONDS, f"call took {took:.1f} s"


# --- values ---------------------------------------------------------------------------------

bad_floats = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, -1.1, 1e308, 5e-324,
                              1e-12])
prices = st.one_of(st.floats(1.0, 1.3), bad_floats)
cells = st.one_of(prices, st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans())


@st.composite
def bars_tables(draw: st.DrawFn) -> pa.Table:
    """A bars table (canonical layout, or one side with open/high/low/close), mostly valid with
    a few broken rows/columns/types."""
    n = draw(st.integers(0, 25))
    ts = [T0 + i * MIN for i in range(n)]
    if n and draw(st.booleans()):
        i = draw(st.integers(0, n - 1))
        ts[i] = draw(st.sampled_from([ts[i - 1] if i else ts[i], ts[i] - 10 * MIN, -1, 0]))
    cols: dict[str, Any] = {}
    ts_kind = draw(st.sampled_from(["ts"] * 5 + ["int", "naive", "str", "float"]))
    if ts_kind == "ts":
        cols["timestamp"] = pa.array(ts, pa.timestamp("us", tz="UTC"))
    elif ts_kind == "naive":
        cols["time"] = pa.array(ts, pa.timestamp("us"))
    elif ts_kind == "int":
        cols["timestamp"] = pa.array(ts, pa.int64())
    elif ts_kind == "str":
        cols["date"] = pa.array([draw(st.sampled_from(["2024-01-02 09:00", "x", "", "31.12.2024"]))
                                 for _ in range(n)], pa.string())
    else:
        cols["timestamp"] = pa.array([float(t) for t in ts], pa.float64())
    sides = draw(st.sampled_from([("bid_", "ask_"), ("bid_", "ask_"), ("bid_",), ("",)]))
    for side in sides:
        base = 1.1 if side != "ask_" else 1.1002
        o = [base + 0.0001 * (i % 5) for i in range(n)]
        c = [base + 0.0001 * ((i + 2) % 5) for i in range(n)]
        h = [max(a, b) + 0.0002 for a, b in zip(o, c, strict=True)]
        lo = [min(a, b) - 0.0002 for a, b in zip(o, c, strict=True)]
        for name, vals in (("open", o), ("high", h), ("low", lo), ("close", c)):
            cols[f"{side}{name}"] = pa.array(vals, pa.float64())
    names = [k for k in cols if k not in ("timestamp", "time", "date")]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        if not names:
            break
        name = draw(st.sampled_from(names))
        action = draw(st.sampled_from(["value", "value", "drop", "type", "null"]))
        if action == "drop":
            cols.pop(name, None)
            names.remove(name)
        elif action == "type":
            cols[name] = pa.array([str(i) for i in range(n)], pa.string())
        elif n:
            if cols[name].type != pa.float64():
                continue
            vals = list(cols[name].to_pylist())
            vals[draw(st.integers(0, n - 1))] = None if action == "null" else draw(prices)
            cols[name] = pa.array(vals, pa.float64())
    if draw(st.booleans()):
        cols["volume"] = pa.array([draw(st.one_of(st.floats(0, 1e6), bad_floats))
                                   for _ in range(n)], pa.float64())
    return pa.table(cols)


def check_bars(b: oe.Bars) -> None:
    """Accepted bars obey DESIGN §3: strictly increasing times, finite positive consistent
    OHLC on both sides."""
    t = b.to_arrow()
    ts = t.column("timestamp").cast(pa.int64()).to_pylist()
    assert len(ts) > 0 and all(a < b for a, b in zip(ts, ts[1:], strict=False))
    for side in ("bid_", "ask_"):
        o, h, lo, c = (t.column(f"{side}{k}").to_pylist() for k in ("open", "high", "low", "close"))
        for row in zip(o, h, lo, c, strict=True):
            assert all(math.isfinite(v) and v > 0 for v in row), row
            assert row[1] >= max(row[0], row[3]) and row[2] <= min(row[0], row[3]), row


@SETTINGS
@given(table=bars_tables(), spread=st.one_of(st.none(), st.sampled_from(
    [0.0, 1.5, -1.0, math.nan, math.inf, 1e300])), as_pandas=st.booleans())
def test_load_bars(table: pa.Table, spread: float | None, as_pandas: bool) -> None:
    src: Any = table.to_pandas() if as_pandas else table
    r = outcome(lambda: oe.load_bars("EURUSD", src, spread_pips=spread))
    if isinstance(r, oe.Bars):
        check_bars(r)


@SETTINGS
@given(n=st.integers(0, 12), bid=st.lists(prices, min_size=12, max_size=12),
       with_ask=st.booleans(), spread=st.one_of(st.none(), st.sampled_from([0.5, -1.0, math.nan])),
       dup=st.booleans())
def test_load_ticks(n: int, bid: list[float], with_ask: bool, spread: float | None,
                    dup: bool) -> None:
    ts = [T0 + i * 1_000_000 for i in range(n)]
    if dup and n > 1:
        ts[-1] = ts[-2]
    cols: dict[str, Any] = {"timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                            "bid": pa.array(bid[:n], pa.float64())}
    if with_ask:
        cols["ask"] = pa.array([v + 0.0002 for v in bid[:n]], pa.float64())
    r = outcome(lambda: oe.load_ticks("EURUSD", pa.table(cols), spread_pips=spread))
    if isinstance(r, oe.Ticks):
        t = r.to_arrow()
        tt = t.column("timestamp").cast(pa.int64()).to_pylist()
        assert all(a < b for a, b in zip(tt, tt[1:], strict=False))
        for v in t.column("bid").to_pylist() + t.column("ask").to_pylist():
            assert math.isfinite(v) and v > 0


# --- configs ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bars() -> oe.Bars:
    return oe.synthetic_bars("EURUSD", n=300, seed=4)


SECTIONS = {
    "strategy.params.fast": st.one_of(st.integers(-2, 60), st.sampled_from([2**40, 5.5, "5"])),
    "strategy.params.slow": st.one_of(st.integers(-2, 80), st.just(None)),
    "strategy.params.sl_pips": st.one_of(st.floats(-5, 50), bad_floats, st.none()),
    "strategy.params.tp_pips": st.one_of(st.floats(-5, 50), bad_floats),
    "strategy.params.bogus": st.integers(0, 3),
    "strategy.name": st.sampled_from(["sma_cross", "ema_cross", "rsi_reversion", "nope", ""]),
    "execution.variant": st.sampled_from(["v2", "v1_parity", "v3", None]),
    "execution.market_fill": st.sampled_from(["next_open", "signal_close", "later"]),
    "execution.pending_ttl_bars": st.one_of(st.integers(-1, 5), st.just(2**33)),
    "execution.pip_buffer_factor": st.one_of(st.floats(-1, 2), bad_floats),
    "account.initial_balance": st.one_of(st.floats(-10, 1e6), bad_floats),
    "account.risk_per_trade": st.one_of(st.floats(-10, 500), bad_floats, st.none()),
    "account.risk_percent": st.one_of(st.floats(-1, 200), st.none()),
    "account.currency": st.sampled_from(["USD", "EUR", "XXX", ""]),
    "costs": st.sampled_from(["ftmo_like", "none", "unknown_preset", 5]),
    "costs.slippage.random_pips": st.one_of(st.floats(-1, 3), bad_floats),
    "costs.commission.default": st.sampled_from([
        {"schema": "per_lot", "rate": 3.0}, {"schema": "per_lot"}, {"schema": "x", "rate": 1},
        {"schema": "percent_of_notional", "rate": -1.0}, {"schema": "per_lot", "rate": math.nan}]),
    "trade_management.max_holding_bars": st.one_of(st.integers(-1, 50), st.just(0)),
    "trade_management.trailing": st.sampled_from([{"distance_pips": 5}, {"atr_mult": 1.5},
                                                  {}, {"distance_pips": 5, "atr_mult": 1.0},
                                                  {"atr_mult": -1}]),
    "trade_management.break_even": st.sampled_from([{"trigger_pips": 3}, {"offset_pips": 1},
                                                    {"trigger_pips": math.inf}]),
    "limits.max_open_positions": st.one_of(st.integers(-1, 5), st.just(2**32)),
    "limits.direction": st.sampled_from(["both", "long", "sideways"]),
    "limits.session_hours": st.sampled_from([[8, 17], [25, 3], [1], "8-17"]),
    "start": st.sampled_from([T0, "2024-01-01", "not a date", -1, 2**62]),
    "end": st.sampled_from([T0 - MIN, "2030-01-01", None, 3.5]),
    "symbol": st.sampled_from(["EURUSD", "GBPUSD", "", 7]),
    "symbol_spec.pip_size": st.one_of(st.floats(-0.1, 0.1), bad_floats),
    "symbol_spec.volume_step": st.sampled_from([0.01, 0.0, -0.01, math.nan]),
    "seed": st.sampled_from([0, 1, -1, 2**70, "x"]),
}


def _set(cfg: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = cfg
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "symbol": "EURUSD",
        "symbol_spec": {"pip_size": 0.0001},
        "strategy": {"name": "sma_cross",
                     "params": {"fast": 5, "slow": 20, "sl_pips": 10, "tp_pips": 20}},
    }
    for path in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True)):
        _set(cfg, path, draw(SECTIONS[path]))
    return cfg


def check_result(r: oe.RunResult, n_configs: int) -> None:
    assert r.summary.num_rows == n_configs
    assert r.summary.column("config_index").to_pylist() == list(range(n_configs))
    if r.trades is not None and r.trades.num_rows:
        ok = set(r.trades.column("config_index").to_pylist())
        failed = set(r.failed().column("config_index").to_pylist())
        assert not ok & failed, "a failed config has trades (partial output)"


@SETTINGS
@given(cfg=configs())
def test_run_with_broken_configs(cfg: dict[str, Any], bars: oe.Bars) -> None:
    r = outcome(lambda: oe.run(cfg, bars))
    if isinstance(r, oe.RunResult):
        check_result(r, 1)
        assert r.summary.column("error_code").to_pylist() == [None]


@SETTINGS
@given(cfgs=st.lists(configs(), min_size=1, max_size=4))
def test_run_many_keeps_every_row(cfgs: list[dict[str, Any]], bars: oe.Bars) -> None:
    """A batch either raises (an invalid config is reported before anything runs) or returns a
    row per config, failed configs with their code."""
    r = outcome(lambda: oe.run_many(cfgs, bars, errors="ignore", progress=False,
                                    include=("summary", "trades")))
    if isinstance(r, oe.RunResult):
        check_result(r, len(cfgs))
        for code, msg in zip(r.summary.column("error_code").to_pylist(),
                             r.summary.column("error").to_pylist(), strict=True):
            assert (code is None) == (msg is None)
            if code is not None:
                assert msg.startswith(f"[{code}] ") and code != 5005


# --- signals tables ----------------------------------------------------------------------------

@st.composite
def signal_tables(draw: st.DrawFn, ts_pool: list[int]) -> Any:
    """Valid signal rows with, half of the time, one break: a bad value in one cell (NaN, inf,
    a wrong side, an unknown direction/order type, a null) or a dropped required column."""
    n = draw(st.integers(0, 8))
    rows = []
    for _ in range(n):
        long = draw(st.booleans())
        kind = draw(st.sampled_from(["market", "limit", "stop", None]))
        ref = 1.1 + draw(st.integers(-30, 30)) * 1e-4
        sgn = 1 if long else -1
        entry = None if kind in ("market", None) and draw(st.booleans()) else ref
        rows.append({
            "timestamp": draw(st.sampled_from(ts_pool)), "symbol": "EURUSD",
            "direction": "long" if long else "short", "order_type": kind, "entry_price": entry,
            "stop_loss": ref - sgn * draw(st.sampled_from([0.0005, 0.001, 0.000001])),
            "take_profit": ref + sgn * draw(st.sampled_from([0.0008, 0.002, -0.001])),
            "tags": draw(st.one_of(st.none(), st.text(max_size=4))),
        })
    if rows and draw(st.booleans()):
        row = draw(st.integers(0, n - 1))
        col = draw(st.sampled_from(["symbol", "direction", "order_type", "entry_price",
                                    "stop_loss", "take_profit"]))
        bad: Any = {"symbol": st.sampled_from(["GBPUSD", None, ""]),
                    "direction": st.sampled_from(["up", None, "LONG"]),
                    "order_type": st.sampled_from(["iceberg", ""])}.get(col, st.one_of(
                        bad_floats, st.none()))
        rows[row][col] = draw(bad)
    types = {"timestamp": pa.timestamp("us", tz="UTC"), "entry_price": pa.float64(),
             "stop_loss": pa.float64(), "take_profit": pa.float64()}
    t = pa.table({k: pa.array([r[k] for r in rows], types.get(k, pa.string()))
                  for k in ("timestamp", "symbol", "direction", "order_type", "entry_price",
                            "stop_loss", "take_profit", "tags")})
    drop = draw(st.sampled_from([None] * 6 + ["stop_loss", "direction", "symbol", "order_type"]))
    if drop:
        t = t.drop_columns([drop])
    return t.to_pandas() if draw(st.booleans()) else t


@SETTINGS
@given(data=st.data(), variant=st.sampled_from(["v2", "v1_parity"]))
def test_run_with_broken_signals(data: st.DataObject, variant: str, bars: oe.Bars) -> None:
    pool = bars.to_arrow().column("timestamp").cast(pa.int64()).to_pylist()[::17]
    table = data.draw(signal_tables(pool + [T0 - 10 * MIN, 2**50]))
    r = outcome(lambda: oe.run(oe.Signals(), bars, signals=table, variant=variant))
    if isinstance(r, oe.RunResult):
        check_result(r, 1)


# --- ExecutionSimulator -------------------------------------------------------------------------

def _state(sim: oe.ExecutionSimulator) -> tuple[Any, ...]:
    return (sim.active_positions, sim.closed_positions, sim.stats())


@st.composite
def sim_ops(draw: st.DrawFn) -> list[tuple[str, Any]]:
    ops = []
    for k in range(draw(st.integers(1, 12))):
        ts = T0 + k * MIN
        kind = draw(st.sampled_from(["signal", "signal", "bar", "bar", "close", "cancel",
                                     "batch", "tick"]))
        if kind in ("signal", "tick"):
            long = draw(st.booleans())
            sgn = 1 if long else -1
            entry = draw(st.one_of(st.none(), st.just(1.1), prices))
            ops.append((kind, {
                "timestamp": draw(st.sampled_from([ts, ts, "2024-01-02", None, -5])),
                "symbol": draw(st.sampled_from(["EURUSD", "EURUSD", "NOPE"])),
                "direction": draw(st.sampled_from(["long" if long else "short", "flat"])),
                "order_type": draw(st.sampled_from(["market", "limit", "stop", None, "x"])),
                "entry_price": entry,
                "stop_loss": draw(st.one_of(st.just(1.1 - sgn * 0.002), prices)),
                "take_profit": draw(st.one_of(st.just(1.1 + sgn * 0.003), prices)),
            }))
        elif kind == "bar":
            o = 1.1 + draw(st.integers(-20, 20)) * 1e-4
            h = draw(st.one_of(st.just(o + 0.003), prices))
            low = draw(st.one_of(st.just(o - 0.003), prices))
            ops.append((kind, {"timestamp": ts, "open": o, "high": h, "low": low, "close": o}))
        elif kind == "close":
            ops.append((kind, (draw(st.integers(-1, 5)), ts, draw(prices), draw(prices),
                               draw(st.sampled_from(["manual", "timeout", ""])))))
        elif kind == "cancel":
            ops.append((kind, draw(st.sampled_from(["EURUSD", "NOPE", ""]))))
        else:
            ops.append((kind, draw(st.integers(0, 3))))
    return ops


def _apply(sim: oe.ExecutionSimulator, kind: str, arg: Any) -> Any:
    if kind == "signal":
        candle = {"timestamp": arg["timestamp"], "open": 1.1, "high": 1.101, "low": 1.099,
                  "close": 1.1}
        return sim.process_signal(arg, candle, candle)
    if kind == "tick":
        tick = {"timestamp": arg["timestamp"], "bid": 1.1, "ask": 1.1001}
        return sim.process_signal_tick(arg, tick)
    if kind == "bar":
        return sim.evaluate_exits(arg, arg)
    if kind == "close":
        pid, ts, b, a, reason = arg
        return sim.close_position(pid, ts, b, a, reason)
    if kind == "cancel":
        return sim.cancel_pending(arg)
    # A batch of `arg` signal rows, the last one broken when arg is odd: all or nothing.
    rows = [{"timestamp": T0 + 100 * MIN + i * MIN, "symbol": "EURUSD", "direction": "long",
             "entry_price": 1.1, "stop_loss": 1.098 if (i < arg - 1 or arg % 2 == 0)
             else math.nan, "take_profit": 1.104} for i in range(arg)]
    if not rows:
        return None
    return sim.process_signals_batch(pa.Table.from_pylist(rows))


@SETTINGS
@given(ops=sim_ops(), variant=st.sampled_from(["v2", "v1_parity"]))
def test_simulator_calls_are_atomic(ops: list[tuple[str, Any]], variant: str) -> None:
    sim = oe.ExecutionSimulator(symbol_specs=[oe.specs.get("EURUSD")],
                                execution_variant=variant)
    for kind, arg in ops:
        before = _state(sim)
        r = outcome(lambda kind=kind, arg=arg: _apply(sim, kind, arg))
        if isinstance(r, errors.OmegaError):
            after = _state(sim)
            assert after[0].equals(before[0]) and after[1].equals(before[1]), (kind, r)
            assert after[2] == before[2] or all(
                (a == b) or (a != a and b != b) for a, b in
                zip(after[2].values(), before[2].values(), strict=True)), (kind, r)
    # Whatever happened, the simulator still answers.
    assert sim.active_positions.num_rows >= 0
    for v in sim.stats().values():
        assert isinstance(v, float | int)
