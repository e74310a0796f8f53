"""Benchmarks of the Python API (pytest-benchmark).

Targets (issue 4): ``process_signals_batch`` with 1,000 rows < 1 ms; ``evaluate_exits_batch``
over 1,000 open positions < 0.5 ms; ``run_many`` Python overhead < 5 µs per config on top of
the Rust time. Run with ``pytest tests/benchmarks --benchmark-only``; under
``--benchmark-disable`` (scripts/test.sh) each runs once as a smoke test.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine import _core

N = 1000
T0 = int(datetime(2024, 1, 2, tzinfo=UTC).timestamp() * 1_000_000)


def signals_and_bars(n: int = N) -> tuple[pa.Table, pa.Table, pa.Table]:
    rng = np.random.default_rng(1)
    ts = pa.array(T0 + np.arange(n, dtype=np.int64) * 60_000_000, pa.timestamp("us", tz="UTC"))
    close = 1.1 + rng.normal(0, 2e-4, n)  # around 1.1: every SL/TP band contains 1.1
    direction = np.where(rng.random(n) < 0.5, "long", "short")
    sgn = np.where(direction == "long", 1.0, -1.0)
    signals = pa.table({
        "timestamp": ts, "symbol": pa.array(["EURUSD"] * n), "direction": pa.array(direction),
        "order_type": pa.array(["market"] * n), "entry_price": pa.nulls(n, pa.float64()),
        "stop_loss": close - sgn * 0.0020, "take_profit": close + sgn * 0.0040,
    })
    bid = pa.table({"timestamp": ts, "open": close, "high": close + 2e-4, "low": close - 2e-4,
                    "close": close})
    ask = pa.table({"timestamp": ts, "open": close + 1e-4, "high": close + 3e-4,
                    "low": close - 1e-4, "close": close + 1e-4})
    return signals, bid, ask


def simulator() -> oe.ExecutionSimulator:
    return oe.ExecutionSimulator(risk_per_trade=100.0, symbol_specs=[oe.specs.get("EURUSD")],
                                 slippage={"fixed_pips": 0.1, "random_pips": 0.3},
                                 commission={"schema": "per_lot", "rate": 3.5})


def test_process_signals_batch_1000(benchmark) -> None:
    signals, bid, ask = signals_and_bars()

    def setup() -> tuple[tuple, dict]:
        return (simulator(),), {}

    def run(sim: oe.ExecutionSimulator) -> pa.Table:
        return sim.process_signals_batch(signals, bid, ask)

    out = benchmark.pedantic(run, setup=setup, rounds=200, warmup_rounds=5)
    assert out.num_rows == N
    assert out.column("status").to_pylist().count("opened") == N


def test_evaluate_exits_batch_1000_positions(benchmark) -> None:
    signals, bid, ask = signals_and_bars()
    sim = simulator()
    sim.process_signals_batch(signals, bid, ask)
    assert sim.active_positions.num_rows == N
    # A quiet bar inside every position's SL/TP band: all 1,000 are evaluated, none closes.
    price = 1.1
    ts = pa.array([T0 + (N + 1) * 60_000_000], pa.timestamp("us", tz="UTC"))
    one_bid = pa.table({"timestamp": ts, "open": [price], "high": [price], "low": [price],
                        "close": [price]})
    one_ask = pa.table({"timestamp": ts, "open": [price + 1e-4], "high": [price + 1e-4],
                        "low": [price + 1e-4], "close": [price + 1e-4]})
    closed = benchmark(sim.evaluate_exits_batch, one_bid, one_ask, symbol="EURUSD")
    assert closed == 0 and sim.active_positions.num_rows == N


def test_run_many_python_overhead_per_config(benchmark, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time in Python per config: oe.run_many minus the time spent inside _core.run_many."""
    bars = oe.synthetic_bars("EURUSD", n=200, seed=1)
    grid = oe.grid(oe.SmaCross, fast=range(2, 42), slow=range(50, 75), sl_pips=[10],
                   tp_pips=[20])
    assert len(grid) == 1000
    inside: list[float] = []
    real = _core.run_many

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            inside.append(time.perf_counter() - t)

    monkeypatch.setattr(_core, "run_many", timed)
    totals: list[float] = []

    def run() -> oe.RunResult:
        t = time.perf_counter()
        r = oe.run_many(grid, bars, progress=False)
        totals.append(time.perf_counter() - t)
        return r

    result = benchmark.pedantic(run, rounds=20, warmup_rounds=2)
    assert len(result) == 1000 and result.failed().num_rows == 0
    overhead_us = sorted((t - c) / len(grid) * 1e6 for t, c in
                         zip(totals, inside[-len(totals):], strict=True))
    median = overhead_us[len(overhead_us) // 2]
    benchmark.extra_info["python_overhead_us_per_config"] = round(median, 3)
    assert median < 20  # target < 5 µs; generous bound against noisy machines
