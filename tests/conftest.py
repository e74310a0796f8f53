"""Shared fixtures of the Python test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import omega_engine as oe
import pyarrow as pa
import pytest


@pytest.fixture(scope="session")
def small_bars() -> oe.Bars:
    """20,000 seeded synthetic EURUSD M1 bars."""
    return oe.synthetic_bars("EURUSD", n=20_000, seed=11)


@pytest.fixture(scope="session")
def backtesting_dir() -> Path:
    """The data directory of the installed ``backtesting`` package (EURUSD.csv, GOOG.csv); read
    in place, never copied."""
    backtesting = pytest.importorskip("backtesting")
    d = Path(os.path.dirname(backtesting.__file__)) / "test"
    assert (d / "EURUSD.csv").exists()
    return d


@pytest.fixture
def clean_plugins() -> Iterator[None]:
    """Run-time plugin and spec registrations made by a test are dropped afterwards."""
    before = {p.name for p in oe.plugins.list()}
    runtime_specs = dict(oe.specs._RUNTIME)
    yield
    for p in oe.plugins.list():
        if p.name not in before:
            oe.plugins.unregister(p.name)
    oe.specs._RUNTIME.clear()
    oe.specs._RUNTIME.update(runtime_specs)


def bars_table(n: int = 5, *, start_us: int = 1_704_067_200_000_000, step_us: int = 60_000_000,
               price: float = 1.1, spread: float = 0.0001) -> pa.Table:
    """A small valid canonical bars table (flat-ish prices)."""
    ts = [start_us + i * step_us for i in range(n)]
    bo = [price + 0.0001 * (i % 3) for i in range(n)]
    bc = [price + 0.0001 * ((i + 1) % 3) for i in range(n)]
    bh = [max(o, c) + 0.0002 for o, c in zip(bo, bc, strict=True)]
    bl = [min(o, c) - 0.0002 for o, c in zip(bo, bc, strict=True)]
    return pa.table({
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "bid_open": bo, "bid_high": bh, "bid_low": bl, "bid_close": bc,
        "ask_open": [v + spread for v in bo], "ask_high": [v + spread for v in bh],
        "ask_low": [v + spread for v in bl], "ask_close": [v + spread for v in bc],
        "volume": [float(i) for i in range(n)],
    })


@pytest.fixture
def make_bars_table():
    return bars_table
