"""Plugins: run-time registration, every hook, failures, and entry-point discovery."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine import plugins
from omega_engine.strategies import SmaCross


class Broker:
    @oe.hookimpl
    def omega_symbol_specs(self) -> list[Any]:
        return [{"symbol": "DE40", "pip_size": 1.0, "tick_size": 0.1, "contract_size": 1.0,
                 "base_currency": "EUR", "quote_currency": "EUR"}]

    @oe.hookimpl
    def omega_cost_models(self) -> dict[str, Any]:
        return {"broker_x": {"commission": {"default": {"schema": "per_lot", "rate": 3.0}}}}

    @oe.hookimpl
    def omega_strategy_presets(self) -> dict[str, Any]:
        return {"broker_x_sma": SmaCross(10, 50, sl_pips=20, tp_pips=40)}

    @oe.hookimpl
    def omega_configs(self) -> list[Any]:
        return [{"strategy": SmaCross(5, 20, sl_pips=10, tp_pips=20), "seed": 3}]


class Tagger:
    @oe.hookimpl
    def omega_postprocess_result(self, result: oe.RunResult) -> oe.RunResult:
        s = result.summary
        tagged = s.append_column("tag", pa.array(["tagged"] * s.num_rows))
        return oe.RunResult(tagged, result.trades, result.equity, result.configs)


def test_runtime_plugin_every_hook(clean_plugins: None, small_bars: oe.Bars) -> None:
    name = oe.plugins.register(Broker(), name="broker_x")
    info = {p.name: p for p in oe.plugins.list()}["broker_x"]
    assert info.source == "runtime"
    assert set(info.hooks) == {"omega_symbol_specs", "omega_cost_models",
                               "omega_strategy_presets", "omega_configs"}
    assert oe.specs.get("DE40").quote_currency == "EUR"
    assert oe.strategies.preset("broker_x_sma") == SmaCross(10, 50, sl_pips=20, tp_pips=40)
    assert {"strategy": SmaCross(5, 20, sl_pips=10, tp_pips=20), "seed": 3} in plugins.configs()
    # A named cost model from the plugin is used by a run.
    r = oe.run(oe.strategies.preset("broker_x_sma"), small_bars, costs="broker_x")
    fees = r.trades.column("fees").to_pylist()
    lots = r.trades.column("lots").to_pylist()
    assert fees == [pytest.approx(6.0 * lot) for lot in lots]
    oe.plugins.unregister(name)
    with pytest.raises(oe.errors.UnknownSymbolError):
        oe.specs.get("DE40")
    with pytest.raises(oe.errors.UnknownPluginNameError, match="broker_x"):
        oe.run(SmaCross(5, 20, sl_pips=10, tp_pips=20), small_bars, costs="broker_x")
    with pytest.raises(oe.errors.UnknownPluginNameError, match="broker_x"):
        oe.plugins.unregister("broker_x")


def test_postprocess_hook(clean_plugins: None, small_bars: oe.Bars) -> None:
    oe.plugins.register(Tagger())
    r = oe.run_many([SmaCross(5, 20, sl_pips=10, tp_pips=20)], small_bars, progress=False)
    assert r.summary.column("tag").to_pylist() == ["tagged"]


def test_failing_plugins_are_named(clean_plugins: None) -> None:
    class Broken:
        @oe.hookimpl
        def omega_symbol_specs(self) -> list[Any]:
            raise KeyError("boom")

    oe.plugins.register(Broken(), name="broken")
    with pytest.raises(oe.errors.PluginError) as info:
        oe.specs.get("EURUSD")
    assert info.value.code == 4001 and "broken" in str(info.value)
    assert isinstance(info.value, RuntimeError)

    class WrongShape:
        @oe.hookimpl
        def omega_cost_models(self) -> list[Any]:
            return ["not a mapping"]

    oe.plugins.unregister("broken")
    oe.plugins.register(WrongShape(), name="wrong")
    with pytest.raises(oe.errors.PluginError, match="wrong"):
        plugins.cost_models()

    class BadHook:
        @oe.hookimpl
        def omega_no_such_hook(self) -> None: ...

    oe.plugins.register(BadHook(), name="bad")  # unknown hooks are allowed until validated
    with pytest.raises(oe.errors.PluginError, match="omega_no_such_hook"):
        plugins.check()


def test_entry_point_plugin_is_discovered(small_bars: oe.Bars) -> None:
    eps = [ep.name for ep in importlib.metadata.entry_points(group="omega_engine")]
    assert "omega_test_plugin" in eps, (
        "the test plugin (tests/plugins/omega_test_plugin) is not installed: run "
        "scripts/setup.sh")
    info = {p.name: p for p in oe.plugins.list()}
    assert info["omega_test_plugin"].source.startswith("entry point")
    assert oe.specs.get("TSTUSD").contract_size == 1000.0
    preset = oe.strategies.preset("test_plugin_sma")
    assert preset == SmaCross(7, 30, sl_pips=12, tp_pips=24)
    assert SmaCross(8, 40, sl_pips=10, tp_pips=20) in plugins.configs()
    # An orchestration script: collect every registered config and run them all.
    r = oe.run_many(plugins.configs(), small_bars, costs="test_plugin_broker", progress=False)
    assert r.failed().num_rows == 0 and len(r) >= 2
