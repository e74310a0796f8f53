"""Run configs: from dicts, dataclasses, strategy objects or TOML/JSON files to the engine's JSON.

A run config is one strategy with its parameters on one symbol (the schema the Rust loop parses,
``crates/loop/src/config.rs``)::

    {
      "symbol": "EURUSD",
      "symbol_spec": {"pip_size": 0.0001, "tick_size": 0.00001, "contract_size": 100000, ...},
      "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50, "sl_pips": 20}},
      "execution": {"variant": "v2", "pip_buffer_factor": 0.5, "market_fill": "signal_close",
                    "gap_fills": false, "pending_ttl_bars": null, "min_lot_policy": "reject"},
      "account": {"currency": "USD", "initial_balance": 100000, "risk_per_trade": 100,
                  "fx_rates": {"EURUSD": 1.08}},
      "costs": {"slippage": {"fixed_pips": 0.1, "random_pips": 0.2},
                "commission": {"default": {"schema": "per_lot", "rate": 3.5}}},
      "trade_management": {"max_holding_bars": 500, "break_even": {"trigger_pips": 10},
                           "trailing": {"distance_pips": 15}},
      "limits": {"max_open_positions": 1, "direction": "both"},
      "start": null, "end": null, "seed": 0
    }

Anything that can be a config: a mapping in that shape (``strategy`` may also be a strategy object
or a name with a ``params`` key beside it), a strategy object (``oe.strategies.SmaCross(...)``), a
dataclass (converted with ``dataclasses.asdict``), or a path to a ``.toml``/``.json`` file holding
one config, a list of them, or ``[[configs]]`` plus an optional ``[defaults]`` table.

Run-level keywords (``run_many(..., risk_per_trade=50, costs="ftmo_like", seed=42)``) are
defaults merged under every config (a config's own value wins); see :data:`SHORTCUTS` for the
names. ``symbol`` defaults to the data's symbol when the data holds one, ``symbol_spec`` to the
registry's spec of the symbol.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import specs as _specs
from . import strategies as _strategies
from .errors import raise_error
from .strategies import Strategy

__all__ = [
    "SHORTCUTS",
    "COST_PRESETS",
    "Grid",
    "grid",
    "load_configs",
    "normalize",
    "to_json",
    "resolve_costs",
    "to_timestamp_us",
]

#: Run-level keyword → path in the config.
SHORTCUTS: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol",),
    "symbol_spec": ("symbol_spec",),
    "strategy": ("strategy",),
    "execution": ("execution",),
    "account": ("account",),
    "costs": ("costs",),
    "trade_management": ("trade_management",),
    "limits": ("limits",),
    "start": ("start",),
    "end": ("end",),
    "seed": ("seed",),
    "variant": ("execution", "variant"),
    "execution_variant": ("execution", "variant"),
    "pip_buffer_factor": ("execution", "pip_buffer_factor"),
    "market_fill": ("execution", "market_fill"),
    "gap_fills": ("execution", "gap_fills"),
    "pending_ttl_bars": ("execution", "pending_ttl_bars"),
    "min_lot_policy": ("execution", "min_lot_policy"),
    "currency": ("account", "currency"),
    "account_currency": ("account", "currency"),
    "initial_balance": ("account", "initial_balance"),
    "risk_per_trade": ("account", "risk_per_trade"),
    "risk_percent": ("account", "risk_percent"),
    "fx_rates": ("account", "fx_rates"),
    "slippage": ("costs", "slippage"),
    "commission": ("costs", "commission"),
    "legacy_fee": ("costs", "legacy_fee"),
    "max_holding_bars": ("trade_management", "max_holding_bars"),
    "break_even": ("trade_management", "break_even"),
    "trailing": ("trade_management", "trailing"),
    "max_open_positions": ("limits", "max_open_positions"),
    "direction": ("limits", "direction"),
    "exit_on_opposite_signal": ("limits", "exit_on_opposite_signal"),
    "cooldown_bars": ("limits", "cooldown_bars"),
    "session_hours": ("limits", "session_hours"),
}

_TOP_LEVEL = ("symbol", "symbol_spec", "strategy", "execution", "account", "costs",
              "trade_management", "limits", "start", "end", "seed")

#: Built-in named cost models (plugins add more through the ``omega_cost_models`` hook).
COST_PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    # A typical prop-firm FX account: $2.50 per lot and side, a little slippage on every fill.
    "ftmo_like": {
        "slippage": {"fixed_pips": 0.0, "random_pips": 0.2},
        "commission": {"default": {"schema": "per_lot", "rate": 2.5, "side": "both"}},
    },
}


# --- conversions ---------------------------------------------------------------------------------

def to_timestamp_us(value: Any, field: str) -> int | None:
    """µs since the epoch (UTC) from an int (already µs), datetime, date, ISO string, numpy or
    pandas timestamp; None stays None. Naive datetimes are UTC."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise_error("INVALID_CONFIG", f"{field}: expected a time, got {value!r}")
    if isinstance(value, int):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    elif type(value).__name__ == "datetime64":  # numpy.datetime64
        import numpy as np

        return int(np.asarray(value).astype("datetime64[us]").astype(np.int64))
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise_error("INVALID_CONFIG", f"{field}: {value!r} is not an ISO date/time")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta: timedelta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, date):
        return to_timestamp_us(datetime(value.year, value.month, value.day), field)
    raise_error("INVALID_CONFIG", f"{field}: expected a time, got {type(value).__name__}")


