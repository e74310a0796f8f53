"""Walk-forward optimization: rolling or anchored train/test windows over one timeline.

For each window the whole candidate set runs in sample (through :func:`omega_engine.run_many`),
the best candidate by the objective is chosen (ties broken by the objective, then the lowest
``config_index``), and only the chosen configs run out of sample. Every run sees a physical slice
of the data that ends with its window, so no run can look past its window; the bars before each
window start are warm-up only (config ``start``), so indicators are valid when the window opens.

The window arithmetic is a pure function, :func:`compute_windows`, over the bars' timestamps.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Window",
    "WalkForwardResult",
    "compute_windows",
    "parse_length",
    "walk_forward",
]

_US = 1
_UNITS_US: dict[str, int] = {
    "us": _US,
    "ms": 1_000,
    "s": 1_000_000,
    "sec": 1_000_000,
    "min": 60_000_000,
    "t": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 7 * 86_400_000_000,
}
_LENGTH_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_YEAR_US = 365.25 * 86_400_000_000


def _window_error(message: str) -> Exception:
    """The coded 1009 INVALID_WINDOW exception of the errors module."""
    from . import errors

    return errors.make_error(1009, message)


@dataclass(frozen=True)
class Length:
    """A window length: either a number of bars or a duration in microseconds."""

    value: int
    unit: Literal["bars", "us"]

    def __str__(self) -> str:
        return f"{self.value} bars" if self.unit == "bars" else _format_us(self.value)


def _format_us(us: int) -> str:
    for suffix, size in (("W", _UNITS_US["w"]), ("D", _UNITS_US["d"]), ("H", _UNITS_US["h"]),
                         ("min", _UNITS_US["min"]), ("s", _UNITS_US["s"])):
        if us % size == 0:
            return f"{us // size}{suffix}"
    return f"{us}us"


def parse_length(value: int | str | timedelta | Length, name: str, *, allow_zero: bool = False
                 ) -> Length:
    """Parses a window length: an int (bars), a string of digits (bars), a duration string such as
    ``"90D"``, ``"12H"``, ``"30min"``, ``"2W"``, ``"45s"`` or a ``timedelta``.

    Months and years are refused because their length varies; use days.
    Raises the coded 1009 INVALID_WINDOW error naming ``name`` for anything else.
    """
    if isinstance(value, Length):
        parsed = value
    elif isinstance(value, bool):
        raise _window_error(f"{name} must be a bar count or a duration, got {value!r}")
    elif isinstance(value, int | np.integer):
        parsed = Length(int(value), "bars")
    elif isinstance(value, timedelta):
        parsed = Length(int(value // timedelta(microseconds=1)), "us")
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            parsed = Length(int(text), "bars")
        else:
            match = _LENGTH_RE.match(text)
            unit = match.group(2).lower() if match else ""
            if unit in ("bar", "bars"):
                assert match is not None
                parsed = Length(int(float(match.group(1))), "bars")
            elif match is None or unit not in _UNITS_US:
                raise _window_error(
                    f"{name}={value!r} is not a bar count or a duration like '90D', '12H', "
                    "'30min', '2W' (units: us, ms, s, min, H, D, W; months/years vary in length)"
                )
            else:
                parsed = Length(int(round(float(match.group(1)) * _UNITS_US[unit])), "us")
    else:
        raise _window_error(f"{name} must be a bar count or a duration, got {type(value).__name__}")
    if parsed.value < 0 or (parsed.value == 0 and not allow_zero):
        raise _window_error(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return parsed


@dataclass(frozen=True)
class Window:
    """One walk-forward window as bar indices into the timeline (ends exclusive).

    ``train_warmup`` / ``test_warmup`` are the first bars fed to the in-sample / out-of-sample run:
    the bars from there up to ``train_start`` / ``test_start`` only warm the indicators up.
    """

    window_id: int
    train_warmup: int
    train_start: int
    train_end: int
    test_warmup: int
    test_start: int
    test_end: int
    partial: bool

    @property
    def train_bars(self) -> int:
        return self.train_end - self.train_start

    @property
    def test_bars(self) -> int:
        return self.test_end - self.test_start


def _warmup_start(ts: np.ndarray, start: int, warmup: Length) -> int:
    if warmup.unit == "bars":
        return max(0, start - warmup.value)
    return int(np.searchsorted(ts, ts[start] - warmup.value, side="left"))


def compute_windows(
    timestamps: Sequence[int] | np.ndarray | pa.Array,
    *,
    train: int | str | timedelta | Length,
    test: int | str | timedelta | Length,
    step: int | str | timedelta | Length | None = None,
    anchored: bool = False,
    gap: int | str | timedelta | Length = 0,
    warmup: int | str | timedelta | Length = 0,
    partial: bool = True,
) -> list[Window]:
    """The walk-forward windows over ``timestamps`` (bar open times, µs, strictly increasing).

    Window k (0-based) with origin o, the first bar after the initial warm-up:

    - train: rolling ``[o + k*step, o + train + k*step)``; anchored ``[o, o + train + k*step)``;
    - test: ``[train_end + gap, train_end + gap + test)``; ``step`` defaults to ``test`` so the
      test windows tile the data without overlap.

    Lengths are all bar counts (positions on the timeline) or all durations (times; a window covers
    the bars whose open time falls inside it). The last test window is *partial* when the data ends
    before it does: it is kept, truncated and flagged, when ``partial`` is true, and dropped
    otherwise. Duration windows that hold no bar (a weekend) are skipped. When not a single window
    fits, raises 1009 INVALID_WINDOW saying what was needed.
    """
    ts = _as_int64(timestamps)
    n = len(ts)
    train_l = parse_length(train, "train")
    test_l = parse_length(test, "test")
    step_l = test_l if step is None else parse_length(step, "step")
    gap_l = parse_length(gap, "gap", allow_zero=True)
    warm_l = parse_length(warmup, "warmup", allow_zero=True)
    kinds = {train_l.unit, test_l.unit, step_l.unit}
    if gap_l.value:
        kinds.add(gap_l.unit)
    if len(kinds) > 1:
        raise _window_error(
            f"train={train_l}, test={test_l}, step={step_l}, gap={gap_l}: use bar counts for all "
            "of them or durations for all of them"
        )
    if n > 1 and np.any(np.diff(ts) <= 0):
        raise _window_error("timestamps must be strictly increasing to cut windows")
    # The first window starts after the initial warm-up so that its indicators are valid too.
    if warm_l.unit == "bars":
        origin = min(warm_l.value, n)
    else:
        origin = int(np.searchsorted(ts, ts[0] + warm_l.value, side="left")) if n else 0

    windows: list[Window] = []
    if train_l.unit == "bars":
        k = 0
        while True:
            tr_s = origin if anchored else origin + k * step_l.value
            tr_e = origin + train_l.value + k * step_l.value
            te_s = tr_e + gap_l.value
            te_e = te_s + test_l.value
            if te_s >= n:
                break
            is_partial = te_e > n
            if is_partial and not partial:
                break
            windows.append(_make_window(len(windows), ts, tr_s, tr_e, te_s, min(te_e, n),
                                        is_partial, warm_l))
            if is_partial:
                break
            k += 1
    elif n:
        # The data covers up to the last bar's close; the bar length is the smallest step.
        bar_us = int(np.min(np.diff(ts))) if n > 1 else 1
        covered_until = int(ts[-1]) + bar_us
        o_t = int(ts[origin]) if origin < n else covered_until
        k = 0
        while True:
            tr_s_t = o_t if anchored else o_t + k * step_l.value
            tr_e_t = o_t + train_l.value + k * step_l.value
            te_s_t = tr_e_t + gap_l.value
            te_e_t = te_s_t + test_l.value
            if te_s_t >= covered_until:
                break
            tr_s, tr_e, te_s, te_e = (int(i) for i in np.searchsorted(
                ts, [tr_s_t, tr_e_t, te_s_t, te_e_t], side="left"))
            is_partial = te_e_t > covered_until
            if is_partial and not partial:
                break
            if tr_e > tr_s and te_e > te_s:
                windows.append(_make_window(len(windows), ts, tr_s, tr_e, te_s, te_e,
                                            is_partial, warm_l))
            if is_partial:
                break
            k += 1
    if not windows:
        raise _window_error(
            f"not a single window fits: train={train_l} + gap={gap_l} + test={test_l} "
            f"(warm-up {warm_l}) needs more than the {n} bars given"
            + ("" if partial else " (partial=False drops a truncated last window)")
        )
    return windows


def _make_window(wid: int, ts: np.ndarray, tr_s: int, tr_e: int, te_s: int, te_e: int,
                 is_partial: bool, warm: Length) -> Window:
    return Window(
        window_id=wid,
        train_warmup=_warmup_start(ts, tr_s, warm),
        train_start=tr_s,
        train_end=tr_e,
        test_warmup=_warmup_start(ts, te_s, warm),
        test_start=te_s,
        test_end=te_e,
        partial=is_partial,
    )


def _as_int64(timestamps: Any) -> np.ndarray:
    if isinstance(timestamps, pa.ChunkedArray):
        timestamps = timestamps.combine_chunks()
    if isinstance(timestamps, pa.Array):
        if pa.types.is_timestamp(timestamps.type):
            timestamps = timestamps.cast(pa.timestamp("us", tz=timestamps.type.tz))
        timestamps = timestamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return np.asarray(timestamps).astype(np.int64, copy=False)


# ---------------------------------------------------------------------------------------------
# The optimization


Objective = str | Callable[[pa.Table], Any]

_TS = pa.timestamp("us", tz="UTC")
# Strategy parameters that are indicator lengths (bars of history an indicator needs).
_LOOKBACK_PARAMS = ("fast", "slow", "lookback", "window", "period", "atr_period")
_IS_METRICS = ("net_profit", "return_pct", "trades", "sharpe", "max_drawdown_pct")
_OOS_METRICS = ("net_profit", "return_pct", "trades", "win_rate", "sharpe", "sortino",
                "max_drawdown_pct", "profit_factor")
# Trials asked from optuna per engine batch: fixed (not tied to the thread count) so that the
# sampler sees the same history, and proposes the same trials, on every machine.
_OPTUNA_BATCH = 16


@dataclass(frozen=True)
class WalkForwardResult:
    """The outcome of :func:`walk_forward`; every table is a ``pyarrow.Table``.

    * ``windows``: one row per window and rank (``top_k`` rows per window): ``window_id``,
      ``rank``, ``status`` (``ok``, ``no_candidate`` when no config qualified in sample,
      ``account_depleted``), ``train_start``/``train_end``/``test_start``/``test_end`` (open
      times of the first and last bar of each range), ``train_bars``, ``test_bars``, ``partial``,
      ``candidates`` (configs evaluated in sample), ``failed`` (of those, runs that ended in
      an error: invalid configs are refused up front), ``qualified`` (passing ``min_trades``
      with a finite objective), the chosen ``config_index`` (position in the configs given) and
      ``config_id`` (the config's id without window bounds), its parameters, ``objective`` (in
      sample), ``is_*`` and ``oos_*`` metrics, ``is_annualized_pct``, ``oos_annualized_pct`` and
      ``efficiency`` (their ratio);
    * ``oos_trades``: the out-of-sample trades of every window (``window_id``, ``rank``,
      ``config_index``, ``config_id`` as in ``windows``, ``run_config_id`` of the OOS run, then
      the engine's trade columns);
    * ``oos_equity``: ``window_id``, ``timestamp``, ``balance``, ``equity`` of one continuous
      account over all test windows (each window starts with the balance the previous one ended
      with; flat where no config was chosen);
    * ``is_equity``: the in-sample equity of each window's rank-1 config (for the report);
    * ``param_stability``: per parameter and chosen value: ``times_chosen``, ``share``, and per
      parameter ``switch_rate`` (how often the value changed between consecutive windows),
      ``mean_abs_change`` and ``normalized_change`` (mean absolute move / range of the values
      searched);
    * ``in_sample``: every in-sample summary row with its ``window_id`` (only with
      ``keep_in_sample=True``, else None).

    ``efficiency`` is the walk-forward efficiency: annualized out-of-sample return of the stitched
    account over the mean annualized in-sample return of the chosen configs (NaN when the latter
    is not positive). ``oos_summary`` holds the stitched account's headline numbers.
    """

    windows: pa.Table
    oos_trades: pa.Table
    oos_equity: pa.Table
    is_equity: pa.Table
    param_stability: pa.Table
    efficiency: float
    oos_summary: dict[str, Any]
    objective: str
    param_names: tuple[str, ...]
    in_sample: pa.Table | None = None
    data: Any = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        chosen = self.windows.filter(pc.equal(self.windows["status"], "ok")).num_rows
        return (f"WalkForwardResult(windows={self.windows.num_rows}, chosen={chosen}, "
                f"oos_trades={self.oos_trades.num_rows}, "
                f"oos_return_pct={self.oos_summary.get('return_pct', math.nan):.4g}, "
                f"efficiency={self.efficiency:.4g})")

    def to_pandas(self, table: str = "windows") -> Any:
        """One table as a pandas DataFrame."""
        return getattr(self, table).to_pandas()


def _param_error(message: str) -> Exception:
    from . import errors

    return errors.make_error(1001, message)


def _auto_warmup(bases: Sequence[dict[str, Any]]) -> int:
    """Bars of history the candidates' indicators need: the longest indicator length (three
    times it for EMAs, whose memory decays geometrically), plus one bar to detect a cross."""
    need = 0
    for cfg in bases:
        strat = cfg.get("strategy") or {}
        params = strat.get("params") or {}
        lengths = [int(v) for k, v in params.items()
                   if k in _LOOKBACK_PARAMS and isinstance(v, int | float) and math.isfinite(v)]
        if not lengths:
            continue
        longest = max(lengths)
        if strat.get("name") == "ema_cross":
            longest *= 3
        need = max(need, longest + 1)
    return need


class _Timeline:
    """The common time axis of the data and zero-copy slices of every symbol's bars."""

    def __init__(self, data: Any) -> None:
        from . import data as _data

        given = _data.as_data_map(data)
        if not given:
            raise _window_error("data holds no symbol")
        self.map: dict[str, _data.Bars] = {}
        self.per_symbol: dict[str, np.ndarray] = {}
        for sym, bars in given.items():
            if not isinstance(bars, _data.Bars):
                raise _window_error(f"data[{sym!r}]: walk_forward needs bars, not ticks")
            self.map[sym] = bars
            self.per_symbol[sym] = _as_int64(bars.timestamps())
        arrays = list(self.per_symbol.values())
        self.ts = arrays[0] if len(arrays) == 1 else np.unique(np.concatenate(arrays))
        self.bar_us = int(np.min(np.diff(self.ts))) if len(self.ts) > 1 else 1

    def slice(self, first: int, end: int) -> dict[str, Any]:
        """Every symbol's bars with open times in ``[ts[first], ts[end - 1]]``."""
        t0, t1 = int(self.ts[first]), int(self.ts[end - 1])
        out = {}
        for sym, bars in self.map.items():
            own = self.per_symbol[sym]
            a = int(np.searchsorted(own, t0, side="left"))
            b = int(np.searchsorted(own, t1, side="right"))
            out[sym] = bars.slice(a, b)
        return out

    def years(self, first: int, end: int) -> float:
        return (int(self.ts[end - 1]) - int(self.ts[first]) + self.bar_us) / _YEAR_US


