"""The ECN broker plugin: discovery through its entry point, the config it produces, and runs
whose fees and swaps are checked trade by trade against hand arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import omega_ecn_broker as ecn
import omega_engine as oe
import pytest


def test_discovered_through_the_entry_point():
    models = oe.plugins.cost_models()
    assert {"ecn_raw", "ecn_tiered"} <= set(models)
    info = {p.name: p for p in oe.plugins.list()}["omega_ecn_broker"]
    assert info.source == "entry point (omega-ecn-broker)"
    assert "omega_cost_models" in info.hooks


def test_config_of_the_tiered_model():
    cfg = ecn.tiered_costs().to_config()
    assert cfg["commission"] == {"default": {
        "schema": "tiered", "rate_kind": "per_million_notional", "basis": "notional",
        "tiers": [{"from": 0.0, "rate": 35.0}, {"from": 5e6, "rate": 30.0},
                  {"from": 25e6, "rate": 25.0}],
        "side": "both", "min_fee": 2.0, "max_fee": None, "multiplier": 1.0, "currency": "USD"}}
    assert cfg["slippage"] == {"fixed_pips": 0.0, "random_pips": 0.2}
    assert cfg["swap"]["per_symbol"]["USDJPY"]["long_points"] == 11.6
    assert cfg["swap"]["per_symbol"]["EURUSD"]["unit"] == "points"
    # symbols outside the table get no swap
    assert (cfg["swap"]["long_points"], cfg["swap"]["short_points"]) == (0.0, 0.0)


def _rate(notional: float) -> float:
    return [r for f, r in sorted(ecn.VOLUME_TIERS.items()) if notional >= f][-1]


def _nights(entry: datetime, exit_: datetime, hour: int = 22, triple: int = 2) -> int:
    """Rollovers R with entry < R <= exit: none on weekends, three on the triple day."""
    r = datetime.combine(entry.date(), time(hour), tzinfo=UTC)
    if r <= entry:
        r += timedelta(days=1)
    n = 0
    while r <= exit_:
        wd = r.weekday()
        n += 0 if wd >= 5 else (3 if wd == triple else 1)
        r += timedelta(days=1)
    return n


@pytest.fixture(scope="module")
def trades():
    bars = oe.synthetic_bars("EURUSD", n=12_000, timeframe="15min", seed=11)
    strategy = oe.SmaCross(20, 80, sl_pips=30, tp_pips=90)
    # three sizes: the minimum fee (0.16 lot), the first tier and the 5M tier (~66 lots)
    configs = [{"strategy": strategy, "risk_per_trade": r} for r in (50.0, 2_000.0, 20_000.0)]
    res = oe.run_many(configs, bars, costs="ecn_tiered", seed=5, include=("summary", "trades"))
    assert res.summary.column("error_code").null_count == 3
    return res.trades.to_pylist()


def test_fees_follow_the_tiers_and_the_minimum(trades):
    seen = set()
    for t in trades:
        for price, fee in ((t["entry_price"], t["entry_fee"]), (t["exit_price"], t["exit_fee"])):
            notional = t["lots"] * 100_000 * price
            want = max(ecn.MIN_FEE_USD, _rate(notional) * notional / 1e6)
            assert fee == pytest.approx(want, rel=1e-12), t
            seen.add("min" if want == ecn.MIN_FEE_USD else _rate(notional))
    assert {"min", 35.0, 30.0} <= seen


def test_swaps_follow_the_table(trades):
    long_pts, short_pts = ecn.SWAP_POINTS["EURUSD"]
    held = 0
    for t in trades:
        nights = _nights(t["entry_time"], t["exit_time"])
        points = long_pts if t["direction"] == "long" else short_pts
        # points are a tenth of a pip; EURUSD in a USD account: 100,000 USD per 1.0 per lot
        want = nights * points * 0.00001 * 100_000 * t["lots"]
        assert t["swap"] == pytest.approx(want, rel=1e-9, abs=1e-9), t
        assert t["net_pnl"] == pytest.approx(t["gross_pnl"] - t["fees"] + t["swap"], abs=1e-9)
        held += nights > 0
    assert held >= 3
