//! Plain data types shared by every part of the simulator and by its callers.
//!
//! Time is `i64` microseconds since the Unix epoch, UTC; candle timestamps are bar open times.

/// Microseconds since the Unix epoch, UTC.
pub type TimestampUs = i64;

/// Index of a symbol in the simulator's spec table (dense, assigned at construction).
pub type SymbolId = u16;

/// Identifier of a position, unique within one simulator, assigned in creation order.
pub type PositionId = u64;

/// Trade direction: long buys, short sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Long,
    Short,
}

impl Direction {
    /// +1.0 for long, −1.0 for short.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }

    pub fn opposite(self) -> Direction {
        match self {
            Direction::Long => Direction::Short,
            Direction::Short => Direction::Long,
        }
    }
}

/// How an order enters the market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    Market,
    Limit,
    Stop,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::Stop => "stop",
        }
    }

    pub fn is_pending(self) -> bool {
        !matches!(self, OrderType::Market)
    }
}

/// Execution variant (SEMANTICS preamble).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Variant {
    /// The canonical, corrected model.
    #[default]
    V2,
    /// Rule-for-rule reproduction of the legacy Python simulator, quirks included.
    V1Parity,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::V2 => "v2",
            Variant::V1Parity => "v1_parity",
        }
    }
}

/// One OHLC candle of one side (bid or ask).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    pub ts: TimestampUs,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// Bars of one symbol as columns, both sides: row `i` is the bid candle
/// `(ts[i], bid_open[i], bid_high[i], bid_low[i], bid_close[i])` and the ask candle of the same
/// time. For [`crate::ExecutionSimulator::advance_quiet`], which walks many bars in one call.
#[derive(Clone, Copy, Debug)]
pub struct CandleColumns<'a> {
    pub ts: &'a [TimestampUs],
    pub bid_open: &'a [f64],
    pub bid_high: &'a [f64],
    pub bid_low: &'a [f64],
    pub bid_close: &'a [f64],
    pub ask_open: &'a [f64],
    pub ask_high: &'a [f64],
    pub ask_low: &'a [f64],
    pub ask_close: &'a [f64],
}