def _scores(summary: pa.Table, objective: Objective) -> np.ndarray:
    if callable(objective):
        try:
            raw = objective(summary)
        except Exception as exc:  # the user's callable: report it with the code
            raise _param_error(f"objective: the callable raised {type(exc).__name__}: {exc}"
                               ) from exc
        if isinstance(raw, pa.ChunkedArray | pa.Array):
            raw = raw.to_numpy(zero_copy_only=False)
        values = np.asarray(raw, dtype=np.float64)
        if values.shape != (summary.num_rows,):
            raise _param_error(f"objective: the callable must return one number per summary row "
                               f"({summary.num_rows}), got shape {values.shape}")
        return values
    sign = 1.0
    name = objective
    if name.startswith("-"):
        sign, name = -1.0, name[1:]
    if name not in summary.column_names:
        metrics = [c for c in summary.column_names if c not in ("config_id", "symbol",
                                                                 "strategy", "variant", "error")]
        raise _param_error(f"objective: {objective!r} is not a summary column (use one of "
                           f"{', '.join(metrics)}, '-name' to minimize, or a callable)")
    col = summary[name]
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise _param_error(f"objective: column {name!r} is not numeric")
    arr = col.cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)
    return sign * np.asarray(arr, dtype=np.float64)


def _qualified(summary: pa.Table, scores: np.ndarray, min_trades: int) -> np.ndarray:
    ok = np.isfinite(scores)
    if "error_code" in summary.column_names:
        ok &= np.asarray(summary["error_code"].is_null().to_numpy(zero_copy_only=False))
    if min_trades > 0 and "trades" in summary.column_names:
        trades = summary["trades"].cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
        ok &= np.asarray(trades) >= min_trades
    return np.asarray(ok, dtype=bool)


