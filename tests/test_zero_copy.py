"""Zero-copy input: the engine holds the caller's Arrow buffers, it does not duplicate the bars."""

from __future__ import annotations

import gc
import os

import numpy as np
import omega_engine as oe
import pyarrow as pa
import pytest

COLUMNS = ("bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low",
           "ask_close", "volume")


def canonical(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    close = 1.1 + np.cumsum(rng.normal(0, 1e-4, n))
    open_ = np.concatenate([[1.1], close[:-1]])
    high = np.maximum(open_, close) + 2e-4
    low = np.minimum(open_, close) - 2e-4
    ts = (1_704_067_200_000_000 + np.arange(n, dtype=np.int64) * 60_000_000)
    cols = {"timestamp": pa.array(ts, pa.timestamp("us", tz="UTC"))}
    for side, off in (("bid", 0.0), ("ask", 1e-4)):
        for name, v in (("open", open_), ("high", high), ("low", low), ("close", close)):
            cols[f"{side}_{name}"] = pa.array(v + off)
    cols["volume"] = pa.array(np.ones(n))
    return pa.table(cols)


def addresses(t: pa.Table) -> dict[str, int]:
    return {c: t.column(c).chunk(0).buffers()[1].address for c in ("timestamp",) + COLUMNS}


def test_engine_shares_the_input_buffers() -> None:
    t = canonical(10_000)
    before = pa.total_allocated_bytes()
    bars = oe.load_bars("EURUSD", t)
    # nothing copied on the pyarrow side (a few KB of bookkeeping at most)
    assert pa.total_allocated_bytes() - before < 0.01 * t.nbytes
    assert addresses(bars.to_arrow()) == addresses(t)  # and Rust holds the very same buffers
    # A zero-copy slice points into the same memory.
    s = bars.slice(100, 200).to_arrow()
    start = s.column("bid_close").chunk(0)
    assert start.buffers()[1].address + start.offset * 8 == (
        t.column("bid_close").chunk(0).buffers()[1].address + 100 * 8)


def test_polars_input_is_not_copied() -> None:
    pl = pytest.importorskip("polars")
    t = canonical(10_000)
    df = pl.from_arrow(t)
    bars = oe.load_bars("EURUSD", df)
    assert bars.to_arrow().column("bid_close").to_numpy()[5] == t.column("bid_close")[5].as_py()
    arrow_again = df.to_arrow()
    assert (bars.to_arrow().column("ask_close").chunk(0).buffers()[1].address
            == arrow_again.column("ask_close").chunk(0).buffers()[1].address)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_duplicate_in_memory() -> None:
    t = canonical(2_000_000)  # 160 MB of columns
    size = t.nbytes
    gc.collect()
    rss0 = _rss()
    bars = oe.load_bars("EURUSD", t)
    del t
    gc.collect()
    grown = _rss() - rss0
    assert grown < 0.1 * size, f"RSS grew by {grown / 1e6:.1f} MB for {size / 1e6:.0f} MB of bars"
    assert len(bars) == 2_000_000
