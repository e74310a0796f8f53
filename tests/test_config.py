"""Configs from dicts, dataclasses, strategy objects and files; run-level defaults."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import omega_engine as oe
import pytest
from omega_engine import config as cfgmod
from omega_engine.strategies import SmaCross

SMA = SmaCross(10, 50, sl_pips=20, tp_pips=40)


def prep(configs, **defaults) -> list[dict]:
    return [json.loads(j) for j in cfgmod.prepare(cfgmod.expand(configs), defaults, ["EURUSD"])]


def test_strategy_object_gets_symbol_and_spec() -> None:
    (c,) = prep(SMA)
    assert c["symbol"] == "EURUSD" and c["strategy"] == SMA.to_config()
    assert c["symbol_spec"]["pip_size"] == 0.0001


def test_shortcuts_and_precedence() -> None:
    (a, b) = prep([SMA, {"strategy": SMA, "account": {"risk_percent": 1.0}, "seed": 7}],
                  risk_per_trade=50.0, seed=3, variant="v1_parity", costs="ftmo_like",
                  max_holding_bars=100, start="2024-01-02")
    assert a["account"]["risk_per_trade"] == 50.0 and a["seed"] == 3
    assert a["execution"]["variant"] == "v1_parity"
    assert a["costs"] == cfgmod.COST_PRESETS["ftmo_like"]
    assert a["trade_management"]["max_holding_bars"] == 100
    assert a["start"] == int(datetime(2024, 1, 2, tzinfo=UTC).timestamp() * 1_000_000)
    # The config's own values win; its risk mode replaces the default one.
    assert b["seed"] == 7 and b["account"] == {"risk_percent": 1.0}


def test_flat_and_dataclass_configs() -> None:
    @dataclasses.dataclass
    class MyConfig:
        strategy: dict
        seed: int = 5

    (a, b) = prep([{"strategy": "sma_cross", "params": {"fast": 5, "slow": 20, "sl_pips": 10}},
                   MyConfig({"name": "ema_cross", "params": {"fast": 5, "slow": 20,
                                                             "sl_pips": 10}})])
    assert a["strategy"]["name"] == "sma_cross" and b["strategy"]["name"] == "ema_cross"
    assert b["seed"] == 5


def test_unknown_fields_are_named() -> None:
    with pytest.raises(oe.errors.UnknownConfigFieldError, match="risk_per_trad"):
        prep(SMA, risk_per_trad=1.0)
    with pytest.raises(oe.errors.UnknownConfigFieldError, match=r"configs\[0\]\.strat"):
        prep({"strat": SMA})
    with pytest.raises(oe.errors.InvalidConfigError, match=r"strategy: is required"):
        prep({"seed": 1})


def test_symbol_required_with_several_symbols() -> None:
    with pytest.raises(oe.errors.InvalidConfigError, match="symbol"):
        cfgmod.prepare([SMA], {}, ["EURUSD", "GBPUSD"])
    out = cfgmod.prepare([{"strategy": SMA, "symbol": "GBPUSD"}], {}, ["EURUSD", "GBPUSD"])
    assert json.loads(out[0])["symbol"] == "GBPUSD"


def test_cost_names() -> None:
    assert prep(SMA, costs="none")[0]["costs"] == {}
    with pytest.raises(oe.errors.UnknownPluginNameError, match="ftmo_like"):
        prep(SMA, costs="no_such_broker")


def test_times() -> None:
    assert cfgmod.to_timestamp_us("1970-01-01T00:00:01Z", "t") == 1_000_000
    assert cfgmod.to_timestamp_us(datetime(1970, 1, 1, 0, 0, 2), "t") == 2_000_000
    pd = pytest.importorskip("pandas")
    assert cfgmod.to_timestamp_us(pd.Timestamp("1970-01-01 00:00:03", tz="UTC"), "t") == 3_000_000
    with pytest.raises(oe.errors.InvalidConfigError, match="start"):
        cfgmod.to_timestamp_us("yesterday", "start")


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "grid.toml"
    toml.write_text("""
[defaults]
risk_per_trade = 25.0
seed = 9

[[configs]]
strategy = { name = "sma_cross", params = { fast = 5, slow = 20, sl_pips = 10.0 } }

[[configs]]
strategy = { name = "ema_cross", params = { fast = 5, slow = 20, sl_pips = 10.0 } }
seed = 1
""")
    a, b = prep(toml)
    assert a["account"]["risk_per_trade"] == 25.0 and a["seed"] == 9 and b["seed"] == 1
    js = tmp_path / "one.json"
    js.write_text(json.dumps({"strategy": SMA.to_config(), "seed": 4}))
    assert prep(str(js))[0]["seed"] == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("strategy = [")
    with pytest.raises(oe.errors.InvalidConfigError, match="not valid toml"):
        prep(bad)


def test_engine_validation_names_the_field(small_bars: oe.Bars) -> None:
    with pytest.raises(oe.errors.InvalidConfigError, match=r"strategy\.params\.fast"):
        oe.run({"strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 5,
                                                             "sl_pips": 10}}}, small_bars)
    with pytest.raises(oe.errors.InvalidConfigError, match=r"execution\.variant"):
        oe.run(SMA, small_bars, variant="v3")
    with pytest.raises(oe.errors.UnknownConfigFieldError, match=r"strategy\.params\.bogus"):
        oe.run({"strategy": {"name": "sma_cross", "params": {"fast": 1, "slow": 5,
                                                             "bogus": 1}}}, small_bars)


def test_config_id_is_stable() -> None:
    a = oe.config_id(SMA, "EURUSD", seed=1)
    assert a == oe.config_id({"strategy": SMA.to_config(), "seed": 1}, "EURUSD")
    assert len(a) == 16 and a != oe.config_id(SMA, "EURUSD", seed=2)