def rank_candidates(scores: np.ndarray, ok: np.ndarray, config_index: np.ndarray,
                    top_k: int) -> np.ndarray:
    """Positions of the ``top_k`` best qualified rows: by score descending, ties by the lowest
    ``config_index`` (deterministic whatever the order the rows arrive in)."""
    rows = np.flatnonzero(ok)
    if not len(rows):
        return rows
    order = np.lexsort((config_index[rows], -scores[rows]))
    return rows[order[:top_k]]


def _params_of(cfg: dict[str, Any]) -> dict[str, Any]:
    strat = cfg.get("strategy") or {}
    return dict(strat.get("params") or {})


def _with_range(cfg: dict[str, Any], start: int, end: int,
                balance: float | None = None) -> dict[str, Any]:
    out = dict(cfg, start=start, end=end)
    if balance is not None:
        out["account"] = dict(cfg.get("account") or {}, initial_balance=balance)
    return out


def _with_column(table: pa.Table, name: str, values: Any, pos: int = 0) -> pa.Table:
    if name in table.column_names:
        table = table.drop_columns([name])
    return table.add_column(pos, name, values)


class _Evaluator:
    """Runs the in-sample batches of one window and keeps what they returned."""

    def __init__(self, bases: Sequence[dict[str, Any]], data: dict[str, Any], start: int,
                 end: int, run_kwargs: dict[str, Any], objective: Objective,
                 min_trades: int) -> None:
        self.bases = bases
        self.data = data
        self.start, self.end = start, end
        self.run_kwargs = run_kwargs
        self.objective = objective
        self.min_trades = min_trades
        self.tables: list[pa.Table] = []
        self.score: dict[int, float | None] = {}

    def evaluate(self, indices: Sequence[int]) -> None:
        from .run import run_many

        todo = [i for i in indices if i not in self.score]
        if not todo:
            return
        cfgs = [_with_range(self.bases[i], self.start, self.end) for i in todo]
        res = run_many(cfgs, self.data, include="summary", errors="ignore", **self.run_kwargs)
        summary = _with_column(res.summary, "config_index", pa.array(todo, pa.uint64()))
        scores = _scores(summary, self.objective)
        ok = _qualified(summary, scores, self.min_trades)
        for i, s, good in zip(todo, scores, ok, strict=True):
            self.score[i] = float(s) if good else None
        self.tables.append(summary.append_column("objective", pa.array(scores, pa.float64())))

    def summary(self) -> pa.Table:
        if len(self.tables) == 1:
            return self.tables[0]
        return pa.concat_tables(self.tables, promote_options="default")


