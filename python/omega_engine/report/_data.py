"""Turns a result object into plain numpy series for the report figures (no plotting here)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Summary columns that are not strategy parameters (metrics and bookkeeping); everything else that
# varies across the rows of a sweep is treated as a parameter.
_META_COLUMNS = {
    "config_index", "config_id", "symbol", "strategy", "variant", "execution_variant", "error_code",
    "error", "seed", "start", "end", "window_id", "rank", "status", "partial", "base_config_id",
}

# Preferred objective for choosing the config a sweep report shows, in order.
_DEFAULT_OBJECTIVES = ("sharpe", "net_profit", "return_pct")


@dataclass
class Series:
    """A time series as epoch microseconds and float values."""

    t: np.ndarray
    v: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class ReportData:
    kind: str  # "run" | "sweep" | "walk_forward"
    title: str
    summary: pa.Table | None = None
    trades: pa.Table | None = None
    equity: Series | None = None
    equity_label: str = "Equity"
    focus_config_id: str | None = None
    focus_row: dict[str, Any] | None = None
    price: Series | None = None
    price_label: str = ""
    heatmap: tuple[str, str, str, list[Any], list[Any], np.ndarray, str] | None = None
    objective: str | None = None
    windows: pa.Table | None = None
    is_equity: pa.Table | None = None
    param_stability: pa.Table | None = None
    param_names: list[str] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ts_us(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps (any Arrow timestamp unit or int64) as int64 microseconds."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_timestamp(arr.type):
        arr = arr.cast(pa.timestamp("us", tz=arr.type.tz)).cast(pa.int64())
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


def floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return np.asarray(arr.cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def filter_eq(table: pa.Table | None, column: str, value: Any) -> pa.Table | None:
    if table is None or column not in table.column_names:
        return table
    return table.filter(pc.equal(table[column], pa.scalar(value, table.schema.field(column).type)))


def param_columns(summary: pa.Table, params_hint: Sequence[str] = ()) -> list[str]:
    """Parameter columns of a summary table: the hinted names present, else the non-metric,
    non-meta columns whose values vary across rows and that come before the first metric."""
    names = summary.column_names
    hinted = [p for p in params_hint if p in names]
    if hinted:
        return hinted
    out: list[str] = []
    for name in names:
        if name in _META_COLUMNS:
            continue
        if name in ("net_profit", "trades", "return_pct"):
            break  # metrics start here
        out.append(name)
    return out


def varying(summary: pa.Table, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if len(pc.unique(summary[c])) > 1]


def pick_objective(summary: pa.Table, objective: str | None) -> str | None:
    if objective and objective in summary.column_names:
        return objective
    for name in _DEFAULT_OBJECTIVES:
        if name in summary.column_names:
            return name
    return None


def best_row(summary: pa.Table, objective: str | None) -> int:
    """Index of the best successful row by ``objective`` (desc), ties to the lowest index."""
    n = summary.num_rows
    ok = np.ones(n, dtype=bool)
    if "error_code" in summary.column_names:
        ok &= np.asarray(summary["error_code"].is_null().to_numpy(zero_copy_only=False))
    if objective is None:
        candidates = np.flatnonzero(ok)
        return int(candidates[0]) if len(candidates) else 0
    score = floats(summary[objective])
    score = np.where(ok & np.isfinite(score), score, -np.inf)
    # lexsort: last key is primary; -score desc, then index asc
    order = np.lexsort((np.arange(n), -score))
    return int(order[0])


def bars_close(data: Any, symbol: str | None) -> tuple[Series | None, str]:
    """Bid close prices of ``data`` (a Bars, a mapping symbol -> Bars, or an Arrow table)."""
    if data is None:
        return None, ""
    bars = data
    if isinstance(data, Mapping):
        if not data:
            return None, ""
        bars = data.get(symbol) if symbol in data else next(iter(data.values()))
    table = bars.to_arrow() if hasattr(bars, "to_arrow") else bars
    if not isinstance(table, pa.Table):
        return None, ""
    names = table.column_names
    tcol = next((c for c in ("timestamp", "time", "ts") if c in names), None)
    ccol = next((c for c in ("bid_close", "close", "ask_close") if c in names), None)
    if tcol is None or ccol is None:
        return None, ""
    label = f"{getattr(bars, 'symbol', symbol or '')} {ccol.replace('_', ' ')}".strip()
    return Series(ts_us(table[tcol]), floats(table[ccol])), label


def equity_series(equity: pa.Table | None) -> Series | None:
    if equity is None or equity.num_rows == 0 or "equity" not in equity.column_names:
        return None
    return Series(ts_us(equity["timestamp"]), floats(equity["equity"]))


def equity_from_trades(trades: pa.Table | None, start: float = 0.0) -> Series | None:
    """Cumulative net PnL at the exit times: the equity curve of closed trades."""
    if trades is None or trades.num_rows == 0:
        return None
    t = ts_us(trades["exit_time"])
    pnl = floats(trades["net_pnl"])
    keep = ~np.isnan(pnl)
    t, pnl = t[keep], pnl[keep]
    order = np.argsort(t, kind="stable")
    return Series(t[order], start + np.cumsum(pnl[order]))


def drawdown_pct(v: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, (v / peak - 1.0) * 100.0, 0.0)
    return dd


def decimate(s: Series, max_points: int = 4000) -> Series:
    """At most ~max_points points, keeping each bucket's minimum and maximum (in time order) so
    spikes and drawdowns survive the thinning."""
    n = len(s)
    if n <= max_points:
        return s
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = {0, n - 1}  # the curve starts and ends where the data does
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        seg = s.v[a:b]
        if not np.isfinite(seg).any():
            keep.add(int(a))
            continue
        keep.add(int(a + np.nanargmin(seg)))
        keep.add(int(a + np.nanargmax(seg)))
    idx = sorted(keep)
    sel = np.asarray(idx, dtype=np.int64)
    return Series(s.t[sel], s.v[sel])


def monthly_returns(s: Series) -> tuple[list[int], list[str], np.ndarray]:
    """Month-by-month return % of an equity series: (years, month labels, matrix years×12)."""
    months_label = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec"]
    if len(s) == 0:
        return [], months_label, np.zeros((0, 12))
    m = s.t.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)  # months since 1970
    last_idx = np.flatnonzero(np.r_[m[1:] != m[:-1], True])  # last point of each month
    month_ids = m[last_idx]
    ends = s.v[last_idx]
    starts = np.r_[s.v[0], ends[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = np.where(starts != 0, (ends / starts - 1.0) * 100.0, np.nan)
    years = sorted({int(x // 12 + 1970) for x in month_ids})
    grid = np.full((len(years), 12), np.nan)
    for mid, r in zip(month_ids, rets, strict=True):
        grid[years.index(int(mid // 12 + 1970)), int(mid % 12)] = r
    return years, months_label, grid


def heatmap_data(summary: pa.Table, params: Sequence[str], objective: str
                 ) -> tuple[str, str, str, list[Any], list[Any], np.ndarray, str] | None:
    """(x param, y param, metric, x values, y values, z matrix, note) for a parameter heatmap of
    the two varying parameters; with more than two, the best value over the others is shown."""
    vary = varying(summary, params)
    if len(vary) < 2:
        return None
    # The two parameters with the most distinct values span the map (ties: column order); the
    # others are maximized over.
    counts = {c: len(pc.unique(summary[c])) for c in vary}
    vary = sorted(vary, key=lambda c: (-counts[c], vary.index(c)))
    px, py = vary[0], vary[1]
    note = "" if len(vary) == 2 else f"best {objective} over {', '.join(vary[2:])}"
    xs = [_tidy(v) for v in summary[px].to_pylist()]
    ys = [_tidy(v) for v in summary[py].to_pylist()]
    z = floats(summary[objective])
    if "error_code" in summary.column_names:
        bad = np.asarray(summary["error_code"].is_valid().to_numpy(zero_copy_only=False))
        z = np.where(bad, np.nan, z)
    xv = sorted({x for x in xs if x is not None}, key=_sort_key)
    yv = sorted({y for y in ys if y is not None}, key=_sort_key)
    xi = {v: i for i, v in enumerate(xv)}
    yi = {v: i for i, v in enumerate(yv)}
    grid = np.full((len(yv), len(xv)), np.nan)
    for x, y, val in zip(xs, ys, z, strict=True):
        if x is None or y is None or not np.isfinite(val):
            continue
        cur = grid[yi[y], xi[x]]
        if np.isnan(cur) or val > cur:
            grid[yi[y], xi[x]] = val
    return px, py, objective, xv, yv, grid, note


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) else (1, str(v))


def _tidy(v: Any) -> Any:
    """Parameter values come back as floats; show whole numbers as ints (5, not 5.0)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v
