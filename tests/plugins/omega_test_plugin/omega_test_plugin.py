"""A minimal omega_engine plugin (installed by scripts/setup.sh for the test suite).

It is a module-level plugin: pluggy registers the module, whose functions carry ``hookimpl``.
"""

from __future__ import annotations

from typing import Any

import omega_engine as oe


@oe.hookimpl
def omega_symbol_specs() -> list[oe.SymbolSpec]:
    return [oe.SymbolSpec("TSTUSD", 0.001, 0.0001, 1000.0, "TST", "USD", tick_value=0.1)]


@oe.hookimpl
def omega_strategy_presets() -> dict[str, Any]:
    return {"test_plugin_sma": {"name": "sma_cross",
                                "params": {"fast": 7, "slow": 30, "sl_pips": 12, "tp_pips": 24}}}


@oe.hookimpl
def omega_cost_models() -> dict[str, Any]:
    return {"test_plugin_broker": {
        "commission": {"default": {"schema": "per_lot", "rate": 4.0, "side": "both"}}}}


@oe.hookimpl
def omega_configs() -> list[Any]:
    return [oe.SmaCross(5, 20, sl_pips=10, tp_pips=20), oe.SmaCross(8, 40, sl_pips=10, tp_pips=20)]