def _grid_search(ev: _Evaluator) -> None:
    ev.evaluate(range(len(ev.bases)))


def _optuna_search(ev: _Evaluator, n_trials: int, seed: int) -> None:
    try:
        import optuna
    except ImportError as exc:
        raise ImportError("search='optuna' needs optuna: pip install 'omega-engine[optuna]'"
                          ) from exc
    params = [_params_of(b) for b in ev.bases]
    names = sorted({k for p in params for k in p})
    combos: dict[tuple[Any, ...], int] = {}
    for i, p in enumerate(params):
        combos.setdefault(tuple(p.get(k) for k in names), i)
    if len(combos) == len(ev.bases) and names:
        space = {k: sorted({p.get(k) for p in params if p.get(k) is not None},
                           key=lambda v: (isinstance(v, str), v)) for k in names}
        # A parameter missing from some configs cannot be suggested: fall back to the index.
        if any(p.get(k) is None for p in params for k in names):
            space = {}
    else:
        space = {}

    def pick(trial: Any) -> int | None:
        if not space:
            return int(trial.suggest_categorical("config_index", list(range(len(ev.bases)))))
        key = tuple(trial.suggest_categorical(k, space[k]) for k in names)
        return combos.get(key)

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        asked = 0
        while asked < n_trials:
            batch = []
            for _ in range(min(_OPTUNA_BATCH, n_trials - asked)):
                trial = study.ask()
                asked += 1
                batch.append((trial, pick(trial)))
            ev.evaluate(sorted({i for _, i in batch if i is not None}))
            for trial, idx in batch:
                value = None if idx is None else ev.score.get(idx)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
    finally:
        optuna.logging.set_verbosity(previous)


