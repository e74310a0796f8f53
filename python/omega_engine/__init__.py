"""omega_engine — a backtesting engine for FX/CFD strategies whose whole bar loop runs in Rust.

Python builds the configuration, Rust runs the loop, Python receives finished Arrow tables::

    import omega_engine as oe

    bars = oe.synthetic_bars("EURUSD", n=200_000, seed=7)   # or oe.load_bars(...)
    grid = oe.grid(oe.strategies.SmaCross, fast=range(5, 50, 5), slow=range(20, 200, 10),
                   sl_pips=[10, 20, 30], tp_pips=[20, 40, 60])
    result = oe.run_many(grid, bars, risk_per_trade=100.0, costs="ftmo_like", seed=42)
    result.summary   # pyarrow.Table, one row per config
    result.trades    # pyarrow.Table, every closed trade

Execution rules: SEMANTICS.md; data and result contracts: DESIGN.md and the README.
"""

from __future__ import annotations

from typing import Any

from . import _core, costs, errors, plugins, specs, strategies
from .config import grid, load_configs
from .data import Bars, Ticks, load_bars, load_ticks, synthetic_bars
from .errors import (
    ConfigError,
    DataError,
    EngineError,
    InputError,
    OmegaError,
    SchemaError,
)
from .plugins import hookimpl
from .run import OmegaWarning, RunResult, config_id, run, run_many
from .simulator import ExecutionSimulator
from .specs import SymbolSpec
from .strategies import (
    DonchianBreakout,
    EmaCross,
    RsiReversion,
    Signals,
    SmaCross,
    ZscoreReversion,
)

__version__: str = _core.__version__

__all__ = [
    "__version__",
    # data
    "Bars",
    "Ticks",
    "load_bars",
    "load_ticks",
    "synthetic_bars",
    "schemas",
    # specs
    "SymbolSpec",
    "specs",
    # configs and strategies
    "strategies",
    "SmaCross",
    "EmaCross",
    "DonchianBreakout",
    "ZscoreReversion",
    "RsiReversion",
    "Signals",
    "grid",
    "load_configs",
    "config_id",
    # runs
    "run",
    "run_many",
    "RunResult",
    "OmegaWarning",
    "ExecutionSimulator",
    # cost models
    "costs",
    # plugins
    "hookimpl",
    "plugins",
    # errors
    "errors",
    "OmegaError",
    "InputError",
    "ConfigError",
    "DataError",
    "SchemaError",
    "EngineError",
]


def schemas() -> dict[str, Any]:
    """Every Arrow schema that crosses the Rust/Python boundary, by name (pyarrow Schemas)."""
    return dict(_core.schemas())


def __getattr__(name: str) -> Any:
    # Modules owned by later features load on first use, so `import omega_engine` stays light.
    if name in ("walk_forward", "distributed", "report", "costs"):
        import importlib

        mod = importlib.import_module(f".{name}", __name__)
        value = getattr(mod, "walk_forward", mod) if name == "walk_forward" else mod
        # The import bound the submodule to the package; `oe.walk_forward` is the function.
        globals()[name] = value
        return value
    raise AttributeError(f"module 'omega_engine' has no attribute {name!r}")
