"""Resource guard from Python: a grid whose trades/equity would not fit the memory budget fails
fast with 1007 RESOURCE_LIMIT suggesting summary-only, before anything runs; the same grid
summary-only passes the guard. (Peak memory of summary-only batches:
tests/benchmarks/test_bench_memory.py.)"""

from __future__ import annotations

import time

import omega_engine as oe
import pytest
from omega_engine import _core, config, errors
from omega_engine.strategies import SmaCross


def test_huge_grid_with_equity_fails_fast_through_the_public_api() -> None:
    # 1,200 configs x 1,000,000 bars with equity: ~58 GiB of equity rows, over the 8 GiB default.
    bars = oe.synthetic_bars("EURUSD", n=1_000_000, seed=8)
    grid = oe.grid(SmaCross, fast=range(5, 35), slow=range(40, 80),
                   sl_pips=10, tp_pips=20)
    assert len(list(grid)) == 1_200
    calls: list[tuple[int, int]] = []
    t = time.perf_counter()
    with pytest.raises(errors.ResourceLimitError) as info:
        oe.run_many(grid, bars, include=("summary", "trades", "equity"),
                    progress=lambda done, total: calls.append((done, total)))
    took = time.perf_counter() - t
    e = info.value
    assert e.code == 1007 and isinstance(e, ValueError)
    assert str(e).startswith("[1007] RESOURCE_LIMIT: 1200 configs would produce an estimated")
    assert "summary-only" in str(e) and "memory_budget_bytes" in str(e)
    # Fail fast: refused up front (no config ran; the run itself would take minutes).
    assert took < 5.0, took
    assert all(done == 0 for done, _ in calls), calls


def test_summary_only_passes_the_guard_that_refuses_trades_and_equity() -> None:
    bars = oe.synthetic_bars("EURUSD", n=3_000, seed=9)
    jsons = config.prepare(
        list(oe.grid(SmaCross, fast=range(5, 25), slow=[40, 60, 80], sl_pips=10, tp_pips=20)),
        {}, ["EURUSD"])
    budget = 64 * 1024  # 60 summary rows (~512 B each) fit; 60 x 3,000 equity rows do not
    with pytest.raises(errors.ResourceLimitError, match="summary-only"):
        with errors.translate():
            _core.run_many(jsons, {"EURUSD": bars.core}, include_trades=True,
                           include_equity=True, memory_budget_bytes=budget)
    with pytest.raises(errors.ResourceLimitError):
        with errors.translate():
            _core.run_many(jsons, {"EURUSD": bars.core}, include_trades=False,
                           include_equity=True, memory_budget_bytes=budget)
    summary, trades, equity = _core.run_many(jsons, {"EURUSD": bars.core}, include_trades=False,
                                             include_equity=False, memory_budget_bytes=budget)
    assert summary.num_rows == len(jsons) and trades is None and equity is None
    assert summary.column("error_code").null_count == len(jsons)
    assert sum(summary.column("trades").to_pylist()) > 0


def test_budget_is_also_checked_while_running() -> None:
    """An estimate that passes does not let a batch exceed the budget: the rows actually
    produced are checked as chunks finish (1007 naming what was reached)."""
    bars = oe.synthetic_bars("EURUSD", n=20_000, seed=10)
    jsons = config.prepare([SmaCross(2, 3, sl_pips=1, tp_pips=1)] * 8, {}, ["EURUSD"])
    # The up-front estimate assumes one trade per 100 bars; these configs trade far more often.
    est = 8 * 512 + int(8 * 20_000 * 0.01) * 280
    with pytest.raises(errors.ResourceLimitError) as info:
        with errors.translate():
            _core.run_many(jsons, {"EURUSD": bars.core}, threads=1, include_trades=True,
                           memory_budget_bytes=est + 1024)
    assert "the batch has reached" in str(info.value)
