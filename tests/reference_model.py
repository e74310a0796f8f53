"""A pure-Python reference model of the execution rules (SEMANTICS.md §1–3, §5–7, candle mode).

Readable and slow on purpose: one class, plain floats, one rule per line, written from the rule
book rather than from the Rust code. The hypothesis tests in ``test_simulator_model.py`` drive
random signal/candle sequences through this model and through ``oe.ExecutionSimulator`` and
require identical positions, in both variants.

Scope: one or more symbols whose quote currency is the account currency (no FX conversion),
risk per trade as a fixed amount, fixed slippage (``random_pips = 0``: the random draw comes from
the engine's ChaCha stream, which this model does not re-implement), a per-lot commission with a
minimum, market orders filling at the signal bar's close (``market_fill = "signal_close"``),
limit/stop orders with an optional time to live, optional gap fills. Floating-point operations
are written in the order the rules state them, so results are expected to match bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

QUANT_GUARD = 1e-12
DEFAULT_MIN_SL_DISTANCE_PIPS = 0.1
V1_MIN_SL_DISTANCE = 1e-5


@dataclass
class Spec:
    symbol: str
    pip_size: float
    contract_size: float = 100_000.0
    tick_size: float | None = None
    tick_value: float | None = None
    volume_min: float = 0.01
    volume_step: float = 0.01
    volume_max: float = 100.0
    min_sl_distance_pips: float | None = None


@dataclass
class Candle:
    ts: int
    open: float
    high: float
    low: float
    close: float


@dataclass
class Position:
    id: int
    symbol: str
    direction: str  # "long" | "short"
    order_type: str  # "market" | "limit" | "stop"
    status: str  # "pending" | "open"
    placement_time: int
    entry_time: int
    trigger_time: int | None
    entry_price: float
    stop_loss: float
    take_profit: float
    initial_stop_loss: float
    initial_take_profit: float
    lots: float = 0.0
    value_per_price: float = 0.0
    risk_amount: float = 0.0
    entry_fee: float = 0.0
    bars_pending: int = 0


@dataclass
class Closed:
    position_id: int
    symbol: str
    direction: str
    order_type: str
    placement_time: int
    entry_time: int
    trigger_time: int | None
    exit_time: int
    entry_price: float
    exit_price: float
    lots: float
    initial_stop_loss: float
    initial_take_profit: float
    stop_loss: float
    take_profit: float
    exit_reason: str
    gross_pnl: float
    entry_fee: float
    exit_fee: float
    net_pnl: float
    r_multiple: float
    in_entry_candle: bool
    ambiguous: bool


def round_half_away(x: float) -> float:
    """Rust's f64::round (half away from zero), for x >= 0 in lot sizes."""
    f = math.floor(x)
    return f + 1.0 if x - f >= 0.5 else f


def round8(x: float) -> float:
    return round_half_away(x * 1e8) / 1e8


def ffloor(x: float) -> float:
    """Rust's f64::floor: infinities and NaN pass through."""
    return x if math.isinf(x) or math.isnan(x) else float(math.floor(x))


def fdiv(a: float, b: float) -> float:
    """IEEE division as in Rust: x/0 is ±inf (0/0 and inf/inf are NaN), never an exception."""
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def sign(direction: str) -> float:
    return 1.0 if direction == "long" else -1.0


