"""SymbolSpec and the spec registry."""

from __future__ import annotations

import omega_engine as oe
import pytest
from omega_engine import SymbolSpec, specs


@pytest.mark.parametrize(("symbol", "pip", "contract", "quote"), [
    ("EURUSD", 0.0001, 100_000.0, "USD"), ("GBPUSD", 0.0001, 100_000.0, "USD"),
    ("USDJPY", 0.01, 100_000.0, "JPY"), ("EURJPY", 0.01, 100_000.0, "JPY"),
    ("EURGBP", 0.0001, 100_000.0, "GBP"), ("AUDNZD", 0.0001, 100_000.0, "NZD"),
    ("XAUUSD", 0.1, 100.0, "USD"), ("XAGUSD", 0.01, 5000.0, "USD"),
    ("US500", 1.0, 1.0, "USD"), ("GER40", 1.0, 1.0, "EUR"), ("JP225", 1.0, 1.0, "JPY"),
])
def test_builtin_specs(symbol: str, pip: float, contract: float, quote: str) -> None:
    s = specs.get(symbol)
    assert (s.pip_size, s.contract_size, s.quote_currency) == (pip, contract, quote)
    assert s.volume_min <= s.volume_max and s.tick_size <= s.pip_size


def test_registry_covers_majors_crosses_metals_indices() -> None:
    syms = set(specs.symbols())
    assert {"EURUSD", "USDCHF", "USDCAD", "NZDUSD", "EURCHF", "GBPJPY", "CHFJPY", "XAUUSD",
            "NAS100", "UK100"} <= syms


def test_unknown_symbol_suggests() -> None:
    with pytest.raises(oe.errors.UnknownSymbolError) as info:
        specs.get("EURUSX")
    assert info.value.code == 1002 and "EURUSD" in str(info.value)


def test_register_overrides_and_unregister(clean_plugins: None) -> None:
    custom = specs.get("EURUSD").with_(volume_min=1.0, volume_step=1.0)
    specs.register(custom)
    assert specs.get("EURUSD").volume_min == 1.0
    specs.unregister("EURUSD")
    assert specs.get("EURUSD").volume_min == 0.01
    specs.register({"symbol": "BTCUSD", "pip_size": 1.0, "tick_size": 0.01,
                    "contract_size": 1.0, "base_currency": "BTC", "quote_currency": "USD"})
    assert "BTCUSD" in specs.symbols()


@pytest.mark.parametrize(("change", "field"), [
    ({"pip_size": 0.0}, "pip_size"), ({"pip_size": float("nan")}, "pip_size"),
    ({"contract_size": -1.0}, "contract_size"), ({"volume_max": 0.001}, "volume_max"),
    ({"quote_currency": "US"}, "quote_currency"), ({"tick_value": 0.0}, "tick_value"),
    ({"min_sl_distance_pips": -1.0}, "min_sl_distance_pips"),
])
def test_invalid_spec_names_field(change: dict, field: str) -> None:
    with pytest.raises(oe.errors.InvalidParameterError, match=field):
        specs.get("EURUSD").with_(**change)


def test_coerce_rejects_unknown_and_missing_fields() -> None:
    with pytest.raises(oe.errors.UnknownConfigFieldError, match="pipsize"):
        specs.coerce({"symbol": "X", "pipsize": 1})
    with pytest.raises(oe.errors.InvalidParameterError, match="pip_size"):
        specs.coerce({"symbol": "X"})


def test_to_config_tick_value_only_in_account_currency() -> None:
    eur = specs.get("EURUSD")
    assert eur.to_config("USD")["tick_value"] == pytest.approx(1.0)
    assert eur.to_config("USD")["tick_size"] == 0.00001
    jpy = specs.get("USDJPY").to_config("USD")
    assert "tick_value" not in jpy and "tick_size" not in jpy  # converted with FX rates instead
    assert SymbolSpec("X", 1.0, 0.1, 1.0, "USD", "USD").to_config()["pip_size"] == 1.0