def resolve_costs(costs: Any) -> Any:
    """A ``costs`` value: a mapping (kept), a name (built-in preset or plugin cost model), an
    object with ``to_config()`` (e.g. from ``omega_engine.costs``), or None."""
    if costs is None or isinstance(costs, Mapping):
        return costs
    if isinstance(costs, str):
        if costs in COST_PRESETS:
            return COST_PRESETS[costs]
        from . import plugins

        models = plugins.cost_models()
        if costs not in models:
            known = sorted(set(COST_PRESETS) | set(models))
            raise_error("UNKNOWN_PLUGIN_NAME",
                        f"costs: no cost model named {costs!r} (known: {', '.join(known)})")
        return resolve_costs(models[costs])
    to_config = getattr(costs, "to_config", None)
    if callable(to_config):
        return to_config()
    raise_error("INVALID_CONFIG",
                f"costs: expected a mapping, a cost model name or object, got "
                f"{type(costs).__name__}")


def _plain(value: Any, field: str) -> Any:
    """Converts values JSON cannot hold (dataclasses, tuples, numpy scalars, ranges)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise_error("INVALID_CONFIG", f"{field}: must be finite, got {value!r}")
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, Strategy):
        return value.to_config()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), field)
    to_config = getattr(value, "to_config", None)
    if callable(to_config):
        return _plain(to_config(), field)
    if isinstance(value, list | tuple | range):
        return [_plain(v, f"{field}[{i}]") for i, v in enumerate(value)]
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return _plain(item(), field)
    raise_error("INVALID_CONFIG", f"{field}: cannot be put in a config: {type(value).__name__}")


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        sub = target.get(key)
        if not isinstance(sub, dict):
            sub = {}
            target[key] = sub
        target = sub
    target[path[-1]] = value


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        b = out.get(k)
        if isinstance(b, Mapping) and isinstance(v, Mapping) and k not in ("strategy",):
            if k == "account" and ("risk_per_trade" in v or "risk_percent" in v):
                # A config's own risk setting replaces the default's (one of the two only).
                b = {kk: vv for kk, vv in b.items() if kk not in ("risk_per_trade", "risk_percent")}
            out[k] = _deep_merge(b, v)
        else:
            out[k] = v
    return out


def defaults_from_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Nested config defaults from run-level keywords (unknown keywords are 1004 errors)."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        path = SHORTCUTS.get(key)
        if path is None:
            raise_error("UNKNOWN_CONFIG_FIELD",
                        f"{key}: not a config field or run-level keyword (known: "
                        f"{', '.join(sorted(SHORTCUTS))})")
        if value is None and len(path) == 1 and key not in ("start", "end"):
            continue
        if key == "costs":
            value = resolve_costs(value)
        if key in ("risk_per_trade", "risk_percent") and value is not None:
            # Setting one risk mode drops the other one's default.
            other = "risk_percent" if key == "risk_per_trade" else "risk_per_trade"
            out.get("account", {}).pop(other, None)
        if key == "account" and isinstance(value, Mapping):
            value = _deep_merge(out.get("account", {}), value)
        _set_path(out, path, value)
    return out


# --- normalization -------------------------------------------------------------------------------

def _from_mapping(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    cfg = dict(obj)
    # Flat form: {"strategy": "sma_cross", "params": {...}, ...}
    strat = cfg.get("strategy")
    if isinstance(strat, str):
        params = cfg.pop("params", {}) or {}
        cfg["strategy"] = {"name": strat, "params": params}
    elif isinstance(strat, Strategy):
        cfg["strategy"] = strat.to_config()
    unknown = [k for k in cfg if k not in _TOP_LEVEL]
    if unknown:
        # Allow shortcut keys inside a config too (e.g. {"strategy": ..., "risk_per_trade": 50}).
        short = {k: cfg.pop(k) for k in list(unknown) if k in SHORTCUTS}
        rest = [k for k in unknown if k not in short]
        if rest:
            raise_error("UNKNOWN_CONFIG_FIELD",
                        f"{where}{rest[0]}: unknown config field (known: {', '.join(_TOP_LEVEL)})")
        cfg = _deep_merge(cfg, defaults_from_kwargs(short))
    return cfg


def normalize(obj: Any, *, where: str = "") -> dict[str, Any]:
    """One config object → a plain config mapping (not yet merged with defaults)."""
    if isinstance(obj, Strategy):
        return {"strategy": obj.to_config()}
    if isinstance(obj, Mapping):
        return _from_mapping(obj, where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _from_mapping(dataclasses.asdict(obj), where)
    to_config = getattr(obj, "to_config", None)
    if callable(to_config):
        return normalize(to_config(), where=where)
    raise_error("INVALID_CONFIG",
                f"{where or 'config'}: expected a mapping, a strategy object or a dataclass, got "
                f"{type(obj).__name__}")


def _finish(cfg: dict[str, Any], symbols: Sequence[str], where: str,
            spec_cache: dict[tuple[str, str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Fills symbol and symbol_spec, converts times and costs; returns a JSON-ready mapping.
    ``spec_cache`` keeps registry lookups of one batch (plugins are asked once per symbol)."""
    if "strategy" not in cfg:
        raise_error("INVALID_CONFIG", f"{where}strategy: is required")
    if "symbol" not in cfg:
        if len(symbols) == 1:
            cfg["symbol"] = symbols[0]
        else:
            raise_error("INVALID_CONFIG",
                        f"{where}symbol: is required when the data holds "
                        f"{'no symbol' if not symbols else 'several symbols'}")
    symbol = cfg["symbol"]
    if not isinstance(symbol, str):
        raise_error("INVALID_CONFIG", f"{where}symbol: must be a string, got {symbol!r}")
    currency = (cfg.get("account") or {}).get("currency", "USD")
    spec = cfg.get("symbol_spec")
    if spec is None:
        cache_key = (symbol, currency)
        if spec_cache is not None and cache_key in spec_cache:
            cfg["symbol_spec"] = spec_cache[cache_key]
        else:
            cfg["symbol_spec"] = _specs.get(symbol).to_config(currency)
            if spec_cache is not None:
                spec_cache[cache_key] = cfg["symbol_spec"]
    elif isinstance(spec, _specs.SymbolSpec):
        cfg["symbol_spec"] = spec.to_config(currency)
    if "costs" in cfg:
        cfg["costs"] = resolve_costs(cfg["costs"])
    for key in ("start", "end"):
        if key in cfg:
            cfg[key] = to_timestamp_us(cfg[key], f"{where}{key}")
    return cfg


