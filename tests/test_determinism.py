"""Identical Arrow IPC bytes across reruns, thread counts and input table types."""

from __future__ import annotations

import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine.strategies import SmaCross

COSTS = {"slippage": {"fixed_pips": 0.1, "random_pips": 0.5},
         "commission": {"default": {"schema": "per_million_notional", "rate": 30.0,
                                    "min_fee": 1.0}}}


def ipc(table: pa.Table | None) -> bytes:
    assert table is not None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def tables(data: oe.Bars, threads: int | None) -> tuple[bytes, bytes, bytes]:
    grid = oe.grid(SmaCross, fast=[5, 8, 13], slow=[21, 34, 55], sl_pips=[8, 15], tp_pips=[10, 30])
    r = oe.run_many(grid, data, threads=threads, include=("summary", "trades", "equity"),
                    costs=COSTS, seed=42, progress=False)
    return ipc(r.summary), ipc(r.trades), ipc(r.equity)


@pytest.fixture(scope="module")
def bars() -> oe.Bars:
    return oe.synthetic_bars("EURUSD", n=30_000, seed=5)


def test_reruns_and_thread_counts(bars: oe.Bars) -> None:
    ref = tables(bars, 1)
    assert len(ref[1]) > 10_000  # trades were produced
    for threads in (1, 2, 4, None):
        assert tables(bars, threads) == ref, threads


def test_input_table_types(bars: oe.Bars) -> None:
    ref = tables(bars, 2)
    canonical = bars.to_arrow()
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    df = canonical.to_pandas()
    assert isinstance(df, pd.DataFrame)
    inputs = {
        "pyarrow": canonical,
        "pyarrow-chunked": pa.concat_tables([canonical.slice(0, 1000), canonical.slice(1000)]),
        "pandas": df,
        "pandas-index": df.set_index("timestamp"),
        "polars": pl.from_arrow(canonical),
    }
    for name, table in inputs.items():
        assert tables(oe.load_bars("EURUSD", table), 2) == ref, name


def test_seed_changes_random_slippage(bars: oe.Bars) -> None:
    a = oe.run(SmaCross(5, 21, sl_pips=8, tp_pips=10), bars, costs=COSTS, seed=1).trades
    b = oe.run(SmaCross(5, 21, sl_pips=8, tp_pips=10), bars, costs=COSTS, seed=2).trades
    assert a is not None and b is not None
    assert a.column("entry_time").equals(b.column("entry_time"))
    assert not a.column("entry_price").equals(b.column("entry_price"))