@dataclass
class Model:
    """The simulator state and rules. ``variant`` is "v2" or "v1_parity"."""

    specs: dict[str, Spec]
    variant: str = "v2"
    risk_per_trade: float = 100.0
    pip_buffer_factor: float = 0.5
    slippage_pips: float = 0.0
    commission_per_lot: float | None = None
    commission_min_fee: float = 0.0
    gap_fills: bool = False
    pending_ttl_bars: int | None = None
    initial_balance: float = 100_000.0
    positions: list[Position] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)
    next_id: int = 0
    balance: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)
    expired: int = 0

    def __post_init__(self) -> None:
        self.balance = self.initial_balance

    @property
    def v2(self) -> bool:
        return self.variant == "v2"

    # --- §5 costs ---------------------------------------------------------------------------

    def slip(self, symbol: str, buy: bool) -> float:
        """Adverse slippage as a signed price offset: buys pay more, sells receive less."""
        off = self.slippage_pips * self.specs[symbol].pip_size
        return off if buy else -off

    def fee(self, lots: float) -> float:
        if self.commission_per_lot is None:
            return 0.0
        fee = max(self.commission_per_lot * lots, self.commission_min_fee)
        fee *= 1.0  # multiplier
        fee *= 1.0  # fee currency = account currency
        if not self.v2:
            fee = round(fee * 100.0) / 100.0  # v1: half-even to cents (Python's round)
        return fee

    # --- §6 sizing --------------------------------------------------------------------------

    def value_per_price(self, spec: Spec) -> float:
        if self.v2 and spec.tick_value is not None and spec.tick_size is not None:
            return spec.tick_value / spec.tick_size
        return spec.contract_size  # quote currency = account currency

    def size(self, spec: Spec, fill: float, stop_loss: float) -> float | None:
        vpp = self.value_per_price(spec)
        risk = self.risk_per_trade
        distance = abs(fill - stop_loss)
        if self.v2:
            raw = fdiv(risk, distance * vpp)
        else:
            stop_pips = distance / spec.pip_size
            value_per_pip = vpp * spec.pip_size
            raw = fdiv(risk, stop_pips * value_per_pip)
        vmin, step, vmax = spec.volume_min, spec.volume_step, spec.volume_max
        if self.v2:
            if math.isnan(raw) or raw - vmin + QUANT_GUARD < 0.0:
                return None  # min_lot_policy = reject
            lots = vmin + ffloor((raw - vmin + QUANT_GUARD) / step) * step
            return round8(min(lots, vmax))
        if math.isnan(raw):
            return None
        if raw <= vmin:
            return vmin
        lots = vmin + ffloor((raw - vmin + QUANT_GUARD) / step) * step
        return min(lots, vmax)

    # --- §1 validation ----------------------------------------------------------------------

    def geometry(self, direction: str, order_type: str, price: float, sl: float, tp: float,
                 spec: Spec) -> str | None:
        if not self.v2:
            if order_type == "market" and abs(price - sl) < V1_MIN_SL_DISTANCE:
                return "sl_too_close"
            return None
        if direction == "long":
            sl_ok, tp_ok = sl < price, tp > price
        else:
            sl_ok, tp_ok = sl > price, tp < price
        if not sl_ok:
            return "sl_wrong_side"
        if not tp_ok:
            return "tp_wrong_side"
        pips = spec.min_sl_distance_pips
        min_distance = (DEFAULT_MIN_SL_DISTANCE_PIPS if pips is None else pips) * spec.pip_size
        if abs(price - sl) < min_distance:
            return "sl_too_close"
        return None

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    # --- fills ------------------------------------------------------------------------------

    def fill(self, p: Position, time: int, trigger_time: int | None, price: float,
             slippage: bool, check_price: float | None) -> str | None:
        """Opens ``p`` at ``price`` (+ slippage); returns a rejection reason or None."""
        spec = self.specs[p.symbol]
        fill = price + self.slip(p.symbol, p.direction == "long") if slippage else price
        if check_price is not None:
            at = fill if self.v2 else check_price
            r = self.geometry(p.direction, p.order_type, at, p.stop_loss, p.take_profit, spec)
            if r is not None:
                return r
        lots = self.size(spec, fill, p.stop_loss)
        if lots is None:
            return "size_below_min"
        fee = self.fee(lots)
        p.status = "open"
        p.entry_time = time
        p.trigger_time = trigger_time
        p.entry_price = fill
        p.initial_stop_loss = p.stop_loss
        p.initial_take_profit = p.take_profit
        p.lots = lots
        p.value_per_price = self.value_per_price(spec)
        p.risk_amount = self.risk_per_trade
        p.entry_fee = fee
        self.balance -= fee
        return None

    # --- §2 entries -------------------------------------------------------------------------

    def process_signal(self, ts: int, symbol: str, direction: str, order_type: str,
                       entry_price: float | None, stop_loss: float, take_profit: float,
                       bid: Candle, ask: Candle | None) -> tuple[str, int | None, str | None]:
        if entry_price is not None:
            reference = entry_price
        elif direction == "long":
            reference = (ask if ask is not None else bid).close
        else:
            reference = bid.close
        p = Position(self.next_id, symbol, direction, order_type, "pending", ts, ts, None,
                     reference, stop_loss, take_profit, stop_loss, take_profit)
        if order_type == "market":
            r = self.fill(p, ts, ts, reference, True, reference)
            outcome = ("rejected", None, r) if r else ("opened", p.id, None)
        else:
            r = self.geometry(direction, order_type, reference, stop_loss, take_profit,
                              self.specs[symbol])
            outcome = ("rejected", None, r) if r else ("pending", p.id, None)
        if r:
            self.reject(r)
        else:
            self.next_id += 1
            self.positions.append(p)
        return outcome

    # --- §2 triggers and §3 exits, one bar --------------------------------------------------

    def evaluate_bar(self, symbol: str, bid: Candle, ask: Candle | None) -> None:
        if ask is None:
            assert not self.v2, "v2 needs the ask candle"
            ask = bid
        ts = bid.ts
        # Pending triggers, in creation order.
        keep = []
        for p in self.positions:
            if p.symbol != symbol or p.status != "pending" or p.placement_time >= ts:
                keep.append(p)
                continue
            e = p.entry_price
            if p.order_type == "limit":
                hit = ask.low <= e if p.direction == "long" else bid.high >= e
            else:
                hit = ask.high >= e if p.direction == "long" else bid.low <= e
            if not hit:
                p.bars_pending += 1
                ttl = self.pending_ttl_bars if self.v2 else None  # v1: no expiry
                if ttl is not None and p.bars_pending >= ttl:
                    self.expired += 1
                    continue
                keep.append(p)
                continue
            open_px = ask.open if p.direction == "long" else bid.open
            if self.v2:  # the worse of the order price and the open on the trade side
                price = max(e, open_px) if p.direction == "long" else min(e, open_px)
            else:
                price = e
            r = self.fill(p, ts, ts, price, self.v2, None)
            if r:
                self.reject(r)
                continue
            keep.append(p)
        self.positions = keep

        if self.v2:
            v1_buf = 0.0
        else:
            first_open = next((p for p in self.positions if p.status == "open"), None)
            pip = self.specs[first_open.symbol].pip_size if first_open else 0.0001
            v1_buf = pip * self.pip_buffer_factor

        # Exits, in creation order.
        keep = []
        for p in self.positions:
            if p.symbol != symbol or p.status != "open" or p.placement_time >= ts:
                keep.append(p)
                continue
            if p.entry_time < ts:
                phase = "normal"
            elif p.order_type == "market":
                phase = "fill_bar"
            else:
                phase = "trigger_bar"
            c = bid if p.direction == "long" else ask
            buf = self.specs[p.symbol].pip_size * self.pip_buffer_factor if self.v2 else v1_buf
            sl, tp = p.stop_loss, p.take_profit
            if p.direction == "long":
                sl_hit, tp_hit = c.low <= sl + buf, c.high >= tp - buf
            else:
                sl_hit, tp_hit = c.high >= sl - buf, c.low <= tp + buf
            ambiguous = sl_hit and tp_hit
            level: tuple[str, float] | None = None
            if sl_hit or tp_hit:
                if phase == "normal":
                    if self.gap_fills:
                        if p.direction == "long":
                            beyond_sl, beyond_tp = c.open <= sl, c.open >= tp
                        else:
                            beyond_sl, beyond_tp = c.open >= sl, c.open <= tp
                        if beyond_sl:
                            level = ("sl", c.open)
                        elif beyond_tp:
                            level = ("tp", c.open)
                    if level is None:
                        level = ("sl", sl) if sl_hit else ("tp", tp)
                elif phase == "fill_bar":
                    level = ("sl", sl) if sl_hit else ("tp", tp)
                else:  # the bar where a pending order triggered
                    if sl_hit:
                        level = ("sl", sl)
                    elif not self.v2 and p.order_type != "limit":
                        level = ("tp", tp)  # v1: the close check is for limit orders only
                    else:
                        beyond = c.close > tp if p.direction == "long" else c.close < tp
                        level = ("tp", tp) if beyond else None
            if level is None:
                keep.append(p)
                continue
            kind, price = level
            reason = "take_profit" if kind == "tp" else "stop_loss"  # no stop moved here
            self.close(p, ts, price, reason, ambiguous)
        self.positions = keep

    # --- §7 accounting ----------------------------------------------------------------------

    def close(self, p: Position, ts: int, price: float, reason: str, ambiguous: bool) -> None:
        buy = (p.direction == "short") if self.v2 else (p.direction == "long")
        exit_price = price + self.slip(p.symbol, buy)
        fee = self.fee(p.lots)
        d = abs(p.entry_price - p.initial_stop_loss)
        r = (exit_price - p.entry_price) * sign(p.direction) / d if d > 0.0 else 0.0
        if self.v2:
            gross = (exit_price - p.entry_price) * sign(p.direction) * p.lots * p.value_per_price
        else:
            gross = r * p.risk_amount
        self.balance += gross - fee
        self.closed.append(Closed(
            p.id, p.symbol, p.direction, p.order_type, p.placement_time, p.entry_time,
            p.trigger_time, ts, p.entry_price, exit_price, p.lots, p.initial_stop_loss,
            p.initial_take_profit, p.stop_loss, p.take_profit, reason, gross, p.entry_fee, fee,
            gross - p.entry_fee - fee, r,
            p.trigger_time == ts and p.placement_time < ts, ambiguous,
        ))
