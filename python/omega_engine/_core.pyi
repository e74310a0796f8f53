"""Type stub of the Rust extension ``omega_engine._core`` (hand-written, checked by mypy.stubtest).

The extension is thin: it converts, calls the Rust crates and maps errors. Every Rust error becomes
``OmegaCoreError`` (or a subclass chosen from the code's range, see ``omega_engine.errors``) whose
message starts with ``[NNNN]``; the numeric code is on the ``code`` attribute.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

__version__: str

class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class _ArrowArrayExportable(Protocol):
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

ArrowTabular = _ArrowStreamExportable | _ArrowArrayExportable

class OmegaCoreError(Exception):
    """Raised by the extension for every Rust error; ``code`` is the numeric error code."""

    code: int

def error_codes() -> list[tuple[int, str, str]]:
    """The error-code table (code, NAME, description), ascending: the single source of codes."""

def schemas() -> dict[str, pa.Schema]:
    """Every Arrow schema that crosses the boundary, by name (bars, ticks, signals, trades, ...)."""

class Bars:
    """Validated bid/ask bars of one symbol, held in Rust (zero-copy from Arrow)."""

    def __init__(
        self,
        symbol: str,
        table: ArrowTabular,
        *,
        spread_pips: float | None = None,
        pip_size: float | None = None,
    ) -> None: ...
    @property
    def symbol(self) -> str: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> pa.Table: ...
    def slice(self, start: int, end: int) -> Bars: ...
    def timestamps(self) -> pa.Array: ...

class Ticks:
    """Validated ticks (timestamp, bid, ask) of one symbol, held in Rust."""

    def __init__(self, symbol: str, table: ArrowTabular) -> None: ...
    @property
    def symbol(self) -> str: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> pa.Table: ...

def synthetic_bars(
    symbol: str, n: int, timeframe_us: int, seed: int, start_us: int, pip_size: float, start_price: float
) -> Bars: ...
def canonical_config(config_json: str) -> tuple[str, str]:
    """Validates one config; returns (canonical JSON, config_id as 16 hex digits)."""

def run_many(
    configs_json: Sequence[str],
    bars: Mapping[str, Bars],
    *,
    ticks: Mapping[str, Ticks] | None = None,
    signals: Mapping[str, ArrowTabular] | None = None,
    threads: int | None = None,
    include_trades: bool = True,
    include_equity: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """Runs every config (GIL released, rayon pool of ``threads``); returns (summary, trades,
    equity) in config order. Failed configs carry ``error_code``/``error`` in the summary.
    Ctrl-C raises KeyboardInterrupt within ~0.1 s. ``progress(done, total)`` is called on the
    calling thread."""

class ExecutionSimulator:
    """The seed document's execution simulator API, backed by omega-exec-core."""

    def __init__(
        self,
        *,
        risk_per_trade: float = 100.0,
        pip_buffer_factor: float = 0.5,
        symbol_specs: Sequence[Mapping[str, Any]] = (),
        slippage: Mapping[str, float] | None = None,
        commission: Mapping[str, Any] | None = None,
        fees: Mapping[str, float] | None = None,
        base_seed: int = 0,
        execution_variant: str = "v2",
        account_currency: str = "USD",
        initial_balance: float = 100_000.0,
        fx_rates: Mapping[str, float] | None = None,
        market_fill: str = "signal_close",
        gap_fills: bool = False,
        pending_ttl_bars: int | None = None,
        min_lot_policy: str = "reject",
    ) -> None: ...
    def process_signals_batch(self, signals: ArrowTabular, bid: ArrowTabular, ask: ArrowTabular | None = None) -> pa.Table:
        """Processes every signal row against its signal bar (bid/ask rows aligned with the signals);
        returns one outcome row per signal (position_id or rejection reason)."""
    def evaluate_exits_batch(self, symbol: str, bid: ArrowTabular, ask: ArrowTabular | None = None) -> int:
        """Evaluates the bars in order (triggers then exits); returns the number of positions closed."""
    def process_signal_tick(self, signal: Mapping[str, Any], tick: Mapping[str, Any]) -> str: ...
    def evaluate_exits_tick(self, symbol: str, tick: Mapping[str, Any]) -> int: ...
    def active_positions(self) -> pa.Table: ...
    def closed_positions(self) -> pa.Table:
        """Every position closed so far (all of them, not only since the last call)."""
    def stats(self) -> dict[str, float]: ...
