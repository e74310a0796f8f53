"""Real data: the EURUSD hourly and GOOG daily bars shipped by the ``backtesting`` package (read
in place from the installed package, never copied into this repository)."""

from __future__ import annotations

from pathlib import Path

import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from omega_engine.strategies import SmaCross


def check_fills(trades: pa.Table, bars: oe.Bars) -> None:
    """Market entries fill at the signal bar's close on the trade side; SL/TP exits at the level
    (no slippage configured); end-of-data exits at the last close on the exit side."""
    t = bars.to_arrow()
    by_ts = {ts: i for i, ts in enumerate(t.column("timestamp").cast(pa.int64()).to_pylist())}
    ask_close = t.column("ask_close").to_pylist()
    bid_close = t.column("bid_close").to_pylist()
    for tr in trades.to_pylist():
        i = by_ts[int(tr["entry_time"].timestamp() * 1_000_000)]
        long = tr["direction"] == "long"
        assert tr["entry_price"] == (ask_close[i] if long else bid_close[i])
        if tr["reason"] == "stop_loss":
            assert tr["exit_price"] == tr["stop_loss"]
        elif tr["reason"] == "take_profit":
            assert tr["exit_price"] == tr["take_profit"]
        else:
            assert tr["reason"] == "end_of_data"
            assert tr["exit_price"] == (bid_close[-1] if long else ask_close[-1])


def test_eurusd_hourly(backtesting_dir: Path) -> None:
    bars = oe.load_bars("EURUSD", backtesting_dir / "EURUSD.csv", spread_pips=1.0)
    assert len(bars) == 5000
    r = oe.run(SmaCross(10, 30, sl_pips=30, tp_pips=60), bars)
    s = r.summary.to_pylist()[0]
    assert s["trades"] > 20 and s["error_code"] is None
    assert s["net_profit"] == pytest.approx(pc.sum(r.trades.column("net_pnl")).as_py())
    assert r.equity.column("equity")[-1].as_py() == pytest.approx(s["final_equity"])
    check_fills(r.trades, bars)
    # Spread is a cost: the same run with a wider spread earns less.
    wide = oe.load_bars("EURUSD", backtesting_dir / "EURUSD.csv", spread_pips=3.0)
    assert oe.run(SmaCross(10, 30, sl_pips=30, tp_pips=60), wide).summary.column(
        "net_profit")[0].as_py() < s["net_profit"]


def test_eurusd_sweep_is_deterministic(backtesting_dir: Path) -> None:
    bars = oe.load_bars("EURUSD", backtesting_dir / "EURUSD.csv", spread_pips=1.0)
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[30, 60, 120], sl_pips=[20, 40],
                   tp_pips=[40, 80])
    a = oe.run_many(grid, bars, threads=1, progress=False)
    b = oe.run_many(grid, bars, threads=2, progress=False)
    assert a.summary.equals(b.summary) and a.trades.equals(b.trades)
    assert a.failed().num_rows == 0 and pc.sum(a.summary.column("trades")).as_py() > 300


def test_goog_daily(backtesting_dir: Path, clean_plugins: None) -> None:
    oe.specs.register(oe.SymbolSpec("GOOG", 0.01, 0.01, 1.0, "USD", "USD", volume_min=1.0,
                                    volume_step=1.0, volume_max=1e6))
    bars = oe.load_bars("GOOG", backtesting_dir / "GOOG.csv", spread_pips=1.0)
    assert len(bars) == 2148
    assert bars.to_arrow().column("timestamp")[0].as_py().isoformat().startswith("2004-08-19")
    r = oe.run(SmaCross(10, 20, sl_pips=1000, tp_pips=2000), bars, risk_per_trade=1000.0)
    assert r.summary.column("trades")[0].as_py() > 10
    lots = r.trades.column("lots").to_pylist()
    assert all(float(x).is_integer() for x in lots)  # whole shares
    check_fills(r.trades, bars)
