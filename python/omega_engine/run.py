"""``run`` and ``run_many``: configs in, Arrow tables out; the whole bar loop runs in Rust.

``run_many`` serializes the configs, hands them with the data to the engine in one call (the GIL
is released for the whole batch, configs fan out over a rayon pool), and wraps the three result
tables in a :class:`RunResult`. Results are in config order and byte-identical (Arrow IPC) for
the same inputs and seed, whatever the thread count or executor.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from . import config as _config
from . import costs as _costs
from . import data as _data
from .errors import error_class, raise_error, translate

__all__ = ["RunResult", "run", "run_many", "OmegaWarning", "Include"]

Include = Literal["summary", "trades", "equity"]
ProgressArg = bool | Callable[[int, int], None] | None


class OmegaWarning(UserWarning):
    """Warnings of omega_engine (e.g. some configs of a batch failed)."""


@dataclass
class RunResult:
    """The result of ``run``/``run_many``: three pyarrow Tables (see the README for columns).

    * ``summary``: one row per config, in config order: ``config_index``, ``config_id``, symbol,
      strategy, variant, the config's parameters, the metrics, ``error_code``/``error``;
    * ``trades``: every closed trade (None unless ``"trades"`` was included);
    * ``equity``: balance and equity per config and bar (None unless ``"equity"`` was included).

    ``configs`` holds the JSON text of each config as sent to the engine.
    """

    summary: pa.Table
    trades: pa.Table | None = None
    equity: pa.Table | None = None
    configs: list[str] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return int(self.summary.num_rows)

    def __repr__(self) -> str:
        parts = [f"summary={self.summary.num_rows} rows"]
        if self.trades is not None:
            parts.append(f"trades={self.trades.num_rows} rows")
        if self.equity is not None:
            parts.append(f"equity={self.equity.num_rows} rows")
        failed = self.failed().num_rows
        if failed:
            parts.append(f"failed={failed}")
        return f"RunResult({', '.join(parts)})"

    def _table(self, which: str) -> pa.Table:
        if which not in ("summary", "trades", "equity"):
            raise_error("INVALID_PARAMETER",
                        f"table: expected 'summary', 'trades' or 'equity', got {which!r}")
        t = getattr(self, which)
        if t is None:
            raise_error("INVALID_PARAMETER",
                        f"the {which} table was not requested: pass include=(..., {which!r})")
        return t

    def to_pandas(self, table: str = "summary") -> Any:
        """One table as a pandas DataFrame (``"summary"``, ``"trades"`` or ``"equity"``)."""
        return self._table(table).to_pandas()

    def to_polars(self, table: str = "summary") -> Any:
        """One table as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self._table(table))

    def config(self, index: int) -> dict[str, Any]:
        """The config of row ``index`` as sent to the engine."""
        return dict(json.loads(self.configs[index]))

    def failed(self) -> pa.Table:
        """The summary rows of configs that failed (``error_code`` not null)."""
        names = self.summary.column_names
        # null_count is metadata: a batch without failures (the common case) needs no filter.
        if "error_code" not in names or self.summary.column("error_code").null_count == len(self):
            return self.summary.slice(0, 0)
        return self.summary.filter(pc.is_valid(self.summary.column("error_code")))

    def raise_for_errors(self) -> None:
        """Raises the error of the first failed config, if any."""
        failed = self.failed()
        if failed.num_rows:
            code = failed.column("error_code")[0].as_py()
            message = failed.column("error")[0].as_py()
            raise error_class(code)(message, code=code)

    def best(self, metric: str = "sharpe", n: int = 10, *, ascending: bool = False) -> pa.Table:
        """The ``n`` best summary rows by ``metric`` (NaN and failed rows last)."""
        if metric not in self.summary.column_names:
            raise_error("INVALID_PARAMETER",
                        f"metric: {metric!r} is not a summary column "
                        f"({', '.join(self.summary.column_names)})")
        order = "ascending" if ascending else "descending"
        col = self.summary.column(metric)
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), None, col)
        t = self.summary.append_column("__key", col)
        t = t.sort_by([("__key", order), ("config_index", "ascending")])
        return t.drop_columns(["__key"]).slice(0, n)


def _include_flags(include: Iterable[str] | str) -> tuple[bool, bool]:
    items = {include} if isinstance(include, str) else set(include)
    unknown = items - {"summary", "trades", "equity"}
    if unknown:
        raise_error("INVALID_PARAMETER",
                    f"include: unknown table {sorted(unknown)[0]!r} (summary, trades, equity)")
    return "trades" in items, "equity" in items


def _threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise_error("INVALID_PARAMETER", f"threads: must be an integer >= 1, got {threads!r}")
    return threads