def to_json(cfg: Mapping[str, Any]) -> str:
    """The compact JSON text the engine parses."""
    try:
        return json.dumps(cfg, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_plain(cfg, "config"), separators=(",", ":"), allow_nan=False)


class _Prepared:
    """Configs merged with defaults and serialized, plus what the result needs."""

    __slots__ = ("jsons", "signal_tables")

    def __init__(self, jsons: list[str], signal_tables: dict[str, Any]) -> None:
        self.jsons = jsons
        self.signal_tables = signal_tables


def prepare(configs: Iterable[Any], defaults: Mapping[str, Any],
            symbols: Sequence[str]) -> list[str]:
    """Every config merged over ``defaults``, completed and serialized (in order).

    Strategy objects take a fast path: the shared part (symbol, spec, account, costs, ...) is
    serialized once, only the strategy object per config.
    """
    base = defaults_from_kwargs(defaults)
    base_strategy = base.pop("strategy", None)
    out: list[str] = []
    fast_prefix: str | None = None
    spec_cache: dict[tuple[str, str], dict[str, Any]] = {}
    for i, obj in enumerate(configs):
        if isinstance(obj, Strategy):
            if fast_prefix is None:
                shared = _finish(dict(base, strategy=None), symbols, "", spec_cache)
                shared.pop("strategy")
                shared_json = to_json(_plain(shared, "config"))
                fast_prefix = shared_json[:-1] + ("," if len(shared_json) > 2 else "")
            out.append(f'{fast_prefix}"strategy":{_strategy_json(obj)}}}')
            continue
        where = f"configs[{i}]."
        cfg = normalize(obj, where=where)
        merged = _deep_merge(base, cfg)
        if "strategy" not in merged and base_strategy is not None:
            merged["strategy"] = base_strategy
        out.append(to_json(_plain(_finish(merged, symbols, where, spec_cache), "config")))
    return out