def _window_progress(progress: Any, total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    if callable(progress):
        return (lambda done: progress(done, total)), (lambda: None)
    interactive = False
    try:
        interactive = sys.stderr.isatty()
    except (AttributeError, ValueError):
        pass
    if progress is True or (progress is None and interactive):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="window", desc="walk-forward", leave=progress is True)
        return (lambda done: bar.update(done - bar.n)), bar.close
    if progress not in (None, False):
        raise _param_error(f"progress: expected None, a bool or a callable, got {progress!r}")
    return (lambda done: None), (lambda: None)


def walk_forward(
    configs: Any,
    data: Any,
    *,
    train: int | str | timedelta,
    test: int | str | timedelta,
    step: int | str | timedelta | None = None,
    anchored: bool = False,
    gap: int | str | timedelta = 0,
    warmup: int | str | timedelta | Literal["auto"] = "auto",
    partial: bool = True,
    objective: Objective = "sharpe",
    min_trades: int = 1,
    top_k: int = 1,
    search: Literal["grid", "optuna"] = "grid",
    n_trials: int | None = None,
    seed: int = 0,
    keep_in_sample: bool = False,
    threads: int | None = None,
    executor: Any = None,
    progress: Any = None,
    **defaults: Any,
) -> WalkForwardResult:
    """Walk-forward optimization of ``configs`` (a grid, configs, or a TOML/JSON path) on ``data``.

    Windows (see :func:`compute_windows`): ``train``/``test``/``step``/``gap`` as bar counts or
    durations (``"90D"``, ``"12H"``); ``anchored`` keeps the train start fixed; ``partial`` keeps
    a truncated last test window. ``warmup`` bars (or a duration) before every window feed the
    indicators only; ``"auto"`` takes the longest indicator length of the configs.

    In each window every candidate runs in sample through :func:`omega_engine.run_many`;
    candidates that failed, made fewer than ``min_trades`` trades, or have a non-finite
    objective are out; the rest are ranked by ``objective`` (a summary column, ``"-name"`` to
    minimize, or a callable ``f(summary) -> one score per row``, higher is better), ties broken
    by the lowest ``config_index``. The ``top_k`` best run out of sample on the test window, each
    trading the account's balance at the window start (their PnL adds up). ``search="optuna"``
    evaluates ``n_trials`` candidates per window proposed by a seeded TPE sampler instead of all.

    Each run gets only the bars of its window (plus warm-up) and its window bounds as the
    config's ``start``/``end``, so nothing after a window can influence its result.
    ``threads``, ``executor`` and ``**defaults`` (run-level config defaults such as
    ``risk_per_trade=50``) are passed on to ``run_many``. Errors: 1009 INVALID_WINDOW when the
    windows do not fit, 1001 INVALID_PARAMETER for bad arguments.
    """
    from . import _core
    from . import config as _config
    from .errors import translate

    if search not in ("grid", "optuna"):
        raise _param_error(f"search: expected 'grid' or 'optuna', got {search!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise _param_error(f"top_k: must be an integer >= 1, got {top_k!r}")
    if isinstance(min_trades, bool) or not isinstance(min_trades, int) or min_trades < 0:
        raise _param_error(f"min_trades: must be an integer >= 0, got {min_trades!r}")
    if not (callable(objective) or isinstance(objective, str)):
        raise _param_error(f"objective: expected a metric name or a callable, got {objective!r}")
    for key in ("start", "end"):
        if key in defaults:
            raise _window_error(f"{key}: walk_forward sets start/end per window; slice the data "
                                "instead (bars.slice(start, end))")

    timeline = _Timeline(data)
    items = _config.expand(configs)
    if not items:
        raise _param_error("configs: no config given")
    jsons = _config.prepare(items, defaults, list(timeline.map))
    bases: list[dict[str, Any]] = [json.loads(j) for j in jsons]
    for i, b in enumerate(bases):
        if b.get("start") is not None or b.get("end") is not None:
            raise _window_error(f"configs[{i}]: has start/end; walk_forward sets them per window")
    with translate():  # an invalid config fails the call up front, as in run_many
        base_ids = [_core.canonical_config(j)[1] for j in jsons]
    if search == "optuna":
        trials = min(len(bases), 100) if n_trials is None else n_trials
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise _param_error(f"n_trials: must be an integer >= 1, got {n_trials!r}")
    warm: int | str | timedelta = _auto_warmup(bases) if warmup == "auto" else warmup
    windows = compute_windows(timeline.ts, train=train, test=test, step=step,
                              anchored=anchored, gap=gap, warmup=warm, partial=partial)

    params = [_params_of(b) for b in bases]
    all_names = list(dict.fromkeys(k for p in params for k in p))
    param_names = [k for k in all_names if len({repr(p.get(k)) for p in params}) > 1]
    run_kwargs: dict[str, Any] = {"threads": threads, "progress": False}
    objective_name = objective if isinstance(objective, str) else getattr(
        objective, "__name__", "callable")
    initial = float((bases[0].get("account") or {}).get("initial_balance", 100_000.0))

    ts = timeline.ts
    rows: list[dict[str, Any]] = []
    trade_tables: list[pa.Table] = []
    equity_parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    is_equity_tables: list[pa.Table] = []
    in_sample: list[pa.Table] = []
    balance = initial
    advance, close = _window_progress(progress, len(windows))
    try:
        for done, w in enumerate(windows):
            tr0, tr1 = int(ts[w.train_start]), int(ts[w.train_end - 1])
            te0, te1 = int(ts[w.test_start]), int(ts[w.test_end - 1])
            is_data = timeline.slice(w.train_warmup, w.train_end)
            ev = _Evaluator(bases, is_data, tr0, tr1,
                            dict(run_kwargs, executor=executor), objective, min_trades)
            if search == "grid":
                _grid_search(ev)
            else:
                _optuna_search(ev, trials, seed + w.window_id)
            summary = ev.summary()
            failed = summary["error_code"].is_valid() if "error_code" in \
                summary.column_names else pa.array([False] * summary.num_rows)
            n_failed = int(pc.sum(failed.cast(pa.int64())).as_py() or 0)
            if summary.num_rows and n_failed == summary.num_rows:
                # Nothing ran at all: a config error, not a lack of good candidates.
                from .errors import error_class

                code = int(summary["error_code"][0].as_py())
                raise error_class(code)(str(summary["error"][0].as_py()), code=code)
            if keep_in_sample:
                in_sample.append(_with_column(
                    summary, "window_id", pa.array([w.window_id] * summary.num_rows, pa.int32())))
            cidx = np.asarray(summary["config_index"].to_numpy(zero_copy_only=False),
                              dtype=np.int64)
            scores = summary["objective"].to_numpy(zero_copy_only=False)
            ok = _qualified(summary, scores, min_trades)
            chosen_rows = rank_candidates(scores, ok, cidx, top_k)
            chosen = [int(cidx[r]) for r in chosen_rows]
            base_row = {
                "window_id": w.window_id, "train_start": tr0, "train_end": tr1,
                "test_start": te0, "test_end": te1, "train_bars": w.train_bars,
                "test_bars": w.test_bars, "partial": w.partial,
                "candidates": summary.num_rows, "failed": n_failed,
                "qualified": int(ok.sum()),
            }
            train_years = timeline.years(w.train_start, w.train_end)
            test_years = timeline.years(w.test_start, w.test_end)
            if not chosen or balance <= 0:
                rows.append(dict(base_row, rank=1,
                                 status="no_candidate" if not chosen else "account_depleted"))
                flat = ts[w.test_start:w.test_end]
                const = np.full(len(flat), balance)
                equity_parts.append((w.window_id, flat, const, const))
                advance(done + 1)
                continue
            oos_data = timeline.slice(w.test_warmup, w.test_end)
            from .run import run_many

            oos = run_many([_with_range(bases[i], te0, te1, balance) for i in chosen], oos_data,
                           include=("summary", "trades", "equity"), errors="ignore",
                           **run_kwargs)
            is_eq = run_many([_with_range(bases[chosen[0]], tr0, tr1)], is_data,
                             include=("summary", "equity"), errors="ignore", **run_kwargs)
            if is_eq.equity is not None and is_eq.equity.num_rows:
                e = is_eq.equity
                is_equity_tables.append(pa.table({
                    "window_id": pa.array([w.window_id] * e.num_rows, pa.int32()),
                    "config_index": pa.array([chosen[0]] * e.num_rows, pa.int64()),
                    "timestamp": e["timestamp"], "balance": e["balance"],
                    "equity": e["equity"]}))
            # Stitch: the account's change is the sum of every chosen config's change.
            window_t = ts[w.test_start:w.test_end]
            bal = np.full(len(window_t), balance)
            eq = np.full(len(window_t), balance)
            assert oos.equity is not None
            eq_cidx = np.asarray(oos.equity["config_index"].to_numpy(zero_copy_only=False))
            eq_t = _as_int64(oos.equity["timestamp"])
            eq_b = oos.equity["balance"].to_numpy(zero_copy_only=False)
            eq_e = oos.equity["equity"].to_numpy(zero_copy_only=False)
            for rank in range(len(chosen)):
                m = eq_cidx == rank
                if not m.any():
                    continue
                pos = np.searchsorted(window_t, eq_t[m])
                valid = (pos < len(window_t))
                pos = pos[valid]
                d_b = np.full(len(window_t), np.nan)
                d_e = np.full(len(window_t), np.nan)
                d_b[pos] = eq_b[m][valid] - balance
                d_e[pos] = eq_e[m][valid] - balance
                # Bars this symbol lacks (other symbols' times) carry the last value forward.
                bal += _ffill(d_b)
                eq += _ffill(d_e)
            equity_parts.append((w.window_id, window_t, bal, eq))
            osum = oos.summary
            for rank, (row, i) in enumerate(zip(chosen_rows, chosen, strict=True)):
                is_row = {k: summary[k][int(row)].as_py() for k in _IS_METRICS
                          if k in summary.column_names}
                oos_row = {k: osum[k][rank].as_py() for k in _OOS_METRICS
                           if k in osum.column_names}
                is_ann = _annualized(is_row.get("return_pct"), train_years)
                oos_ann = _annualized(oos_row.get("return_pct"), test_years)
                err = osum["error"][rank].as_py() if "error" in osum.column_names else None
                rows.append(dict(
                    base_row, rank=rank + 1, status="ok" if err is None else "oos_failed",
                    config_index=i, config_id=base_ids[i],
                    **{f"param:{k}": params[i].get(k) for k in param_names},
                    objective=float(scores[int(row)]),
                    **{f"is_{k}": v for k, v in is_row.items()},
                    **{f"oos_{k}": v for k, v in oos_row.items()},
                    is_annualized_pct=is_ann, oos_annualized_pct=oos_ann,
                    efficiency=oos_ann / is_ann if is_ann > 0 else math.nan,
                    oos_error=err,
                ))
            if oos.trades is not None and oos.trades.num_rows:
                t = oos.trades
                ranks = np.asarray(t["config_index"].to_numpy(zero_copy_only=False),
                                   dtype=np.int64)
                t = t.rename_columns(["run_config_id" if c == "config_id" else c
                                      for c in t.column_names])
                t = t.drop_columns(["config_index"])
                t = t.add_column(0, "config_id", pa.array([base_ids[chosen[r]] for r in ranks],
                                                          pa.string()))
                t = t.add_column(0, "config_index",
                                 pa.array([chosen[r] for r in ranks], pa.int64()))
                t = t.add_column(0, "rank", pa.array(ranks + 1, pa.int32()))
                t = t.add_column(0, "window_id",
                                 pa.array([w.window_id] * t.num_rows, pa.int32()))
                trade_tables.append(t)
            # Every position is closed at the window end: the realized balances carry over.
            if "final_balance" in osum.column_names:
                finals = osum["final_balance"].cast(pa.float64()).fill_null(balance)
                balance += float(sum(v - balance for v in finals.to_pylist()))
            elif len(eq):
                balance = float(eq[-1])
            advance(done + 1)
    finally:
        close()

    windows_table = _windows_table(rows, param_names)
    oos_equity = _equity_table(equity_parts)
    oos_trades = _trades_table(trade_tables)
    is_equity = (pa.concat_tables(is_equity_tables).combine_chunks() if is_equity_tables
                 else pa.table({
        "window_id": pa.array([], pa.int32()), "config_index": pa.array([], pa.int64()),
        "timestamp": pa.array([], _TS), "balance": pa.array([], pa.float64()),
        "equity": pa.array([], pa.float64())}))
    stability = param_stability(windows_table, param_names,
                                {k: [p.get(k) for p in params] for k in param_names})
    total_test_years = sum(timeline.years(w.test_start, w.test_end) for w in windows)
    oos_summary = _oos_summary(oos_equity, oos_trades, initial, total_test_years, windows_table)
    first = windows_table.filter(pc.and_(pc.equal(windows_table["rank"], 1),
                                         pc.equal(windows_table["status"], "ok")))
    is_anns = [v for v in first["is_annualized_pct"].to_pylist() if v is not None] \
        if "is_annualized_pct" in first.column_names else []
    mean_is = float(np.mean(is_anns)) if is_anns else math.nan
    oos_ann = oos_summary["annualized_return_pct"]
    efficiency = oos_ann / mean_is if mean_is > 0 else math.nan
    oos_summary["mean_is_annualized_pct"] = mean_is
    oos_summary["walk_forward_efficiency"] = efficiency
    return WalkForwardResult(
        windows=windows_table, oos_trades=oos_trades, oos_equity=oos_equity,
        is_equity=is_equity, param_stability=stability, efficiency=efficiency,
        oos_summary=oos_summary, objective=str(objective_name), param_names=tuple(param_names),
        in_sample=(pa.concat_tables(in_sample, promote_options="default") if in_sample
                   else None),
        data=data,
    )


def _ffill(x: np.ndarray) -> np.ndarray:
    """Forward-fills NaN (leading NaN become 0: no change before the first bar)."""
    valid = ~np.isnan(x)
    idx = np.where(valid, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~valid & (np.cumsum(valid) == 0)] = 0.0
    return out


def _annualized(return_pct: float | None, years: float) -> float:
    if return_pct is None or years <= 0 or not math.isfinite(return_pct):
        return math.nan
    return return_pct / years


_WINDOW_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("window_id", pa.int32()), ("rank", pa.int32()), ("status", pa.string()),
    ("train_start", _TS), ("train_end", _TS), ("test_start", _TS), ("test_end", _TS),
    ("train_bars", pa.int64()), ("test_bars", pa.int64()), ("partial", pa.bool_()),
    ("candidates", pa.int64()), ("failed", pa.int64()), ("qualified", pa.int64()),
    ("config_index", pa.int64()), ("config_id", pa.string()),
]
_WINDOW_TAIL: list[tuple[str, pa.DataType]] = [
    ("objective", pa.float64()),
    *[(f"is_{k}", pa.int64() if k == "trades" else pa.float64()) for k in _IS_METRICS],
    *[(f"oos_{k}", pa.int64() if k == "trades" else pa.float64()) for k in _OOS_METRICS],
    ("is_annualized_pct", pa.float64()), ("oos_annualized_pct", pa.float64()),
    ("efficiency", pa.float64()), ("oos_error", pa.string()),
]


