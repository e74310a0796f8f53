"""Strategy config objects and grids."""

from __future__ import annotations

import omega_engine as oe
import pytest
from omega_engine import strategies
from omega_engine.strategies import (
    DonchianBreakout,
    EmaCross,
    RsiReversion,
    Signals,
    SmaCross,
    ZscoreReversion,
)


def test_to_config_leaves_unset_stops_out() -> None:
    assert SmaCross(10, 50, sl_pips=20, tp_pips=40).to_config() == {
        "name": "sma_cross", "params": {"fast": 10, "slow": 50, "sl_pips": 20, "tp_pips": 40}}
    assert EmaCross(5, 20, sl_atr=1.5, atr_period=10).to_config()["params"] == {
        "fast": 5, "slow": 20, "sl_atr": 1.5, "atr_period": 10}
    assert DonchianBreakout(20, sl_pips=10).to_config()["name"] == "donchian_breakout"
    assert ZscoreReversion(30, 2.0, limit_offset_pips=1.0).to_config()["params"][
        "limit_offset_pips"] == 1.0
    assert RsiReversion(14, 30, 70).to_config()["params"] == {"period": 14, "lower": 30,
                                                              "upper": 70}
    assert Signals("mine").to_config() == {"name": "signals", "params": {"table": "mine"}}


def test_type_checks_name_the_field() -> None:
    with pytest.raises(oe.errors.InvalidConfigError, match=r"strategy\.params\.fast"):
        SmaCross(10.5, 50)
    with pytest.raises(oe.errors.InvalidConfigError, match=r"strategy\.params\.sl_pips"):
        SmaCross(10, 50, sl_pips=float("nan"))
    with pytest.raises(oe.errors.InvalidConfigError, match=r"strategy\.params\.table"):
        Signals("")
    assert SmaCross(10.0, 50).fast == 10  # whole floats (e.g. from numpy ranges) become ints


def test_from_config_round_trip_and_errors() -> None:
    s = SmaCross(10, 50, sl_pips=20)
    assert strategies.from_config(s.to_config()) == s
    with pytest.raises(oe.errors.UnknownStrategyError, match="sma_cross"):
        strategies.from_config({"name": "nope", "params": {}})
    with pytest.raises(oe.errors.UnknownConfigFieldError, match=r"strategy\.params\.fats"):
        strategies.from_config({"name": "sma_cross", "params": {"fats": 1}})


def test_grid_product_and_skips() -> None:
    g = oe.grid(SmaCross, fast=range(5, 50, 5), slow=range(20, 200, 10), sl_pips=[10, 20, 30],
                tp_pips=[20, 40, 60])
    full = 9 * 18 * 9
    assert len(g) < full and all(s.fast < s.slow for s in g)
    assert len(oe.grid(SmaCross, fast=range(5, 50, 5), slow=range(20, 200, 10),
                       sl_pips=[10, 20, 30], tp_pips=[20, 40, 60],
                       skip_inconsistent=False)) == full
    g2 = oe.grid("rsi_reversion", period=14, lower=[20, 30], upper=[70, 80], sl_pips=10)
    assert len(g2) == 4 and g2[0] == RsiReversion(14, 20, 70, sl_pips=10)
    assert "Grid(RsiReversion" in repr(g2)


def test_grid_errors() -> None:
    with pytest.raises(oe.errors.UnknownConfigFieldError, match="fastt"):
        oe.grid(SmaCross, fastt=[1])
    with pytest.raises(oe.errors.InvalidConfigError, match="empty"):
        oe.grid(SmaCross, fast=[], slow=[10])
    with pytest.raises(oe.errors.UnknownStrategyError):
        oe.grid("nope", a=[1])
