"""Type stub of the Rust extension ``omega_engine._core`` (hand-written, checked by mypy.stubtest).

The extension is thin: it converts, calls the Rust crates and maps errors. Every Rust error becomes
``OmegaCoreError`` whose message starts with ``[NNNN]``; the numeric code is on the ``code``
attribute (``omega_engine.errors.from_core`` maps it onto the exception hierarchy). A Rust panic
caught at the boundary is code 5005.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, final

import pyarrow as pa

__all__ = [
    "__version__",
    "Bars",
    "CostInputs",
    "ExecutionSimulator",
    "OmegaCoreError",
    "Ticks",
    "canonical_config",
    "check_formula",
    "column_docs",
    "error_codes",
    "run_many",
    "schemas",
    "synthetic_bars",
]
__version__: str

class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class _ArrowArrayExportable(Protocol):
    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...

_ArrowTabular = _ArrowStreamExportable | _ArrowArrayExportable
_OHLC = tuple[float, float, float, float]
_Outcome = tuple[str, int | None, str | None]

class OmegaCoreError(Exception):
    """Raised by the extension for every Rust error; ``code`` is the numeric error code."""

    code: int

def error_codes() -> list[tuple[int, str, str]]:
    """The error-code table (code, NAME, description), ascending: the single source of codes."""

def schemas() -> dict[str, pa.Schema]:
    """Every Arrow schema that crosses the boundary, by name (bars, ticks, signals, summary,
    trades, equity, simulator_outcomes, simulator_positions, simulator_closed)."""

def column_docs() -> list[tuple[str, str, str]]:
    """(table, column, documentation) for every fixed column of the result tables."""

@final
class Bars:
    """Validated bid/ask bars of one symbol, held in Rust (zero-copy from Arrow)."""

    def __new__(
        cls,
        symbol: str,
        table: _ArrowTabular,
        *,
        spread_pips: float | None = None,
        pip_size: float | None = None,
    ) -> Bars: ...
    @staticmethod
    def from_sides(
        symbol: str,
        bid: _ArrowTabular,
        ask: _ArrowTabular | None = None,
        *,
        spread_pips: float | None = None,
        pip_size: float | None = None,
    ) -> Bars: ...
    @property
    def symbol(self) -> str: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> pa.Table: ...
    def slice(self, start: int, end: int) -> Bars: ...
    def timestamps(self) -> pa.Array: ...

@final
class Ticks:
    """Validated ticks (timestamp, bid, ask) of one symbol, held in Rust."""

    def __new__(
        cls,
        symbol: str,
        table: _ArrowTabular,
        *,
        spread_pips: float | None = None,
        pip_size: float | None = None,
    ) -> Ticks: ...
    @property
    def symbol(self) -> str: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> pa.Table: ...

@final
class CostInputs:
    """What a ``PythonCallable`` cost model receives: the order's fields (the formula variables,
    see ``omega_engine.costs``) and ``ts`` (µs since the epoch, UTC)."""

    @property
    def lots(self) -> float: ...
    @property
    def price(self) -> float: ...
    @property
    def notional(self) -> float: ...
    @property
    def contract_size(self) -> float: ...
    @property
    def pip(self) -> float: ...
    @property
    def side(self) -> float: ...
    @property
    def direction(self) -> float: ...
    @property
    def is_entry(self) -> float: ...
    @property
    def hour(self) -> float: ...
    @property
    def minute(self) -> float: ...
    @property
    def weekday(self) -> float: ...
    @property
    def atr(self) -> float: ...
    @property
    def spread(self) -> float: ...
    @property
    def u(self) -> float: ...
    @property
    def ts(self) -> int: ...

def synthetic_bars(
    symbol: str,
    n: int,
    timeframe_us: int,
    seed: int,
    start_us: int,
    pip_size: float,
    start_price: float,
) -> Bars: ...
def check_formula(expr: str) -> list[str]:
    """Parses a cost formula (1008 FORMULA_SYNTAX with the column); returns its variables."""

def canonical_config(config_json: str) -> tuple[str, str]:
    """Validates one config; returns (canonical JSON, config_id as 16 hex digits)."""

def run_many(
    configs_json: Sequence[str],
    bars: Mapping[str, Bars],
    *,
    ticks: Mapping[str, Ticks] | None = None,
    signals: Mapping[str, _ArrowTabular] | None = None,
    threads: int | None = None,
    include_trades: bool = True,
    include_equity: bool = False,
    progress: Callable[[int, int], object] | None = None,
    memory_budget_bytes: int | None = None,
    cost_callbacks: Mapping[str, Callable[[CostInputs], float]] | None = None,
    _panic_on_config: int | None = None,
) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """Runs every config (GIL released, rayon pool of ``threads``); returns (summary, trades,
    equity) in config order. Failed configs carry ``error_code``/``error`` in the summary; an
    invalid config raises before anything runs. Ctrl-C raises KeyboardInterrupt within ~0.1 s.
    ``progress(done, total)`` is called on the calling thread. ``_panic_on_config`` is a test
    hook (the run of that config index panics)."""

@final
class ExecutionSimulator:
    """The seed document's execution simulator API, backed by omega-exec-core.

    ``options_json``: ``{"execution": {...}, "account": {...}, "costs": {...}, "seed": n,
    "symbol_specs": [{"symbol": ..., "pip_size": ..., ...}], "skip_unroutable": bool}`` (the
    sections as in a run config). Every mutating call is atomic."""

    def __new__(cls, options_json: str) -> ExecutionSimulator: ...
    def symbols(self) -> list[str]: ...
    def process_signal(
        self,
        ts: int,
        symbol: str,
        direction: str,
        order_type: str | None,
        entry_price: float | None,
        stop_loss: float,
        take_profit: float,
        bid: _OHLC,
        ask: _OHLC | None = None,
        reason: str | None = None,
        scenario: str | None = None,
        tags: str | None = None,
    ) -> _Outcome: ...
    def process_signals_batch(
        self, signals: _ArrowTabular, bid: _ArrowTabular, ask: _ArrowTabular | None = None
    ) -> pa.Table:
        """Processes every signal row against its signal bar (bid/ask rows aligned with the
        signals); returns one outcome row per signal (row, status, position_id, reject_reason)."""
    def evaluate_bar(self, symbol: str, ts: int, bid: _OHLC, ask: _OHLC | None = None) -> int: ...
    def evaluate_exits_batch(
        self, bid: _ArrowTabular, ask: _ArrowTabular | None = None, *, symbol: str | None = None
    ) -> int:
        """Evaluates the bars in order (triggers then exits); returns the number closed."""
    def process_signal_tick(
        self,
        ts: int,
        symbol: str,
        direction: str,
        order_type: str | None,
        entry_price: float | None,
        stop_loss: float,
        take_profit: float,
        bid: float,
        ask: float,
        reason: str | None = None,
        scenario: str | None = None,
        tags: str | None = None,
    ) -> _Outcome: ...
    def evaluate_tick(self, symbol: str, ts: int, bid: float, ask: float) -> int: ...
    def close_position(
        self, position_id: int, ts: int, bid_close: float, ask_close: float, reason: str
    ) -> None: ...
    def cancel_pending(self, symbol: str) -> int: ...
    def active_positions(self) -> pa.Table: ...
    def closed_positions(self) -> pa.Table:
        """Every position closed so far (all of them, not only since the last call)."""
    def active_symbols(self) -> list[str]: ...
    def stats(self) -> dict[str, float]: ...
    def set_equity(self, equity: float) -> None: ...
    def _panic_for_tests(self) -> None: ...