def _windows_table(rows: list[dict[str, Any]], param_names: Sequence[str]) -> pa.Table:
    cols: dict[str, pa.Array] = {}
    for name, typ in _WINDOW_COLUMNS:
        cols[name] = pa.array([r.get(name) for r in rows], typ)
    for k in param_names:
        values = [r.get(f"param:{k}") for r in rows]
        try:
            cols[k if k not in cols else f"param_{k}"] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            cols[k if k not in cols else f"param_{k}"] = pa.array(
                [None if v is None else str(v) for v in values], pa.string())
    for name, typ in _WINDOW_TAIL:
        cols[name] = pa.array([r.get(name) for r in rows], typ)
    return pa.table(cols)


def _equity_table(parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]) -> pa.Table:
    if not parts:
        wid, t, b, e = np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    else:
        wid = np.concatenate([np.full(len(p[1]), p[0], np.int32) for p in parts])
        t = np.concatenate([p[1] for p in parts])
        b = np.concatenate([p[2] for p in parts])
        e = np.concatenate([p[3] for p in parts])
    return pa.table({
        "window_id": pa.array(wid, pa.int32()),
        "timestamp": pa.array(t, pa.int64()).cast(_TS),
        "balance": pa.array(b, pa.float64()),
        "equity": pa.array(e, pa.float64()),
    })


