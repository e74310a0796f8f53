"""Market data in: bars and ticks from CSV, Parquet, Arrow IPC and pyarrow/pandas/polars tables.

Everything ends up in the canonical Arrow layout (``oe.schemas()["bars"]``: ``timestamp``
``timestamp[us, UTC]`` bar open time, ``bid_open`` … ``ask_close`` float64, ``volume`` float64)
and is then validated once by the engine (finite/positive prices, OHLC consistency, strictly
increasing timestamps, aligned sides), which holds the columns without copying them.

Column names are matched case-insensitively; the time column may be called ``timestamp``,
``time``, ``utc time``, ``gmt time``, ``date``, ``datetime`` (or be the unnamed first column / a
pandas ``DatetimeIndex``). Accepted time formats: Arrow timestamps of any unit and zone, ISO
strings, ``DD.MM.YYYY HH:MM:SS[.fff]`` (the ``UTC time,Open,High,Low,Close,Volume`` export
format, optionally with a ``GMT+0000``/``UTC`` suffix), dates, and int64 microseconds since the
epoch. Naive times are UTC. Normalization uses Arrow compute only (no per-row Python).
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from . import specs as _specs
from .errors import raise_error, translate

__all__ = ["Bars", "Ticks", "load_bars", "load_ticks", "synthetic_bars", "read_table",
           "parse_timeframe"]

_TS = pa.timestamp("us", tz="UTC")
_TIME_NAMES = ("timestamp", "time", "utc time", "gmt time", "local time", "datetime", "date",
               "date_time", "ts", "", "unnamed: 0", "__index_level_0__", "index")
_SIDE_NAMES = {
    "open": "open", "o": "open",
    "high": "high", "h": "high",
    "low": "low", "l": "low",
    "close": "close", "c": "close",
    "volume": "volume", "vol": "volume", "v": "volume", "tick_volume": "volume",
    "tickvolume": "volume",
}
_CANONICAL_BARS = ("bid_open", "bid_high", "bid_low", "bid_close",
                   "ask_open", "ask_high", "ask_low", "ask_close")


# --- reading -------------------------------------------------------------------------------------

def _module_of(obj: object) -> str:
    return type(obj).__module__.split(".")[0]


def read_table(source: Any, what: str = "data") -> pa.Table:
    """A pyarrow Table from a path (``.csv``/``.csv.gz``/``.txt``, ``.parquet``/``.pq``,
    ``.arrow``/``.feather``/``.ipc``) or a table object (pyarrow Table/RecordBatch, pandas or
    polars DataFrame, anything exporting the Arrow PyCapsule stream interface)."""
    if isinstance(source, str | os.PathLike):
        return _read_path(Path(source), what)
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    mod = _module_of(source)
    if mod == "pandas":
        import pandas as pd

        if isinstance(source, pd.DataFrame):
            keep_index = isinstance(source.index, pd.DatetimeIndex)
            df = source.reset_index() if keep_index else source
            return pa.Table.from_pandas(df, preserve_index=False)
    if mod == "polars":
        to_arrow = getattr(source, "to_arrow", None)
        if callable(to_arrow):
            return to_arrow()
    if hasattr(source, "__arrow_c_stream__") or hasattr(source, "__arrow_c_array__"):
        try:
            return pa.table(source)
        except (TypeError, ValueError, pa.ArrowInvalid) as exc:
            raise_error("FFI_SCHEMA_MISMATCH", f"{what}: cannot import the Arrow data: {exc}")
    raise_error("FFI_SCHEMA_MISMATCH",
                f"{what}: expected a file path or a table (pyarrow, pandas, polars, Arrow "
                f"PyCapsule), got {type(source).__name__}")


def _read_path(path: Path, what: str) -> pa.Table:
    name = path.name.lower()
    if not path.exists():
        raise_error("INVALID_PARAMETER", f"{what}: file {str(path)!r} does not exist")
    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if name.endswith((".arrow", ".feather", ".ipc")):
            import pyarrow.feather as feather

            return feather.read_table(path)
        if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt")):
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise_error("SCHEMA_VIOLATION", f"{what}: cannot read {str(path)!r}: {exc}")
    raise_error("INVALID_PARAMETER",
                f"{what}: unknown file type {path.suffix!r} (use .csv, .parquet or .arrow)")


# --- normalization -------------------------------------------------------------------------------

def _lower_names(table: pa.Table) -> dict[str, str]:
    """lower-cased, stripped name → original name (first occurrence wins)."""
    out: dict[str, str] = {}
    for n in table.column_names:
        out.setdefault(n.strip().lower(), n)
    return out


def _find_time_column(table: pa.Table, what: str) -> str:
    names = _lower_names(table)
    for cand in _TIME_NAMES:
        if cand in names:
            return names[cand]
    for n in table.column_names:
        if pa.types.is_timestamp(table.schema.field(n).type):
            return str(n)
    looked = ", ".join(repr(n) for n in _TIME_NAMES if n)
    raise_error("SCHEMA_VIOLATION",
                f"{what}.timestamp: no time column (looked for {looked} or a timestamp-typed "
                f"column) among {table.column_names}")


_DMY = re.compile(r"^\d{2}\.\d{2}\.\d{4}")


def to_timestamps(col: pa.ChunkedArray | pa.Array, what: str) -> pa.ChunkedArray | pa.Array:
    """A time column as ``timestamp[us, UTC]`` (Arrow compute only)."""
    t = col.type
    try:
        if pa.types.is_timestamp(t):
            if t.tz is None:
                col = pc.assume_timezone(col, "UTC")
            return pc.cast(col, _TS)
        if pa.types.is_date(t):
            return pc.cast(pc.assume_timezone(pc.cast(col, pa.timestamp("us")), "UTC"), _TS)
        if pa.types.is_integer(t):
            return pc.cast(pc.cast(col, pa.int64()), _TS)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            s = pc.utf8_trim_whitespace(col)
            # "GMT+0000" / "UTC" / "Z" suffixes: all UTC.
            s = pc.replace_substring_regex(s, r"\s*(GMT[+-]00:?00|UTC|Z)$", "")
            first = s[0].as_py() if len(s) else ""
            if first and _DMY.match(first):
                s = pc.replace_substring_regex(s, r"^(\d{2})\.(\d{2})\.(\d{4})", r"\3-\2-\1")
            s = pc.replace_substring(s, "T", " ")
            parsed = pc.cast(s, pa.timestamp("us"))
            return pc.cast(pc.assume_timezone(parsed, "UTC"), _TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise_error("SCHEMA_VIOLATION", f"{what}.timestamp: cannot parse the times: {exc}")
    raise_error("SCHEMA_VIOLATION",
                f"{what}.timestamp: expected times (timestamp, date, ISO or DD.MM.YYYY strings, "
                f"int64 µs), got {t}")


def _f64(col: pa.ChunkedArray | pa.Array, name: str) -> pa.ChunkedArray | pa.Array:
    if col.type == pa.float64():
        return col
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            or pa.types.is_decimal(col.type)):
        raise_error("SCHEMA_VIOLATION", f"{name}: expected numbers, got {col.type}")
    return pc.cast(col, pa.float64())


def _side_columns(table: pa.Table, what: str) -> dict[str, Any]:
    """open/high/low/close[/volume] of a one-side table, as float64."""
    names = _lower_names(table)
    out: dict[str, Any] = {}
    for low, orig in names.items():
        key = _SIDE_NAMES.get(low)
        if key is not None and key not in out:
            out[key] = _f64(table.column(orig), f"{what}.{key}")
    for key in ("open", "high", "low", "close"):
        if key not in out:
            raise_error("SCHEMA_VIOLATION",
                        f"{what}.{key}: column is missing (columns: {table.column_names})")
    return out


def _combine_chunks(table: pa.Table) -> pa.Table:
    # One contiguous chunk per column lets the engine hold the buffers without copying again.
    return table.combine_chunks() if any(c.num_chunks > 1 for c in table.columns) else table


def normalize_bars(bid: pa.Table, ask: pa.Table | None = None, what: str = "bars") -> pa.Table:
    """The canonical bars table from one table that already has bid_*/ask_* columns, or from
    one-side tables (open/high/low/close) for bid and ask (ask may be None: one-sided)."""
    names = _lower_names(bid)
    ts = to_timestamps(bid.column(_find_time_column(bid, what)), what)
    cols: dict[str, Any] = {"timestamp": ts}
    if ask is None and "bid_close" in names:
        for c in _CANONICAL_BARS:
            if c in names:
                cols[c] = _f64(bid.column(names[c]), f"{what}.{c}")
        if "volume" in names:
            cols["volume"] = _f64(bid.column(names["volume"]), f"{what}.volume")
        return _combine_chunks(pa.table(cols))
    side_what = f"{what}.bid" if ask is not None else what
    b = _side_columns(bid, side_what)
    for k in ("open", "high", "low", "close"):
        cols[f"bid_{k}"] = b[k]
    if ask is not None:
        a_ts = to_timestamps(ask.column(_find_time_column(ask, f"{what}.ask")), f"{what}.ask")
        a = _side_columns(ask, f"{what}.ask")
        if len(a_ts) != len(ts):
            raise_error("BID_ASK_MISMATCH",
                        f"{what}.ask.timestamp: ask has {len(a_ts)} rows, bid has {len(ts)}")
        if len(ts):
            differs = pc.not_equal(ts, a_ts)
            if pc.any(differs).as_py():
                row = pc.index(differs, True).as_py()
                raise_error("BID_ASK_MISMATCH",
                            f"{what}.ask.timestamp: row {row}: ask time {a_ts[row]} differs "
                            f"from bid time {ts[row]}")
        for k in ("open", "high", "low", "close"):
            cols[f"ask_{k}"] = a[k]
    if "volume" in b:
        cols["volume"] = b["volume"]
    return _combine_chunks(pa.table(cols))


def normalize_ticks(table: pa.Table, what: str = "ticks") -> pa.Table:
    """The canonical ticks table (timestamp, bid, ask) from a table with time/bid/ask columns."""
    names = _lower_names(table)
    ts = to_timestamps(table.column(_find_time_column(table, what)), what)
    cols: dict[str, Any] = {"timestamp": ts}
    for key in ("bid", "ask"):
        if key in names:
            cols[key] = _f64(table.column(names[key]), f"{what}.{key}")
    if "bid" not in cols:
        raise_error("SCHEMA_VIOLATION", f"{what}.bid: column is missing ({table.column_names})")
    return _combine_chunks(pa.table(cols))


_SIGNAL_FLOATS = ("entry_price", "stop_loss", "take_profit")
_SIGNAL_STRINGS = ("symbol", "direction", "order_type", "reason", "scenario", "tags")


def normalize_signals(table: pa.Table, what: str = "signals") -> pa.Table:
    """A signals table (DESIGN §3) with the engine's column types: ``timestamp`` as
    ``timestamp[us, UTC]``, prices float64, text columns utf8. Other columns are kept as they
    are (the engine reports unknown or mistyped columns with code 3001)."""
    cols: dict[str, Any] = {}
    ts_name = _find_time_column(table, what)
    for name in table.column_names:
        low = name.strip().lower()
        col = table.column(name)
        if name == ts_name:
            cols["timestamp"] = to_timestamps(col, what)
        elif low in _SIGNAL_FLOATS:
            cols[low] = _f64(col, f"{what}.{low}")
        elif low in _SIGNAL_STRINGS:
            t = col.type
            if pa.types.is_dictionary(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
                col = pc.cast(col, pa.string())
            cols[low] = col
        else:
            cols[name] = col
    return _combine_chunks(pa.table(cols))


# --- wrappers ------------------------------------------------------------------------------------

class Bars:
    """Validated bid/ask bars of one symbol, held by the engine (zero-copy from Arrow).

    ``len(bars)``, ``bars.symbol``, ``bars.to_arrow()`` (the canonical table, sharing memory),
    ``bars.slice(start, end)`` (row indices or times; zero-copy).
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _core.Bars) -> None:
        self._inner = inner

    @classmethod
    def from_arrow(cls, symbol: str, table: Any, *, spread_pips: float | None = None,
                   pip_size: float | None = None) -> Bars:
        """Bars from a canonical-layout table (see :func:`load_bars` for other layouts)."""
        with translate():
            return cls(_core.Bars(symbol, table, spread_pips=spread_pips, pip_size=pip_size))

    @property
    def symbol(self) -> str:
        return self._inner.symbol

    def __len__(self) -> int:
        return len(self._inner)

    def to_arrow(self) -> pa.Table:
        """The bars as a pyarrow Table in the canonical schema (no copy)."""
        with translate():
            return self._inner.to_arrow()

    def timestamps(self) -> pa.Array:
        """The bar open times as a ``timestamp[us, UTC]`` array (no copy)."""
        with translate():
            return self._inner.timestamps()

    def _row(self, value: Any, side: str) -> int:
        if value is None:
            return 0 if side == "start" else len(self)
        if isinstance(value, int) and not isinstance(value, bool):
            n = len(self)
            return max(0, min(n, value + n if value < 0 else value))
        from .config import to_timestamp_us

        t = to_timestamp_us(value, f"slice.{side}")
        ts = self.timestamps().cast(pa.int64()).to_numpy(zero_copy_only=True)
        # First row at or after t (binary search over the zero-copy timestamps).
        return bisect.bisect_left(ts, t)

    def slice(self, start: Any = None, end: Any = None) -> Bars:
        """Rows ``[start, end)``: indices (negative from the end) or times (datetime, ISO
        string, pandas Timestamp; the slice holds bars with ``start <= time < end``)."""
        s, e = self._row(start, "start"), self._row(end, "end")
        if e < s:
            e = s
        with translate():
            return Bars(self._inner.slice(s, e))

    @property
    def start(self) -> int:
        """First bar time (µs)."""
        return int(self.timestamps()[0].value)

    @property
    def end(self) -> int:
        """Last bar time (µs)."""
        return int(self.timestamps()[-1].value)

    @property
    def core(self) -> _core.Bars:
        """The engine object (for ``_core`` calls)."""
        return self._inner

    def __repr__(self) -> str:
        n = len(self)
        if n == 0:
            return f"Bars({self.symbol!r}, 0 rows)"
        ts = self.timestamps()
        return f"Bars({self.symbol!r}, {n} rows, {ts[0]} … {ts[-1]})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Bars.from_arrow, (self.symbol, self.to_arrow()))


