"""The retail broker plugin: discovery, its config, and runs whose fills and swaps are checked
trade by trade."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import omega_engine as oe
import omega_retail_broker as retail
import pyarrow.compute as pc
import pytest


def test_discovered_through_the_entry_point():
    assert "retail_spread_only" in oe.plugins.cost_models()
    info = {p.name: p for p in oe.plugins.list()}["omega_retail_broker"]
    assert info.source == "entry point (omega-retail-broker)"


def test_config():
    cfg = retail.retail_costs().to_config()
    assert "commission" not in cfg
    assert cfg["slippage"]["fixed_pips"] == retail.DEFAULT_MARKUP_PIPS / 2
    assert cfg["slippage"]["per_symbol"]["EURUSD"] == {"fixed_pips": 0.5, "random_pips": 0.3}
    assert cfg["swap"]["per_symbol"]["EURUSD"]["rollover_hour_utc"] == 21
    cheap = retail.retail_costs({"EURUSD": 0.4}, random_pips=0.0).to_config()
    assert cheap["slippage"]["per_symbol"] == {"EURUSD": {"fixed_pips": 0.2, "random_pips": 0.0}}


def _nights(entry: datetime, exit_: datetime, hour: int, triple: int = 2) -> int:
    r = datetime.combine(entry.date(), time(hour), tzinfo=UTC)
    if r <= entry:
        r += timedelta(days=1)
    n = 0
    while r <= exit_:
        wd = r.weekday()
        n += 0 if wd >= 5 else (3 if wd == triple else 1)
        r += timedelta(days=1)
    return n


def test_fills_pay_half_the_markup_plus_random_slippage_and_swaps():
    bars = oe.synthetic_bars("EURUSD", n=10_000, timeframe="15min", seed=21)
    table = bars.to_arrow()
    ts = [t.as_py() for t in table.column("timestamp")]
    row = {t: i for i, t in enumerate(ts)}
    bid_close = table.column("bid_close").to_pylist()
    ask_close = table.column("ask_close").to_pylist()
    res = oe.run(oe.SmaCross(10, 40, sl_pips=25, tp_pips=50), bars,
                 costs="retail_spread_only", seed=9, include=("summary", "trades"))
    trades = res.trades.to_pylist()
    assert len(trades) >= 10
    assert pc.sum(res.trades.column("fees")).as_py() == 0.0
    pip = 0.0001
    half, rnd = retail.MARKUP_PIPS["EURUSD"] / 2, retail.RANDOM_PIPS
    slips = []
    long_pts, short_pts = retail.SWAP_PIPS["EURUSD"]
    held = 0
    for t in trades:
        i = row[t["entry_time"]]
        # market orders fill at the signal bar's close on the trade side, then slip adversely
        if t["direction"] == "long":
            slip = (t["entry_price"] - ask_close[i]) / pip
        else:
            slip = (bid_close[i] - t["entry_price"]) / pip
        assert half - 1e-6 <= slip <= half + rnd + 1e-6, t
        slips.append(slip - half)
        nights = _nights(t["entry_time"], t["exit_time"], retail.ROLLOVER_HOUR_UTC)
        points = long_pts if t["direction"] == "long" else short_pts
        want = nights * points * pip * 100_000 * t["lots"]
        assert t["swap"] == pytest.approx(want, rel=1e-9, abs=1e-9), t
        held += nights > 0
    # the random part really varies (seeded per fill)
    assert max(slips) - min(slips) > rnd / 3
    assert held >= 2
    assert res.summary.column("swap_total")[0].as_py() == pytest.approx(
        sum(t["swap"] for t in trades), abs=1e-9)