impl<'a> CandleColumns<'a> {
    /// The shortest column's length (rows readable in every column).
    pub fn len(&self) -> usize {
        [
            self.bid_open.len(),
            self.bid_high.len(),
            self.bid_low.len(),
            self.bid_close.len(),
            self.ask_open.len(),
            self.ask_high.len(),
            self.ask_low.len(),
            self.ask_close.len(),
        ]
        .into_iter()
        .fold(self.ts.len(), usize::min)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` rows (all columns cut to the same length, which lets the compiler drop
    /// bounds checks in loops over `0..n`). Panics when `n` exceeds a column's length.
    #[inline]
    pub fn prefix(&self, n: usize) -> CandleColumns<'a> {
        CandleColumns {
            ts: &self.ts[..n],
            bid_open: &self.bid_open[..n],
            bid_high: &self.bid_high[..n],
            bid_low: &self.bid_low[..n],
            bid_close: &self.bid_close[..n],
            ask_open: &self.ask_open[..n],
            ask_high: &self.ask_high[..n],
            ask_low: &self.ask_low[..n],
            ask_close: &self.ask_close[..n],
        }
    }

    /// The bid candle of row `i` (panics when out of range).
    #[inline(always)]
    pub fn bid_candle(&self, i: usize) -> Candle {
        Candle {
            ts: self.ts[i],
            open: self.bid_open[i],
            high: self.bid_high[i],
            low: self.bid_low[i],
            close: self.bid_close[i],
        }
    }

    /// The ask candle of row `i` (panics when out of range).
    #[inline(always)]
    pub fn ask_candle(&self, i: usize) -> Candle {
        Candle {
            ts: self.ts[i],
            open: self.ask_open[i],
            high: self.ask_high[i],
            low: self.ask_low[i],
            close: self.ask_close[i],
        }
    }
}

/// One quote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    pub ts: TimestampUs,
    pub bid: f64,
    pub ask: f64,
}

/// A trading signal (SEMANTICS §1). Strings live with the caller: `meta` is an opaque index the
/// caller uses to find reason/scenario/tags, carried unchanged into the position records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signal {
    pub ts: TimestampUs,
    pub symbol: SymbolId,
    pub direction: Direction,
    pub order_type: OrderType,
    /// Entry (or order) price; `None` for a market order filling at the signal bar's close.
    pub entry_price: Option<f64>,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub meta: u32,
}

/// Instrument specification (DESIGN §3).
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolSpec {
    pub symbol: String,
    pub pip_size: f64,
    pub tick_size: Option<f64>,
    pub tick_value: Option<f64>,
    pub contract_size: f64,
    pub volume_min: f64,
    pub volume_step: f64,
    pub volume_max: f64,
    pub base_currency: String,
    pub quote_currency: String,
    /// Minimum |fill − SL| in pips; `None` means the default of 0.1 pip.
    pub min_sl_distance_pips: Option<f64>,
}

/// Why the stop of a position has its current value (drives the exit reason, SEMANTICS §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopKind {
    Initial,
    BreakEven,
    Trailing,
}

/// Why a position closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    BreakEvenStopLoss,
    TrailingStop,
    Timeout,
    EndOfData,
    SignalExit,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::BreakEvenStopLoss => "break_even_stop_loss",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::Timeout => "timeout",
            ExitReason::EndOfData => "end_of_data",
            ExitReason::SignalExit => "signal_exit",
        }
    }
}

/// Why a geometrically impossible signal was rejected (SEMANTICS §1, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    SlWrongSide,
    TpWrongSide,
    SlTooClose,
    SizeBelowMin,
}

impl RejectReason {
    pub const ALL: [RejectReason; 4] = [
        RejectReason::SlWrongSide,
        RejectReason::TpWrongSide,
        RejectReason::SlTooClose,
        RejectReason::SizeBelowMin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::SlWrongSide => "sl_wrong_side",
            RejectReason::TpWrongSide => "tp_wrong_side",
            RejectReason::SlTooClose => "sl_too_close",
            RejectReason::SizeBelowMin => "size_below_min",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Lifecycle state of a position held by the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PositionStatus {
    /// A limit/stop order waiting for its trigger.
    Pending,
    /// Filled and in the market.
    Open,
}

/// A pending order or open position (SEMANTICS §2–3).
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub id: PositionId,
    pub symbol: SymbolId,
    pub direction: Direction,
    pub order_type: OrderType,
    pub status: PositionStatus,
    /// Timestamp of the signal bar (placement time of pending orders).
    pub placement_time: TimestampUs,
    /// Entry time: the signal bar for market orders, the trigger bar for pending orders.
    pub entry_time: TimestampUs,
    /// Bar (or tick) where the order filled; `None` while pending (and for v1 tick market orders).
    pub trigger_time: Option<TimestampUs>,
    /// Order price for pending orders, fill price (slippage included) once open.
    pub entry_price: f64,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub initial_stop_loss: f64,
    pub initial_take_profit: f64,
    /// Why the stop has its current value.
    pub stop_kind: StopKind,
    /// Size in lots; 0 while pending.
    pub lots: f64,
    /// Account-currency value of a 1.0 price move for one lot, fixed at the fill.
    pub value_per_price: f64,
    /// Risk amount (account currency) the size was computed for; 0 while pending. v1 books
    /// `R * risk_amount` as gross PnL (SEMANTICS §7).
    pub risk_amount: f64,
    /// Commission booked at entry (account currency).
    pub entry_fee: f64,
    /// Swaps booked so far (account currency, signed: positive was credited).
    pub swap: f64,
    /// Number of bars evaluated since the fill (for max_holding_bars).
    pub bars_held: u32,
    /// Bars since placement while pending (for pending_ttl_bars).
    pub bars_pending: u32,
    /// Best exit-side price seen since the fill (for break-even and trailing).
    pub best_price: f64,
    /// Caller's opaque index for reason/scenario/tags.
    pub meta: u32,
}

impl Position {
    /// Unrealized PnL (account currency) of an open position marked on its exit side: long at
    /// `bid_close`, short at `ask_close`.
    #[inline(always)]
    pub fn unrealized_pnl(&self, bid_close: f64, ask_close: f64) -> f64 {
        self.pnl_at(match self.direction {
            Direction::Long => bid_close,
            Direction::Short => ask_close,
        })
    }

    /// Unrealized PnL at `mark`, a price of the exit side (bid for long, ask for short).
    #[inline(always)]
    pub fn pnl_at(&self, mark: f64) -> f64 {
        (mark - self.entry_price) * self.direction.sign() * self.lots * self.value_per_price
    }
}

/// A closed position: the full record the trades table is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedPosition {
    pub id: PositionId,
    pub symbol: SymbolId,
    pub direction: Direction,
    pub order_type: OrderType,
    pub placement_time: TimestampUs,
    pub entry_time: TimestampUs,
    pub trigger_time: Option<TimestampUs>,
    pub exit_time: TimestampUs,
    pub entry_price: f64,
    pub exit_price: f64,
    pub lots: f64,
    pub initial_stop_loss: f64,
    pub initial_take_profit: f64,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub reason: ExitReason,
    pub entry_fee: f64,
    pub exit_fee: f64,
    /// Overnight financing booked while the position was held (0 unless a swap model is set;
    /// signed: positive was credited). `net_pnl = gross_pnl − entry_fee − exit_fee + swap`.
    pub swap: f64,
    pub gross_pnl: f64,
    pub net_pnl: f64,
    pub r_multiple: f64,
    /// The exit happened in the bar where the pending order triggered.
    pub in_entry_candle: bool,
    /// SL and TP were both inside the exit bar's range: the SL-first rule decided the result.
    pub ambiguous: bool,
    pub meta: u32,
}