class Ticks:
    """Validated ticks (timestamp, bid, ask) of one symbol, held by the engine."""

    __slots__ = ("_inner",)

    def __init__(self, inner: _core.Ticks) -> None:
        self._inner = inner

    @property
    def symbol(self) -> str:
        return self._inner.symbol

    def __len__(self) -> int:
        return len(self._inner)

    def to_arrow(self) -> pa.Table:
        with translate():
            return self._inner.to_arrow()

    @property
    def core(self) -> _core.Ticks:
        return self._inner

    def __repr__(self) -> str:
        return f"Ticks({self.symbol!r}, {len(self)} rows)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ticks_from_arrow, (self.symbol, self.to_arrow()))


def _ticks_from_arrow(symbol: str, table: pa.Table) -> Ticks:
    with translate():
        return Ticks(_core.Ticks(symbol, table))


def _pip_size_for(symbol: str, pip_size: float | None) -> float | None:
    if pip_size is not None:
        return pip_size
    try:
        return _specs.get(symbol).pip_size
    except ValueError:
        return None


def load_bars(symbol: str, bid: Any, ask: Any = None, *, spread_pips: float | None = None,
              pip_size: float | None = None) -> Bars:
    """Loads and validates the bars of ``symbol``.

    ``bid`` is a file path or a table: either one table with ``bid_*``/``ask_*`` columns, or the
    bid side with open/high/low/close[/volume] columns (then ``ask`` is the ask side in the same
    layout, with identical timestamps). Data with one side only needs ``spread_pips`` (the ask is
    ``bid + spread_pips * pip_size``; ``pip_size`` defaults to the symbol's spec).

    >>> bars = load_bars("EURUSD", bid="EURUSD_M1_BID.csv", ask="EURUSD_M1_ASK.csv")
    """
    if not isinstance(symbol, str) or not symbol:
        raise_error("INVALID_PARAMETER", f"symbol: must be a non-empty string, got {symbol!r}")
    bid_t = read_table(bid, "bid")
    ask_t = None if ask is None else read_table(ask, "ask")
    table = normalize_bars(bid_t, ask_t, "bars")
    with translate():
        inner = _core.Bars(symbol, table, spread_pips=spread_pips,
                           pip_size=_pip_size_for(symbol, pip_size))
    return Bars(inner)


