"""``ExecutionSimulator``: the seed document's execution-simulator API, backed by Rust.

For users with their own event loop: feed signals and candles (or ticks), read positions back as
pyarrow Tables. The rules are SEMANTICS §1–6 in the chosen variant (``"v2"`` or ``"v1_parity"``);
there is no Python fallback. The environment variable ``OMEGA_USE_RUST_EXECUTION_SIMULATOR`` may
be unset or ``always``; any other value is a configuration error (``ValueError``).

Single events (``process_signal``, ``evaluate_exits``) cost one Python→Rust call each; tables of
events (``process_signals_batch``, ``evaluate_exits_batch``) cost one call per table. Every call is
atomic: when it raises, the simulator is as it was before the call.

>>> sim = ExecutionSimulator(risk_per_trade=100.0)
>>> sim.process_signal({"timestamp": t, "symbol": "EURUSD", "direction": "long",
...                     "entry_price": 1.1000, "stop_loss": 1.0980, "take_profit": 1.1040})
>>> sim.evaluate_exits({"timestamp": t2, "open": ..., "high": ..., "low": ..., "close": ...},
...                    ask_candle)
>>> sim.closed_positions        # pyarrow.Table
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from . import data as _data
from . import specs as _specs
from .config import resolve_costs, to_timestamp_us
from .errors import raise_error, translate

__all__ = ["ExecutionSimulator", "ENV_VAR"]

ENV_VAR = "OMEGA_USE_RUST_EXECUTION_SIMULATOR"


def _require_always() -> None:
    value = os.environ.get(ENV_VAR)
    if value is None or value.strip().lower() == "always":
        return
    raise_error("INVALID_PARAMETER",
                f"{ENV_VAR}={value!r}: only 'always' (or unset) is supported; there is no "
                "Python fallback of the execution simulator")


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """A field of a mapping or an object, trying several names."""
    for n in names:
        if isinstance(obj, Mapping):
            if n in obj:
                return obj[n]
        elif hasattr(obj, n):
            return getattr(obj, n)
    return default


def _ts(obj: Any, what: str) -> int:
    t = _get(obj, "timestamp", "ts", "time")
    if t is None:
        raise_error("INVALID_PARAMETER", f"{what}.timestamp: is required")
    us = to_timestamp_us(t, f"{what}.timestamp")
    assert us is not None
    return us


def _opt_price(v: Any, field: str) -> float | None:
    return None if v is None else _price(v, field)


def _price(v: Any, field: str) -> float:
    if v is None:
        raise_error("INVALID_PARAMETER", f"{field}: is required")
    if isinstance(v, bool) or not isinstance(v, int | float):
        item = getattr(v, "item", None)
        if callable(item):
            v = item()
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise_error("INVALID_PARAMETER", f"{field}: must be a number, got {v!r}")
    return float(v)


def _ohlc(candle: Any, what: str) -> tuple[int, tuple[float, float, float, float]]:
    ts = _ts(candle, what)
    vals = []
    for name in ("open", "high", "low", "close"):
        vals.append(_price(_get(candle, name), f"{what}.{name}"))
    return ts, (vals[0], vals[1], vals[2], vals[3])


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


class ExecutionSimulator:
    """Rust-backed execution simulator.

    Parameters
    ----------
    portfolio:
        Accepted for compatibility with the seed API (stored as ``.portfolio``; the simulator
        keeps its own accounting, see :meth:`stats`).
    risk_per_trade:
        Risk per trade in account currency (or use ``risk_percent`` of equity).
    symbol_specs:
        Specs of the tradable symbols: a list of ``SymbolSpec``/mappings, a mapping symbol →
        spec, or None for every registry spec tradable in the account currency.
    pip_buffer_factor, execution_variant, market_fill, gap_fills, pending_ttl_bars,
    min_lot_policy:
        Execution rules (SEMANTICS §2–3, §6).
    slippage:
        ``{"fixed_pips": ..., "random_pips": ...}`` (always adverse, seeded per event).
    commission:
        A commission model ``{"schema": "per_lot" | "per_million_notional" |
        "percent_of_notional", "rate": ..., "side": ..., "min_fee": ..., "multiplier": ...,
        "currency": ...}``, or ``{"default": model, "per_symbol": {symbol: model}}``.
    fees:
        The legacy fee model ``{"per_million": ..., "min_fee": ...}`` (used only without a
        commission model).
    base_seed:
        Seed of the slippage RNG.
    """

    def __init__(
        self,
        portfolio: Any = None,
        risk_per_trade: float | None = 100.0,
        symbol_specs: Iterable[Any] | Mapping[str, Any] | None = None,
        *,
        pip_buffer_factor: float = 0.5,
        slippage: Mapping[str, float] | None = None,
        commission: Mapping[str, Any] | None = None,
        fees: Mapping[str, float] | None = None,
        base_seed: int = 0,
        execution_variant: str = "v2",
        account_currency: str = "USD",
        initial_balance: float = 100_000.0,
        risk_percent: float | None = None,
        fx_rates: Mapping[str, Any] | None = None,
        market_fill: str = "signal_close",
        gap_fills: bool = False,
        pending_ttl_bars: int | None = None,
        min_lot_policy: str = "reject",
        costs: Any = None,
    ) -> None:
        _require_always()
        self.portfolio = portfolio
        account: dict[str, Any] = {"currency": account_currency,
                                   "initial_balance": initial_balance}
        if risk_percent is not None:
            account["risk_percent"] = risk_percent
        elif risk_per_trade is not None:
            account["risk_per_trade"] = risk_per_trade
        if fx_rates:
            account["fx_rates"] = dict(fx_rates)
        cost_cfg: dict[str, Any] = dict(resolve_costs(costs) or {})
        if slippage is not None:
            cost_cfg["slippage"] = dict(slippage)
        if commission is not None:
            c = dict(commission)
            cost_cfg["commission"] = c if ("default" in c or "per_symbol" in c) else {"default": c}
        if fees is not None:
            cost_cfg["legacy_fee"] = dict(fees)
        execution: dict[str, Any] = {
            "variant": execution_variant,
            "pip_buffer_factor": pip_buffer_factor,
            "market_fill": market_fill,
            "gap_fills": gap_fills,
            "min_lot_policy": min_lot_policy,
        }
        if pending_ttl_bars is not None:
            execution["pending_ttl_bars"] = pending_ttl_bars
        resolved = _specs.resolve_many(symbol_specs)
        options = {
            "execution": execution,
            "account": account,
            "costs": cost_cfg,
            "seed": base_seed,
            "symbol_specs": [
                dict(s.to_config(account_currency), symbol=s.symbol) for s in resolved.values()
            ],
            # Without explicit specs, registry symbols the account cannot value are left out.
            "skip_unroutable": symbol_specs is None,
        }
        try:
            text = json.dumps(options, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise_error("INVALID_PARAMETER", f"simulator options: {exc}")
        with translate():
            self._sim = _core.ExecutionSimulator(text)
        self.execution_variant = execution_variant
        self.risk_per_trade = risk_per_trade

    # --- candle mode ----------------------------------------------------------------------

    def process_signal(self, signal: Any, bid_candle: Any = None,
                       ask_candle: Any = None) -> dict[str, Any]:
        """Validates and executes one signal against its signal bar.

        ``signal``: a mapping or object with ``timestamp``, ``symbol``, ``direction``
        (long/short), ``order_type`` (or ``type``; market/limit/stop), ``entry_price``,
        ``stop_loss``, ``take_profit`` and optional ``reason``, ``scenario``, ``tags``. The bar
        candles are needed for a market order without an entry price (ask for long in v2).
        Returns ``{"status": "opened" | "pending" | "rejected", "position_id", "reject_reason"}``.
        """
        ts = _ts(signal, "signal")
        entry = _opt_price(_get(signal, "entry_price", "entry"), "signal.entry_price")
        if bid_candle is None:
            if entry is None:
                raise_error("INVALID_PARAMETER",
                            "signal.entry_price: is missing, so the signal bar's candles are "
                            "needed (process_signal(signal, bid_candle, ask_candle))")
            bid = (entry, entry, entry, entry)
            ask: tuple[float, float, float, float] | None = bid
        else:
            bts, bid = _ohlc(bid_candle, "bid_candle")
            ask = None if ask_candle is None else _ohlc(ask_candle, "ask_candle")[1]
            if bts != ts:
                raise_error("INVALID_PARAMETER",
                            f"bid_candle.timestamp: {bts} is not the signal's timestamp {ts}")
        return self._submit(self._sim.process_signal, ts, signal, entry, bid, ask)

    def process_signals_batch(self, signals: Any, bid: Any = None, ask: Any = None) -> pa.Table:
        """Every row of a signals table (DESIGN §3 columns) in order, each against its signal
        bar: ``bid``/``ask`` are tables of timestamp/open/high/low/close aligned row by row with
        the signals (optional when every row has an entry price). Returns one outcome row per
        signal: ``row``, ``status``, ``position_id``, ``reject_reason``."""
        table = _data.normalize_signals(_data.read_table(signals, "signals"), "signals")
        if bid is None:
            bid_t = _flat_candles(table)
            ask_t = bid_t
        else:
            bid_t = _candles(bid, "bid")
            ask_t = None if ask is None else _candles(ask, "ask")
        with translate():
            return self._sim.process_signals_batch(table, bid_t, ask_t)

    def evaluate_exits(self, bid_candle: Any, ask_candle: Any = None, *,
                       symbol: str | None = None) -> int:
        """One bar: pending triggers, then SL/TP exits. The symbol is ``symbol``, the candle's
        ``symbol`` field, or (as in the seed API) every symbol with active positions. Returns the
        number of positions closed."""
        ts, bid = _ohlc(bid_candle, "bid_candle")
        ask = None
        if ask_candle is not None:
            ats, ask = _ohlc(ask_candle, "ask_candle")
            if ats != ts:
                raise_error("BID_ASK_MISMATCH",
                            f"ask_candle.timestamp: {ats} differs from bid_candle's {ts}")
        sym = symbol or _get(bid_candle, "symbol")
        symbols = [str(sym)] if sym is not None else self._sim.active_symbols()
        closed = 0
        with translate():
            for s in symbols:
                closed += self._sim.evaluate_bar(s, ts, bid, ask)
        return closed

    def evaluate_exits_batch(self, bid: Any, ask: Any = None, *,
                             symbol: str | None = None) -> int:
        """Bars in order (tables of timestamp/open/high/low/close, plus a ``symbol`` column
        unless ``symbol`` is given): triggers then exits per bar. Returns positions closed."""
        bid_t = _candles(bid, "bid")
        ask_t = None if ask is None else _candles(ask, "ask")
        if symbol is None and "symbol" not in bid_t.column_names:
            syms = self._sim.active_symbols()
            if len(syms) != 1:
                raise_error("INVALID_PARAMETER",
                            "symbol: pass symbol=... or a symbol column (the active positions "
                            f"are of {len(syms)} symbols)")
            symbol = syms[0]
        with translate():
            return self._sim.evaluate_exits_batch(bid_t, ask_t, symbol=symbol)

    # --- tick mode ------------------------------------------------------------------------

    def process_signal_tick(self, signal: Any, tick: Any) -> dict[str, Any]:
        """One signal against a tick (``timestamp``, ``bid``, ``ask``); SEMANTICS §4."""
        ts = _ts(signal, "signal")
        tts = _ts(tick, "tick")
        if tts != ts:
            raise_error("INVALID_PARAMETER",
                        f"tick.timestamp: {tts} is not the signal's timestamp {ts}")
        entry = _opt_price(_get(signal, "entry_price", "entry"), "signal.entry_price")
        bid = _price(_get(tick, "bid"), "tick.bid")
        ask = _price(_get(tick, "ask"), "tick.ask")
        return self._submit(self._sim.process_signal_tick, ts, signal, entry, bid, ask)

    @staticmethod
    def _submit(process: Any, ts: int, signal: Any, entry: float | None, bid: Any,
                ask: Any) -> dict[str, Any]:
        """Reads the signal's stops, symbol, direction, type and metadata and hands it to
        ``process`` (``process_signal`` on candles or ``process_signal_tick``)."""
        sl = _price(_get(signal, "stop_loss", "sl"), "signal.stop_loss")
        tp = _price(_get(signal, "take_profit", "tp"), "signal.take_profit")
        with translate():
            status, pid, rej = process(
                ts, str(_get(signal, "symbol")), str(_get(signal, "direction")),
                _text(_get(signal, "order_type", "type")), entry, sl, tp, bid, ask,
                _text(_get(signal, "reason")), _text(_get(signal, "scenario")),
                _text(_get(signal, "tags")),
            )
        return {"status": status, "position_id": pid, "reject_reason": rej}

    def evaluate_exits_tick(self, tick: Any, *, symbol: str | None = None) -> int:
        """One tick: triggers then exits (no pip buffer). Returns positions closed."""
        ts = _ts(tick, "tick")
        bid = _price(_get(tick, "bid"), "tick.bid")
        ask = _price(_get(tick, "ask"), "tick.ask")
        sym = symbol or _get(tick, "symbol")
        symbols = [str(sym)] if sym is not None else self._sim.active_symbols()
        closed = 0
        with translate():
            for s in symbols:
                closed += self._sim.evaluate_tick(s, ts, bid, ask)
        return closed

    # --- manual actions and state ---------------------------------------------------------

    def close_position(self, position_id: int, timestamp: Any, bid_close: float,
                       ask_close: float, reason: str = "signal_exit") -> None:
        """Closes an open position at the bar close on its exit side (timeout, signal_exit or
        end_of_data)."""
        try:
            pid = None if isinstance(position_id, bool) else operator.index(position_id)
        except TypeError:
            pid = None
        if pid is None or not 0 <= pid < 2**64:
            # Ids are u64 in the engine; anything else cannot name a position.
            raise_error("INVALID_PARAMETER",
                        f"position_id: expected an id >= 0 from active_positions, got "
                        f"{position_id!r}")
        ts = to_timestamp_us(timestamp, "timestamp")
        assert ts is not None
        with translate():
            self._sim.close_position(pid, ts, _price(bid_close, "bid_close"),
                                     _price(ask_close, "ask_close"), str(reason))

    def cancel_pending(self, symbol: str) -> int:
        """Drops the pending orders of ``symbol``; returns how many."""
        with translate():
            return self._sim.cancel_pending(symbol)

    @property
    def active_positions(self) -> pa.Table:
        """Pending orders and open positions, in creation order."""
        with translate():
            return self._sim.active_positions()

    @property
    def closed_positions(self) -> pa.Table:
        """Every position closed so far, in closing order."""
        with translate():
            return self._sim.closed_positions()

    @property
    def symbols(self) -> list[str]:
        return self._sim.symbols()

    def stats(self) -> dict[str, float]:
        """Signals processed, rejections per reason, orders expired/cancelled, fees, balance."""
        return dict(self._sim.stats())

    @property
    def balance(self) -> float:
        return float(self._sim.stats()["balance"])

    def set_equity(self, equity: float) -> None:
        """The equity ``risk_percent`` sizing uses for the next fills."""
        with translate():
            self._sim.set_equity(float(equity))


def _candles(source: Any, what: str) -> pa.Table:
    table = _data.read_table(source, what)
    names = {n.strip().lower(): n for n in table.column_names}
    cols: dict[str, Any] = {
        "timestamp": _data.to_timestamps(table.column(_data._find_time_column(table, what)), what)
    }
    for k in ("open", "high", "low", "close"):
        if k not in names:
            raise_error("SCHEMA_VIOLATION", f"{what}.{k}: column is missing")
        cols[k] = _data._f64(table.column(names[k]), f"{what}.{k}")
    if "symbol" in names:
        col = table.column(names["symbol"])
        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        cols["symbol"] = col
    return pa.table(cols).combine_chunks()


def _flat_candles(signals: pa.Table) -> pa.Table:
    """Candles at each signal's entry price (for batches of signals that all carry one)."""
    if "entry_price" not in signals.column_names:
        raise_error("INVALID_PARAMETER",
                    "signals.entry_price: missing, so bid (and ask) candles are needed")
    entry = signals.column("entry_price")
    if entry.null_count:
        row = pc.index(pc.is_null(entry), True).as_py()
        raise_error("INVALID_PARAMETER",
                    f"signals.entry_price: null at signal row {row}; pass bid=/ask= candles "
                    "aligned with the signals")
    ts = signals.column("timestamp")
    return pa.table({"timestamp": ts, "open": entry, "high": entry, "low": entry,
                     "close": entry}).combine_chunks()