def _trades_table(tables: list[pa.Table]) -> pa.Table:
    if tables:
        return pa.concat_tables(tables, promote_options="default").combine_chunks()
    from . import _core

    head = pa.schema([("window_id", pa.int32()), ("rank", pa.int32()),
                      ("config_index", pa.int64()), ("config_id", pa.string())])
    try:
        engine = _core.schemas()["trades"]
        rest = [f if f.name != "config_id" else pa.field("run_config_id", pa.string(), False)
                for f in engine if f.name != "config_index"]
    except (AttributeError, KeyError):  # pragma: no cover - older extension
        rest = [pa.field("run_config_id", pa.string())]
    return pa.schema(list(head) + rest).empty_table()


def param_stability(windows: pa.Table, param_names: Sequence[str],
                    searched: dict[str, list[Any]]) -> pa.Table:
    """How often each parameter value was chosen (rank 1) and how far the choice moves.

    ``searched`` gives each parameter's candidate values (for the range that normalizes the
    moves)."""
    chosen = windows.filter(pc.and_(pc.equal(windows["rank"], 1),
                                    pc.equal(windows["status"], "ok")))
    out: dict[str, list[Any]] = {k: [] for k in (
        "param", "value", "value_num", "times_chosen", "share", "windows", "switch_rate",
        "mean_abs_change", "normalized_change")}
    n = chosen.num_rows
    for k in param_names:
        col = k if k in chosen.column_names else f"param_{k}"
        values = chosen[col].to_pylist() if col in chosen.column_names else []
        switches = sum(1 for a, b in zip(values, values[1:], strict=False) if a != b)
        switch_rate = switches / (len(values) - 1) if len(values) > 1 else math.nan
        nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(nums) == len(values) and len(values) > 1:
            moves = np.abs(np.diff(np.asarray(values, dtype=np.float64)))
            mean_move = float(moves.mean())
            cand = [v for v in searched.get(k, []) if isinstance(v, int | float)]
            span = (max(cand) - min(cand)) if cand else 0.0
            norm = mean_move / span if span > 0 else math.nan
        else:
            mean_move, norm = math.nan, math.nan
        counts: dict[Any, int] = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            out["param"].append(k)
            out["value"].append(str(v))
            out["value_num"].append(float(v) if isinstance(v, int | float) else None)
            out["times_chosen"].append(c)
            out["share"].append(c / n if n else math.nan)
            out["windows"].append(n)
            out["switch_rate"].append(switch_rate)
            out["mean_abs_change"].append(mean_move)
            out["normalized_change"].append(norm)
    return pa.table({
        "param": pa.array(out["param"], pa.string()),
        "value": pa.array(out["value"], pa.string()),
        "value_num": pa.array(out["value_num"], pa.float64()),
        "times_chosen": pa.array(out["times_chosen"], pa.int64()),
        "share": pa.array(out["share"], pa.float64()),
        "windows": pa.array(out["windows"], pa.int64()),
        "switch_rate": pa.array(out["switch_rate"], pa.float64()),
        "mean_abs_change": pa.array(out["mean_abs_change"], pa.float64()),
        "normalized_change": pa.array(out["normalized_change"], pa.float64()),
    })