def _interactive() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """Adapts ``progress=`` to the engine's ``progress(done, total)`` callback."""

    def __init__(self, progress: ProgressArg, total: int) -> None:
        self.bar: Any = None
        self.user: Callable[[int, int], None] | None = None
        if callable(progress):
            self.user = progress
        elif progress is True or (progress is None and _interactive() and total > 1):
            from tqdm.auto import tqdm

            # Automatic bars wait half a second, so short batches never show one.
            self.bar = tqdm(total=total, unit="cfg", desc="omega_engine",
                            delay=0.0 if progress is True else 0.5, leave=progress is True)
        elif progress not in (None, False):
            raise_error("INVALID_PARAMETER",
                        f"progress: expected None, a bool or a callable, got {progress!r}")

    @property
    def callback(self) -> Callable[[int, int], None] | None:
        if self.bar is None and self.user is None:
            return None
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        if self.user is not None:
            self.user(done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _signal_tables(signals: Any) -> dict[str, pa.Table] | None:
    if signals is None:
        return None
    items: list[tuple[Any, Any]] = (
        list(signals.items()) if isinstance(signals, Mapping) else [("signals", signals)]
    )
    out = {}
    for name, table in items:
        out[str(name)] = _data.normalize_signals(_data.read_table(table, f"signals[{name!r}]"),
                                                 f"signals[{name!r}]")
    return out


def run_many(
    configs: Any,
    data: Any,
    *,
    threads: int | None = None,
    include: Sequence[str] | str = ("summary", "trades"),
    progress: ProgressArg = None,
    executor: Any = None,
    signals: Any = None,
    errors: Literal["warn", "raise", "ignore"] = "warn",
    **defaults: Any,
) -> RunResult:
    """Runs every config on its symbol's data and returns the result tables.

    Parameters
    ----------
    configs:
        Configs (mappings, strategy objects, dataclasses), a :func:`~omega_engine.grid`, or a
        TOML/JSON file path (see :mod:`omega_engine.config`).
    data:
        ``Bars`` (or ``Ticks``) of one symbol, or a mapping symbol → ``Bars``; each config runs
        on its ``symbol``'s data.
    threads:
        Size of the rayon pool (default: all cores).
    include:
        Which tables to build: ``"summary"`` always, ``"trades"`` and ``"equity"`` on request
        (equity has one row per config and bar).
    progress:
        None: a tqdm bar on interactive terminals; False: none; True: always; a callable
        ``progress(done, total)``, called on the calling thread.
    executor:
        A Dask ``distributed.Client`` or an ``oe.distributed`` executor to run the batch on a
        cluster (identical results).
    signals:
        Precomputed signals tables for the ``signals`` strategy: one table (named ``"signals"``)
        or a mapping name → table.
    errors:
        What to do when some configs fail (their summary rows carry ``error_code``/``error``):
        ``"warn"`` (default), ``"raise"`` the first failure, or ``"ignore"``.
    **defaults:
        Run-level config defaults (``risk_per_trade=50``, ``costs="ftmo_like"``, ``seed=42``,
        ``variant="v1_parity"``, ...; see :data:`omega_engine.config.SHORTCUTS`).
    """
    from . import plugins

    if errors not in ("warn", "raise", "ignore"):
        raise_error("INVALID_PARAMETER",
                    f"errors: expected 'warn', 'raise' or 'ignore', got {errors!r}")
    data_map = _data.as_data_map(data)
    bars = {s: v.core for s, v in data_map.items() if isinstance(v, _data.Bars)}
    ticks = {s: v.core for s, v in data_map.items() if isinstance(v, _data.Ticks)} or None
    include_trades, include_equity = _include_flags(include)
    nthreads = _threads(threads)
    items = _config.expand(configs)
    jsons = _config.prepare(items, defaults, list(data_map))
    sig = _signal_tables(signals)
    # PythonCallable cost models the configs refer to (a batch using one runs on one thread).
    callbacks = _costs.callbacks_for(jsons)
    if callbacks and executor is not None:
        raise_error("INVALID_PARAMETER",
                    "executor: PythonCallable cost models run only in the local process "
                    f"({', '.join(sorted(callbacks))}); use a Formula or run without executor")
    prog = _Progress(progress, len(jsons))
    try:
        with translate():
            if executor is None:
                summary, trades, equity = _core.run_many(
                    jsons, bars, ticks=ticks, signals=sig, threads=nthreads,
                    include_trades=include_trades, include_equity=include_equity,
                    progress=prog.callback, cost_callbacks=callbacks or None,
                )
            else:
                from .distributed import run_core

                summary, trades, equity = run_core(
                    executor, jsons, bars, ticks=ticks, signals=sig, threads=nthreads,
                    include_trades=include_trades, include_equity=include_equity,
                    progress=prog.callback,
                )
    finally:
        prog.close()
    result = RunResult(summary, trades, equity, jsons)
    if errors != "ignore":
        failed = result.failed()
        if failed.num_rows:
            if errors == "raise":
                result.raise_for_errors()
            first = failed.column("error")[0].as_py()
            warnings.warn(f"{failed.num_rows} of {len(result)} configs failed; the first: "
                          f"{first} (see result.failed())", OmegaWarning, stacklevel=2)
    return plugins.postprocess_result(result)


def run(config: Any, data: Any, *,
        include: Sequence[str] | str = ("summary", "trades", "equity"),
        signals: Any = None, **defaults: Any) -> RunResult:
    """Runs one config; raises its error (a coded :class:`~omega_engine.errors.OmegaError`) if it
    fails. Same keywords as :func:`run_many`; all three tables by default."""
    items = _config.expand(config)
    if len(items) != 1:
        raise_error("INVALID_PARAMETER",
                    f"config: run() takes one config, got {len(items)} (use run_many)")
    return run_many(items, data, include=include, progress=False, signals=signals,
                    errors="raise", **defaults)


def config_id(config: Any, data_symbol: str | None = None, **defaults: Any) -> str:
    """The engine's stable id (16 hex digits) of a config after defaults are applied."""
    items = _config.expand(config)
    if len(items) != 1:
        raise_error("INVALID_PARAMETER", "config_id: takes one config")
    jsons = _config.prepare(items, defaults, [data_symbol] if data_symbol else [])
    with translate():
        return _core.canonical_config(jsons[0])[1]