def load_ticks(symbol: str, source: Any, *, spread_pips: float | None = None,
               pip_size: float | None = None) -> Ticks:
    """Loads and validates the ticks of ``symbol`` from a path or table with time, bid and ask
    columns (ask may be missing when ``spread_pips`` is given)."""
    if not isinstance(symbol, str) or not symbol:
        raise_error("INVALID_PARAMETER", f"symbol: must be a non-empty string, got {symbol!r}")
    table = normalize_ticks(read_table(source, "ticks"), "ticks")
    with translate():
        inner = _core.Ticks(symbol, table, spread_pips=spread_pips,
                            pip_size=_pip_size_for(symbol, pip_size))
    return Ticks(inner)


_TF_UNITS = {"s": 1_000_000, "sec": 1_000_000, "min": 60_000_000, "m": 60_000_000,
             "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000}


def parse_timeframe(tf: str | int) -> int:
    """Timeframe → µs: ``"1min"``, ``"5min"``, ``"1h"``, ``"1d"``, ``"30s"``, MT-style ``"M1"``,
    ``"H4"``, ``"D1"``, or an int (µs)."""
    if isinstance(tf, int) and not isinstance(tf, bool):
        if tf <= 0:
            raise_error("INVALID_PARAMETER", f"timeframe: must be > 0 µs, got {tf}")
        return tf
    if isinstance(tf, str):
        s = tf.strip()
        m = re.fullmatch(r"([MHDW])(\d+)", s)
        if m:
            unit = {"M": "min", "H": "h", "D": "d", "W": "w"}[m.group(1)]
            return int(m.group(2)) * _TF_UNITS[unit]
        m = re.fullmatch(r"(\d+)\s*([a-zA-Z]+)", s)
        if m and m.group(2).lower() in _TF_UNITS and int(m.group(1)) > 0:
            return int(m.group(1)) * _TF_UNITS[m.group(2).lower()]
    raise_error("INVALID_PARAMETER",
                f"timeframe: {tf!r} is not a timeframe (e.g. '1min', '15min', '1h', 'H4', 'D1')")


def synthetic_bars(symbol: str = "EURUSD", n: int = 100_000, timeframe: str | int = "1min",
                   seed: int = 0, *, start: Any = "2024-01-01", start_price: float | None = None,
                   ) -> Bars:
    """A realistic seeded bar series (generated in Rust): volatility regimes, session-dependent
    spread, consistent bid/ask. Same arguments, same bars, on every platform."""
    from .config import to_timestamp_us

    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise_error("INVALID_PARAMETER", f"n: must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise_error("INVALID_PARAMETER", f"seed: must be an integer >= 0, got {seed!r}")
    spec = _specs.get(symbol)
    price = start_price if start_price is not None else _specs.TYPICAL_PRICE.get(symbol, 100.0)
    start_us = to_timestamp_us(start, "start")
    assert start_us is not None
    with translate():
        inner = _core.synthetic_bars(symbol, n, parse_timeframe(timeframe), seed, start_us,
                                     spec.pip_size, float(price))
    return Bars(inner)


def as_data_map(data: Any) -> dict[str, Bars | Ticks]:
    """``data`` (one Bars/Ticks or a mapping symbol → Bars/Ticks) as a mapping."""
    if isinstance(data, Bars | Ticks):
        return {data.symbol: data}
    if isinstance(data, _core.Bars):
        return {data.symbol: Bars(data)}
    if isinstance(data, _core.Ticks):
        return {data.symbol: Ticks(data)}
    if isinstance(data, Mapping):
        out: dict[str, Bars | Ticks] = {}
        for sym, v in data.items():
            if isinstance(v, _core.Bars):
                v = Bars(v)
            elif isinstance(v, _core.Ticks):
                v = Ticks(v)
            if not isinstance(v, Bars | Ticks):
                raise_error("INVALID_PARAMETER",
                            f"data[{sym!r}]: expected Bars or Ticks (use oe.load_bars), got "
                            f"{type(v).__name__}")
            if v.symbol != sym:
                raise_error("INVALID_PARAMETER",
                            f"data[{sym!r}]: holds the bars of {v.symbol!r}")
            out[str(sym)] = v
        return out
    raise_error("INVALID_PARAMETER",
                f"data: expected Bars, Ticks or a mapping symbol → Bars (load tables with "
                f"oe.load_bars), got {type(data).__name__}")