def _oos_summary(equity: pa.Table, trades: pa.Table, initial: float, years: float,
                 windows: pa.Table) -> dict[str, Any]:
    eq = equity["equity"].to_numpy(zero_copy_only=False)
    final = float(eq[-1]) if len(eq) else initial
    if len(eq):
        peak = np.maximum.accumulate(eq)
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, 1.0 - eq / peak, 0.0)
        max_dd = float(dd.max()) * 100.0
    else:
        max_dd = 0.0
    pnl = trades["net_pnl"].to_numpy(zero_copy_only=False) if "net_pnl" in \
        trades.column_names else np.zeros(0)
    ret = (final / initial - 1.0) * 100.0 if initial else math.nan
    ok = windows.filter(pc.equal(windows["status"], "ok"))
    return {
        "windows": int(len(set(windows["window_id"].to_pylist()))),
        "windows_traded": int(len(set(ok["window_id"].to_pylist()))),
        "initial_balance": initial,
        "final_equity": final,
        "net_profit": final - initial,
        "return_pct": ret,
        "annualized_return_pct": ret / years if years > 0 else math.nan,
        "trades": int(len(pnl)),
        "win_rate": float((pnl > 0).mean()) if len(pnl) else math.nan,
        "max_drawdown_pct": max_dd,
    }


class _CallableModule(types.ModuleType):
    """Importing ``omega_engine.walk_forward`` binds this module to the package attribute that
    ``oe.walk_forward(...)`` calls, so the module forwards calls to :func:`walk_forward`."""

    def __call__(self, *args: Any, **kwargs: Any) -> WalkForwardResult:
        return walk_forward(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