def _strategy_json(s: Strategy) -> str:
    return json.dumps(s.to_config(), separators=(",", ":"), allow_nan=False)


# --- grids ---------------------------------------------------------------------------------------

class Grid(Sequence[Strategy]):
    """The cartesian product of parameter lists for one strategy (see :func:`grid`)."""

    def __init__(self, strategy: type[Strategy], params: Mapping[str, Sequence[Any]],
                 skip_inconsistent: bool = True) -> None:
        self.strategy = strategy
        self.params = {k: list(v) for k, v in params.items()}
        items = []
        names = list(self.params)
        for combo in itertools.product(*self.params.values()):
            s = strategy(**dict(zip(names, combo, strict=True)))
            if skip_inconsistent and not s.is_consistent():
                continue
            items.append(s)
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: Any) -> Any:
        return self._items[i]

    def __iter__(self) -> Iterator[Strategy]:
        return iter(self._items)

    def __repr__(self) -> str:
        sizes = " × ".join(f"{k}[{len(v)}]" for k, v in self.params.items())
        return f"Grid({self.strategy.__name__}: {sizes} → {len(self)} configs)"


def grid(strategy: type[Strategy] | str, *, skip_inconsistent: bool = True,
         **param_lists: Any) -> Grid:
    """Every combination of the given parameter values, as strategy objects.

    >>> g = grid(SmaCross, fast=[5, 10], slow=[20, 50], sl_pips=[10])
    >>> len(g)
    4

    A scalar counts as a one-value list. Combinations the strategy rejects by construction (a fast
    average not faster than the slow one) are skipped unless ``skip_inconsistent=False``.
    """
    cls = _strategies.by_name(strategy) if isinstance(strategy, str) else strategy
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise_error("INVALID_CONFIG",
                    f"grid: strategy must be a strategy class or name, got {strategy!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    lists: dict[str, Sequence[Any]] = {}
    for name, values in param_lists.items():
        if name not in known:
            raise_error("UNKNOWN_CONFIG_FIELD",
                        f"strategy.params.{name}: unknown parameter of {cls.name} "
                        f"(known: {', '.join(sorted(known))})")
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            values = [values]
        lists[name] = list(values)
        if not lists[name]:
            raise_error("INVALID_CONFIG", f"strategy.params.{name}: the value list is empty")
    return Grid(cls, lists, skip_inconsistent)


# --- files ---------------------------------------------------------------------------------------

def load_configs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Configs from a TOML or JSON file.

    TOML: either one config at the top level, or ``[[configs]]`` tables with an optional
    ``[defaults]`` table merged under each. JSON: one config object or a list of them.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise_error("INVALID_CONFIG", f"config file {str(p)!r} cannot be read: {exc.strerror}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(raw)
        else:
            raise_error("INVALID_CONFIG",
                        f"config file {str(p)!r}: expected a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise_error("INVALID_CONFIG", f"config file {str(p)!r} is not valid {suffix[1:]}: {exc}")
    if isinstance(data, list):
        items, defaults = data, {}
    elif isinstance(data, dict) and "configs" in data:
        items = data["configs"]
        defaults = data.get("defaults", {})
        extra = set(data) - {"configs", "defaults"}
        if extra:
            raise_error("UNKNOWN_CONFIG_FIELD",
                        f"config file {str(p)!r}: unknown top-level key {sorted(extra)[0]!r} "
                        "beside configs/defaults")
    else:
        items, defaults = [data], {}
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise_error("INVALID_CONFIG", f"config file {str(p)!r}: configs[{i}] is not a table")
        cfg = normalize(item, where=f"configs[{i}].")
        out.append(_deep_merge(normalize(defaults, where="defaults.") if defaults else {}, cfg)
                   if defaults else cfg)
    return out


def expand(configs: Any) -> list[Any]:
    """``configs`` as a list: one config, a sequence of them, a Grid, or a file path."""
    if isinstance(configs, str | os.PathLike):
        return list(load_configs(configs))
    if isinstance(configs, Mapping | Strategy) or (
        dataclasses.is_dataclass(configs) and not isinstance(configs, type)
    ):
        return [configs]
    if isinstance(configs, Iterable):
        out: list[Any] = []
        for c in configs:
            if isinstance(c, str | os.PathLike):
                out.extend(load_configs(c))
            else:
                out.append(c)
        return out
    raise_error("INVALID_CONFIG",
                f"configs: expected configs, a grid or a file path, got {type(configs).__name__}")
