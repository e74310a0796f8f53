"""Typed configs of the built-in strategies (the strategies themselves run in Rust).

Each class is a frozen dataclass whose :meth:`~Strategy.to_config` gives the ``strategy`` object
of a run config, ``{"name": ..., "params": {...}}``. Every price-based strategy takes its stops as
``sl_pips``/``tp_pips`` or ``sl_atr``/``tp_atr`` (multiples of ATR(``atr_period``)); unset stops
are left out of the config.

>>> from omega_engine.strategies import SmaCross
>>> SmaCross(10, 50, sl_pips=20, tp_pips=40).to_config()
{'name': 'sma_cross', 'params': {'sl_pips': 20, 'tp_pips': 40, 'fast': 10, 'slow': 50}}

The engine validates every value (ranges, consistency) and names the field on error; the classes
here only check types so that the config has the right JSON shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .errors import raise_error

__all__ = [
    "Strategy",
    "SmaCross",
    "EmaCross",
    "DonchianBreakout",
    "ZscoreReversion",
    "RsiReversion",
    "Signals",
    "BUILTIN",
    "by_name",
    "from_config",
    "preset",
    "presets",
]


# Field names per strategy class (dataclasses.fields() is slow for per-config use in big grids).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Strategy:
    """Base of the strategy configs. Subclasses set ``name`` and declare their parameters."""

    name: ClassVar[str] = ""
    _int_fields: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            where = f"strategy.params.{f.name}"
            if f.name in self._int_fields:
                if isinstance(v, bool) or not isinstance(v, int):
                    if isinstance(v, float) and v.is_integer():
                        object.__setattr__(self, f.name, int(v))
                        continue
                    raise_error("INVALID_CONFIG",
                                f"{where}: must be an integer, got {v!r} ({self.name})")
            elif f.name != "table":
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise_error("INVALID_CONFIG",
                                f"{where}: must be a finite number, got {v!r} ({self.name})")

    def params(self) -> dict[str, Any]:
        """The parameters that are set (None values left out), in declaration order."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        out = {}
        for name in names:
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        return out

    def to_config(self) -> dict[str, Any]:
        """The ``strategy`` object of a run config."""
        return {"name": self.name, "params": self.params()}

    def is_consistent(self) -> bool:
        """False for parameter combinations the engine rejects by construction (e.g. a fast
        average not faster than the slow one); :func:`omega_engine.grid` skips those."""
        return True


@dataclass(frozen=True, slots=True)
class _Stops(Strategy):
    sl_pips: float | None = field(default=None, kw_only=True)
    tp_pips: float | None = field(default=None, kw_only=True)
    sl_atr: float | None = field(default=None, kw_only=True)
    tp_atr: float | None = field(default=None, kw_only=True)
    atr_period: int | None = field(default=None, kw_only=True)


_STOP_INTS = frozenset({"atr_period"})


@dataclass(frozen=True, slots=True)
class SmaCross(_Stops):
    """Long when SMA(fast) of the bid closes crosses above SMA(slow), short when below."""

    name: ClassVar[str] = "sma_cross"
    _int_fields: ClassVar[frozenset[str]] = _STOP_INTS | {"fast", "slow"}
    fast: int
    slow: int

    def is_consistent(self) -> bool:
        return self.fast < self.slow


@dataclass(frozen=True, slots=True)
class EmaCross(_Stops):
    """Long when EMA(fast) crosses above EMA(slow), short when below."""

    name: ClassVar[str] = "ema_cross"
    _int_fields: ClassVar[frozenset[str]] = _STOP_INTS | {"fast", "slow"}
    fast: int
    slow: int

    def is_consistent(self) -> bool:
        return self.fast < self.slow


@dataclass(frozen=True, slots=True)
class DonchianBreakout(_Stops):
    """Stop entries at the previous ``lookback`` bars' high (long) and low (short); the orders
    live ``execution.pending_ttl_bars`` bars."""

    name: ClassVar[str] = "donchian_breakout"
    _int_fields: ClassVar[frozenset[str]] = _STOP_INTS | {"lookback"}
    lookback: int


@dataclass(frozen=True, slots=True)
class ZscoreReversion(_Stops):
    """z = (close − mean) / std over ``window``; long when z <= −z_entry, short when
    z >= z_entry. Market entries, or limit entries ``limit_offset_pips`` better than the close."""

    name: ClassVar[str] = "zscore_reversion"
    _int_fields: ClassVar[frozenset[str]] = _STOP_INTS | {"window"}
    window: int
    z_entry: float
    limit_offset_pips: float | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class RsiReversion(_Stops):
    """Long when RSI(period) crosses below ``lower``, short when it crosses above ``upper``."""

    name: ClassVar[str] = "rsi_reversion"
    _int_fields: ClassVar[frozenset[str]] = _STOP_INTS | {"period"}
    period: int
    lower: float
    upper: float

    def is_consistent(self) -> bool:
        return self.lower < self.upper


@dataclass(frozen=True, slots=True)
class Signals(Strategy):
    """Executes a precomputed signals table (DESIGN §3 schema) given to ``run``/``run_many`` as
    ``signals=`` (a table, or a mapping name → table); ``table`` names it."""

    name: ClassVar[str] = "signals"
    table: str = "signals"

    def __post_init__(self) -> None:
        if not isinstance(self.table, str) or not self.table:
            raise_error("INVALID_CONFIG",
                        "strategy.params.table: must be the name of a signals table given to "
                        f"run(..., signals=...), got {self.table!r}")


#: The built-in strategy classes by name.
BUILTIN: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (SmaCross, EmaCross, DonchianBreakout, ZscoreReversion, RsiReversion, Signals)
}


def by_name(name: str) -> type[Strategy]:
    """The class of a built-in strategy; UnknownStrategyError (1005) listing the known ones."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise_error("UNKNOWN_STRATEGY",
                    f"strategy.name: unknown strategy {name!r} (known: {', '.join(BUILTIN)})")


def from_config(obj: Mapping[str, Any]) -> Strategy:
    """A strategy object from ``{"name": ..., "params": {...}}``."""
    if not isinstance(obj, Mapping) or "name" not in obj:
        raise_error("INVALID_CONFIG", "strategy: must be a mapping with a name and params")
    unknown = set(obj) - {"name", "params"}
    if unknown:
        raise_error("UNKNOWN_CONFIG_FIELD", f"strategy.{sorted(unknown)[0]}: unknown field")
    cls = by_name(str(obj["name"]))
    params = dict(obj.get("params") or {})
    known = {f.name for f in fields(cls)}
    extra = sorted(set(params) - known)
    if extra:
        raise_error("UNKNOWN_CONFIG_FIELD",
                    f"strategy.params.{extra[0]}: unknown parameter of {cls.name} "
                    f"(known: {', '.join(sorted(known))})")
    try:
        return cls(**params)
    except TypeError as exc:
        raise_error("INVALID_CONFIG", f"strategy.params: {exc} ({cls.name})")


def presets() -> dict[str, Strategy]:
    """Every named strategy preset contributed by plugins (``omega_strategy_presets`` hook)."""
    from . import plugins

    out = {}
    for name, value in plugins.strategy_presets().items():
        out[name] = value if isinstance(value, Strategy) else from_config(value)
    return out


def preset(name: str) -> Strategy:
    """One named preset; UnknownPluginNameError (4002) listing the known names."""
    all_presets = presets()
    try:
        return all_presets[name]
    except KeyError:
        raise_error("UNKNOWN_PLUGIN_NAME",
                    f"no strategy preset named {name!r} (known: "
                    f"{', '.join(sorted(all_presets)) or 'none'})")
