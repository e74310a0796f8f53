"""Instrument specifications: :class:`SymbolSpec` and the registry of known symbols.

The registry holds built-in specs for the FX majors and crosses, the JPY pairs, gold and silver and
the major stock indices (typical CFD terms: 100,000-unit FX lots, 100 oz gold, 5,000 oz silver,
1 unit of an index per lot). Brokers differ: register your own specs at run time
(:func:`register`) or from a plugin (the ``omega_symbol_specs`` hook). Precedence: run-time
registrations, then plugins, then built-ins.

>>> import omega_engine as oe
>>> oe.specs.get("USDJPY").pip_size
0.01
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import raise_error

__all__ = ["SymbolSpec", "get", "register", "unregister", "all_specs", "symbols", "coerce"]


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Specification of one instrument (DESIGN §3).

    ``tick_value`` is the value of one ``tick_size`` move for one lot, expressed in
    ``tick_value_currency`` (default: the quote currency). When that is not the account currency,
    the engine ignores it and derives the value from ``contract_size`` and the configured FX rates.
    """

    symbol: str
    pip_size: float
    tick_size: float
    contract_size: float
    base_currency: str
    quote_currency: str
    tick_value: float | None = None
    volume_min: float = 0.01
    volume_step: float = 0.01
    volume_max: float = 100.0
    min_sl_distance_pips: float | None = None
    tick_value_currency: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol:
            raise_error("INVALID_PARAMETER", "symbol_spec.symbol must be a non-empty string")
        for name in ("pip_size", "tick_size", "contract_size", "volume_min", "volume_step",
                     "volume_max"):
            _positive(self.symbol, name, getattr(self, name))
        if self.tick_value is not None:
            _positive(self.symbol, "tick_value", self.tick_value)
        if self.min_sl_distance_pips is not None:
            v = self.min_sl_distance_pips
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise_error("INVALID_PARAMETER",
                            f"symbol_spec.min_sl_distance_pips of {self.symbol} must be finite "
                            f"and >= 0, got {v!r}")
        if self.volume_max < self.volume_min:
            raise_error("INVALID_PARAMETER",
                        f"symbol_spec.volume_max of {self.symbol} is below volume_min")
        for name in ("base_currency", "quote_currency"):
            cur = getattr(self, name)
            if not isinstance(cur, str) or len(cur) != 3 or not cur.isalpha():
                raise_error("INVALID_PARAMETER",
                            f"symbol_spec.{name} of {self.symbol} must be a 3-letter currency "
                            f"code, got {cur!r}")

    @property
    def value_currency(self) -> str:
        """The currency ``tick_value`` is expressed in."""
        return self.tick_value_currency or self.quote_currency

    def to_config(self, account_currency: str | None = None) -> dict[str, Any]:
        """The ``symbol_spec`` object of a run config.

        ``tick_size``/``tick_value`` are included only when the value is in the account currency
        (or no account currency is given); otherwise the engine converts ``contract_size`` with
        the FX rates.
        """
        tick_value = self.tick_value
        if tick_value is not None and account_currency is not None:
            if self.value_currency != account_currency:
                tick_value = None
        out: dict[str, Any] = {
            "pip_size": self.pip_size,
            # The engine takes tick size and value together (value per price = value / size).
            "tick_size": self.tick_size if tick_value is not None else None,
            "tick_value": tick_value,
            "contract_size": self.contract_size,
            "volume_min": self.volume_min,
            "volume_step": self.volume_step,
            "volume_max": self.volume_max,
            "base_currency": self.base_currency,
            "quote_currency": self.quote_currency,
            "min_sl_distance_pips": self.min_sl_distance_pips,
        }
        return {k: v for k, v in out.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """All fields, ``symbol`` included (the simulator's spec format)."""
        return asdict(self)

    def with_(self, **changes: Any) -> SymbolSpec:
        """A copy with some fields changed."""
        return replace(self, **changes)


def _positive(symbol: str, name: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise_error("INVALID_PARAMETER",
                    f"symbol_spec.{name} of {symbol} must be a finite number > 0, got {v!r}")


_FIELD_NAMES = {f.name for f in fields(SymbolSpec)}


def coerce(obj: SymbolSpec | Mapping[str, Any], symbol: str | None = None) -> SymbolSpec:
    """A :class:`SymbolSpec` from a spec or a mapping of its fields (unknown keys are errors)."""
    if isinstance(obj, SymbolSpec):
        return obj
    if not isinstance(obj, Mapping):
        raise_error("INVALID_PARAMETER",
                    f"a symbol spec must be a SymbolSpec or a mapping, got {type(obj).__name__}")
    data = dict(obj)
    if symbol is not None:
        data.setdefault("symbol", symbol)
    unknown = sorted(set(data) - _FIELD_NAMES)
    if unknown:
        raise_error("UNKNOWN_CONFIG_FIELD",
                    f"symbol_spec.{unknown[0]} is not a symbol spec field "
                    f"(known: {', '.join(sorted(_FIELD_NAMES))})")
    missing = [n for n in ("symbol", "pip_size", "tick_size", "contract_size", "base_currency",
                           "quote_currency") if n not in data]
    if missing:
        raise_error("INVALID_PARAMETER", f"symbol_spec.{missing[0]} is required")
    return SymbolSpec(**data)


# --- built-in registry -------------------------------------------------------------------------

def _fx(symbol: str) -> SymbolSpec:
    base, quote = symbol[:3], symbol[3:]
    pip = 0.01 if quote == "JPY" else 0.0001
    tick = pip / 10
    return SymbolSpec(symbol, pip, tick, 100_000.0, base, quote, tick_value=100_000.0 * tick,
                      volume_min=0.01, volume_step=0.01, volume_max=100.0)


_FX = [
    # majors
    "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCHF", "USDCAD", "USDJPY",
    # crosses
    "EURGBP", "EURCHF", "EURAUD", "EURCAD", "EURNZD", "GBPCHF", "GBPAUD", "GBPCAD", "GBPNZD",
    "AUDCAD", "AUDCHF", "AUDNZD", "CADCHF", "NZDCAD", "NZDCHF",
    # JPY crosses
    "EURJPY", "GBPJPY", "AUDJPY", "NZDJPY", "CADJPY", "CHFJPY",
]


def _metal(symbol: str, pip: float, tick: float, contract: float) -> SymbolSpec:
    return SymbolSpec(symbol, pip, tick, contract, symbol[:3], "USD", tick_value=contract * tick,
                      volume_min=0.01, volume_step=0.01, volume_max=100.0)


def _index(symbol: str, currency: str) -> SymbolSpec:
    # Index CFDs: one index point is the "pip"; one lot moves 1 unit of currency per point.
    return SymbolSpec(symbol, 1.0, 0.01, 1.0, currency, currency, tick_value=0.01,
                      volume_min=0.1, volume_step=0.1, volume_max=500.0)


_BUILTIN: dict[str, SymbolSpec] = {s: _fx(s) for s in _FX}
_BUILTIN["XAUUSD"] = _metal("XAUUSD", 0.1, 0.01, 100.0)
_BUILTIN["XAGUSD"] = _metal("XAGUSD", 0.01, 0.001, 5000.0)
for _sym, _cur in [("US30", "USD"), ("US500", "USD"), ("NAS100", "USD"), ("US2000", "USD"),
                   ("GER40", "EUR"), ("UK100", "GBP"), ("FRA40", "EUR"), ("EU50", "EUR"),
                   ("ESP35", "EUR"), ("JP225", "JPY"), ("AUS200", "AUD"), ("HK50", "HKD")]:
    _BUILTIN[_sym] = _index(_sym, _cur)

#: A plausible starting price per built-in symbol (used by ``synthetic_bars``).
TYPICAL_PRICE: dict[str, float] = {
    "EURUSD": 1.10, "GBPUSD": 1.27, "AUDUSD": 0.66, "NZDUSD": 0.61, "USDCHF": 0.88,
    "USDCAD": 1.36, "USDJPY": 150.0, "EURGBP": 0.86, "EURCHF": 0.96, "EURAUD": 1.66,
    "EURCAD": 1.49, "EURNZD": 1.79, "GBPCHF": 1.12, "GBPAUD": 1.93, "GBPCAD": 1.73,
    "GBPNZD": 2.08, "AUDCAD": 0.90, "AUDCHF": 0.58, "AUDNZD": 1.08, "CADCHF": 0.65,
    "NZDCAD": 0.83, "NZDCHF": 0.54, "EURJPY": 163.0, "GBPJPY": 190.0, "AUDJPY": 99.0,
    "NZDJPY": 91.0, "CADJPY": 110.0, "CHFJPY": 170.0, "XAUUSD": 2000.0, "XAGUSD": 23.0,
    "US30": 38000.0, "US500": 4800.0, "NAS100": 17000.0, "US2000": 2000.0, "GER40": 16800.0,
    "UK100": 7600.0, "FRA40": 7500.0, "EU50": 4500.0, "ESP35": 10000.0, "JP225": 36000.0,
    "AUS200": 7500.0, "HK50": 16500.0,
}

_RUNTIME: dict[str, SymbolSpec] = {}


def register(spec: SymbolSpec | Mapping[str, Any]) -> SymbolSpec:
    """Registers (or replaces) a spec at run time; returns it."""
    s = coerce(spec)
    _RUNTIME[s.symbol] = s
    return s


def unregister(symbol: str) -> None:
    """Removes a run-time registration (built-ins and plugin specs stay)."""
    _RUNTIME.pop(symbol, None)


def _plugin_specs() -> dict[str, SymbolSpec]:
    from . import plugins

    out: dict[str, SymbolSpec] = {}
    for item in plugins.collect_symbol_specs():
        s = coerce(item)
        out[s.symbol] = s
    return out


def all_specs() -> dict[str, SymbolSpec]:
    """Every known spec by symbol (built-ins, overridden by plugins, overridden by run time)."""
    merged = dict(_BUILTIN)
    merged.update(_plugin_specs())
    merged.update(_RUNTIME)
    return merged


def symbols() -> list[str]:
    """Every known symbol, sorted."""
    return sorted(all_specs())


def get(symbol: str) -> SymbolSpec:
    """The spec of ``symbol``; :class:`~omega_engine.errors.UnknownSymbolError` (1002) if none."""
    if symbol in _RUNTIME:
        return _RUNTIME[symbol]
    plugin = _plugin_specs()
    if symbol in plugin:
        return plugin[symbol]
    if symbol in _BUILTIN:
        return _BUILTIN[symbol]
    known = list(_BUILTIN) + list(plugin) + list(_RUNTIME)
    close = difflib.get_close_matches(symbol, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise_error("UNKNOWN_SYMBOL",
                f"symbol {symbol!r} has no symbol spec{hint} (register one with "
                "oe.specs.register(...) or pass symbol_spec=...)")


def resolve_many(items: Iterable[SymbolSpec | Mapping[str, Any]] | Mapping[str, Any] | None,
                 ) -> dict[str, SymbolSpec]:
    """Specs given as a list, a mapping symbol → spec/mapping, or None (every known spec)."""
    if items is None:
        return all_specs()
    if isinstance(items, Mapping):
        return {sym: coerce(v, sym) for sym, v in items.items()}
    out = {}
    for v in items:
        s = coerce(v)
        out[s.symbol] = s
    return out
