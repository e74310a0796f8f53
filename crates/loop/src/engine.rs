//! The bar loop: one config on one symbol's data, from the first bar to the last, per
//! SEMANTICS §7–8.
//!
//! Per bar in `[start, end]` (`v2`):
//! 1. queued stop changes from the previous bar's trade management are applied (the simulator
//!    does it at the start of `evaluate_bar`);
//! 2. pending triggers, then exits, in creation order (`evaluate_bar`);
//! 3. trade management of the positions still open: timeout (`max_holding_bars`, closed at this
//!    bar's close on the exit side), break-even and trailing (queued for the next bar);
//! 4. the strategy sees this bar and emits signals; limits filter them; the simulator executes
//!    them;
//! 5. on the last bar, open positions close at its close (`end_of_data`) and pending orders are
//!    cancelled; then the equity point (balance + unrealized PnL marked on the exit side).
//!
//! `v1_parity`: 4 comes first, then 2 and 3; equity is the realized balance; positions still open
//! at the end stay open (they are returned in [`RunOutput::open_at_end`], not as trades).
//!
//! Bars before `start` only feed the indicators (warm-up). Limits (applied in this order to each
//! signal): `session_hours` (the bar's UTC open hour must be in `[start_hour, end_hour)`, wrapping
//! over midnight when start > end; signals outside are ignored entirely); then
//! `exit_on_opposite_signal` (open positions of the other direction close at the signal bar's
//! close, reason `signal_exit`); then the `direction` filter; then `cooldown_bars` (with N > 0,
//! signals in the exit bar and the N bars after any exit are skipped) and
//! `skip_exit_bar_signals` (signals in a bar where a position closed are skipped: one order per
//! bar, as vectorbt); then `max_open_positions`
//! (open positions plus pending orders). Skipped signals are counted in
//! [`RunStats::signals_skipped`].
//!
//! Tick mode: when the data set holds ticks for the symbol and the strategy is `signals`, the
//! same loop runs over ticks (each tick is a "bar" for trade management: `max_holding_bars`
//! counts ticks; `trailing.atr_mult` is not available).
//!
//! Span mode (v2 without trade management or ATR-fed costs, and a strategy that does not look at
//! the simulator, i.e. all but `donchian_breakout`): the same steps, organised for speed. The
//! strategy runs a block of 1,024 bars ahead and lists the block's signals; the bars between two
//! events are applied as one span when nothing can happen in them (no fill, no exit, no signal
//! that could do more than be counted as skipped), by `ExecutionSimulator::advance_quiet` and
//! `MetricsAccumulator::on_bars`; every other bar takes the per-bar steps above. The results are
//! the per-bar loop's, bit for bit (`span_loop_matches_the_ordinary_loop`).
//!
//! Nothing allocates per bar: every buffer is allocated once per run and reused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use omega_exec_core::{
    BarQuote, ClosedPosition, Direction, ExecutionSimulator, ExitReason, Position, PositionId,
    PositionStatus, Signal, StopKind, SymbolId, Tick, Variant,
};

use crate::config::{DirectionFilter, RunConfig, StrategyParams};
use crate::data::{prefetch_row, BarView, Bars, DataSet, Ticks};
use crate::error::{LoopError, Result};
use crate::indicators::Atr;
use crate::metrics::{Metrics, MetricsAccumulator, RunTotals};
use crate::signals::{SignalRow, SignalTable};
use crate::strategies::{SignalsStrategy, Strategy, StrategyContext, StrategySignal};

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Bars (ticks in tick mode) in `[start, end]`.
    pub bars: u64,
    /// Of those, bars with at least one open position at the equity point (before the
    /// end-of-data close).
    pub bars_in_position: u64,
    /// Signals the strategy emitted in `[start, end]`.
    pub signals: u64,
    /// Of those, signals the limits skipped (never reached the simulator).
    pub signals_skipped: u64,
    /// Signals (and pending fills) the simulator rejected, per `RejectReason::index()`.
    pub rejected: [u64; 4],
    pub orders_expired: u64,
    pub orders_cancelled: u64,
    pub fees_total: f64,
    pub initial_balance: f64,
    pub final_balance: f64,
    pub final_equity: f64,
}

impl RunStats {
    /// The run-level totals the metrics need.
    pub fn totals(&self) -> RunTotals {
        RunTotals {
            signals: self.signals,
            rejected: self.rejected,
            orders_expired: self.orders_expired,
            orders_cancelled: self.orders_cancelled,
            fees_total: self.fees_total,
            final_balance: self.final_balance,
        }
    }
}

/// One point per bar in `[start, end]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EquitySeries {
    pub ts: Vec<i64>,
    pub balance: Vec<f64>,
    pub equity: Vec<f64>,
}

/// Everything one run produces.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub symbol: String,
    /// Closed trades in closing order (empty unless asked for).
    pub trades: Vec<ClosedPosition>,
    pub equity: Option<EquitySeries>,
    pub stats: RunStats,
    pub metrics: Metrics,
    /// The signal table of a `signals` run: `ClosedPosition::meta` is its row.
    pub signal_meta: Option<Arc<SignalTable>>,
    /// v1_parity only: positions still open after the last bar (SEMANTICS §7 v1: they stay
    /// open and are not trades). Always empty in v2.
    pub open_at_end: Vec<Position>,
}

/// Runs `cfg` on its symbol's data in `data`.
pub fn run_config(
    cfg: &RunConfig,
    data: &DataSet,
    want_trades: bool,
    want_equity: bool,
) -> Result<RunOutput> {
    run_config_cancellable(cfg, data, want_trades, want_equity, None)
}

/// [`run_config`] that polls `cancel` every 4096 bars and stops with 5002 when it is set.
pub fn run_config_cancellable(
    cfg: &RunConfig,
    data: &DataSet,
    want_trades: bool,
    want_equity: bool,
    cancel: Option<&Arc<AtomicBool>>,
) -> Result<RunOutput> {
    run_inner(
        cfg,
        data,
        want_trades,
        want_equity,
        cancel.map(|c| &**c),
        false,
    )
    .map(|(o, _)| o)
}

/// Runs `cfg` and also returns every signal its strategy emitted in `[start, end]` (before the
/// limits), as rows of the run's symbol: fed back through the `signals` strategy they reproduce
/// the run's trades.
pub fn run_config_recording(
    cfg: &RunConfig,
    data: &DataSet,
) -> Result<(RunOutput, Vec<SignalRow>)> {
    run_inner(cfg, data, true, true, None, true)
}

fn run_inner(
    cfg: &RunConfig,
    data: &DataSet,
    want_trades: bool,
    want_equity: bool,
    cancel: Option<&AtomicBool>,
    record: bool,
) -> Result<(RunOutput, Vec<SignalRow>)> {
    let is_signals = matches!(cfg.strategy.params, StrategyParams::Signals(_));
    if is_signals {
        if let Some(ticks) = data.ticks.get(&cfg.symbol) {
            return run_ticks(cfg, data, ticks, want_trades, want_equity, cancel, record);
        }
    }
    let Some(bars) = data.bars.get(&cfg.symbol) else {
        let message = if data.ticks.contains_key(&cfg.symbol) {
            "the data set has only ticks for it, which only the `signals` strategy can run on"
        } else {
            "the data set has no bars for it"
        };
        return Err(LoopError::UnknownSymbol {
            symbol: cfg.symbol.clone(),
            message: message.into(),
        });
    };
    run_bars(
        cfg,
        data,
        bars,
        want_trades,
        want_equity,
        cancel,
        record,
        true,
    )
}

/// `[first, end)` of the rows with `start <= ts <= end`.
fn range(ts: &[i64], start: Option<i64>, end: Option<i64>) -> Result<(usize, usize)> {
    let first = start.map_or(0, |s| ts.partition_point(|&t| t < s));
    let stop = end.map_or(ts.len(), |e| ts.partition_point(|&t| t <= e));
    if first >= stop {
        return Err(LoopError::data(
            omega_exec_core::codes::EMPTY_DATA,
            "timestamp",
            None,
            format!(
                "no rows in [start, end] = [{start:?}, {end:?}] (data has {} rows)",
                ts.len()
            ),
        ));
    }
    Ok((first, stop))
}

#[inline]
fn hour_of(ts: i64) -> u32 {
    (ts.div_euclid(3_600_000_000).rem_euclid(24)) as u32
}

/// The state of one run that is the same for bars and ticks.
struct Engine {
    sim: ExecutionSimulator,
    sym: SymbolId,
    variant: Variant,
    pip: f64,
    // trade management
    /// Any trade-management rule configured (else step 3 is skipped).
    tm_enabled: bool,
    max_holding: Option<u32>,
    break_even: Option<(f64, f64)>,
    trailing_pips: Option<f64>,
    trailing_atr: Option<f64>,
    // limits
    max_open: usize,
    direction: DirectionFilter,
    exit_on_opposite: bool,
    cooldown: u64,
    skip_exit_bar: bool,
    session: Option<(u32, u32)>,
    risk_percent: bool,
    // run state
    last_exit_bar: Option<u64>,
    last_equity: f64,
    metrics: MetricsAccumulator,
    stats: RunStats,
    want_trades: bool,
    trades: Vec<ClosedPosition>,
    equity: Option<EquitySeries>,
    // reusable buffers
    closed: Vec<ClosedPosition>,
    ids: Vec<PositionId>,
    stop_updates: Vec<(PositionId, f64, StopKind)>,
    signals: Vec<StrategySignal>,
    recorded: Option<Vec<SignalRow>>,
    symbol: String,
}

/// The quote the signals of one step execute against.
#[derive(Clone, Copy)]
enum Quote {
    Bar(BarQuote),
    Tick(Tick),
}

impl Quote {
    #[inline]
    fn ts(&self) -> i64 {
        match self {
            Quote::Bar(b) => b.bid.ts,
            Quote::Tick(t) => t.ts,
        }
    }

    /// (bid, ask) marks: the bar closes or the tick.
    #[inline]
    fn marks(&self) -> (f64, f64) {
        match self {
            Quote::Bar(b) => (b.bid.close, b.ask.map_or(b.bid.close, |a| a.close)),
            Quote::Tick(t) => (t.bid, t.ask),
        }
    }
}

impl Engine {
    fn new(
        cfg: &RunConfig,
        n_points: usize,
        want_trades: bool,
        want_equity: bool,
        record: bool,
    ) -> Result<Engine> {
        // Classic costs and the cost model trees (crate::costs).
        let sim = cfg.simulator()?;
        let sym = sim.symbol_id(&cfg.symbol)?;
        let tm = &cfg.trade_management;
        let l = &cfg.limits;
        let mut sim = sim;
        sim.reserve(l.max_open_positions as usize + 4);
        Ok(Engine {
            sim,
            sym,
            variant: cfg.variant(),
            pip: cfg.symbol_spec.pip_size,
            tm_enabled: tm.max_holding_bars.is_some()
                || tm.break_even.is_some()
                || tm.trailing.is_some(),
            max_holding: tm.max_holding_bars,
            break_even: tm
                .break_even
                .as_ref()
                .map(|b| (b.trigger_pips, b.offset_pips)),
            trailing_pips: tm.trailing.as_ref().and_then(|t| t.distance_pips),
            trailing_atr: tm.trailing.as_ref().and_then(|t| t.atr_mult),
            max_open: l.max_open_positions as usize,
            direction: l.direction,
            exit_on_opposite: l.exit_on_opposite_signal,
            cooldown: u64::from(l.cooldown_bars),
            skip_exit_bar: l.skip_exit_bar_signals,
            session: l.session_hours.map(|[a, b]| (a, b)),
            risk_percent: cfg.account.risk_percent.is_some(),
            last_exit_bar: None,
            last_equity: cfg.account.initial_balance,
            metrics: MetricsAccumulator::new(cfg.account.initial_balance),
            stats: RunStats {
                initial_balance: cfg.account.initial_balance,
                ..RunStats::default()
            },
            want_trades,
            trades: Vec::new(),
            equity: want_equity.then(|| EquitySeries {
                ts: Vec::with_capacity(n_points),
                balance: Vec::with_capacity(n_points),
                equity: Vec::with_capacity(n_points),
            }),
            closed: Vec::with_capacity(l.max_open_positions as usize + 4),
            ids: Vec::with_capacity(l.max_open_positions as usize + 4),
            stop_updates: Vec::with_capacity(l.max_open_positions as usize + 4),
            signals: Vec::with_capacity(8),
            recorded: record.then(Vec::new),
            symbol: cfg.symbol.clone(),
        })
    }

    #[inline]
    fn current_equity(&self, bid: f64, ask: f64) -> f64 {
        self.sim.balance() + self.sim.unrealized_pnl(self.sym, bid, ask)
    }

    /// Moves the simulator's closed records into the metrics (and the trades when wanted).
    #[inline]
    fn drain(&mut self, bar: u64) {
        self.sim.drain_closed_into(&mut self.closed);
        if self.closed.is_empty() {
            return;
        }
        self.last_exit_bar = Some(bar);
        for t in &self.closed {
            self.metrics.on_trade(t);
        }
        if self.want_trades {
            self.trades.append(&mut self.closed);
        } else {
            self.closed.clear();
        }
    }

    /// SEMANTICS §8 step 3 on the open positions: timeouts close now at the marks; break-even
    /// and trailing stops are queued for the next bar (the tighter of the two wins; stops never
    /// loosen).
    fn trade_management(&mut self, ts: i64, bid: f64, ask: f64, atr: Option<f64>) -> Result<()> {
        if self.max_holding.is_none()
            && self.break_even.is_none()
            && self.trailing_pips.is_none()
            && self.trailing_atr.is_none()
        {
            return Ok(());
        }
        self.ids.clear();
        self.stop_updates.clear();
        let pip = self.pip;
        // Tolerance for comparing price distances with pip thresholds (price rounding).
        let eps = pip * 1e-6;
        let trail = self
            .trailing_pips
            .map(|d| d * pip)
            .or_else(|| self.trailing_atr.and_then(|m| atr.map(|a| m * a)));
        for p in self.sim.active_positions() {
            if p.status != PositionStatus::Open {
                continue;
            }
            if self.max_holding.is_some_and(|m| p.bars_held >= m) {
                self.ids.push(p.id);
                continue;
            }
            let s = p.direction.sign();
            let mut best: Option<(f64, StopKind)> = None;
            if let Some((trigger, offset)) = self.break_even {
                let excursion = (p.best_price - p.entry_price) * s;
                if excursion + eps >= trigger * pip {
                    let sl = p.entry_price + s * offset * pip;
                    if (sl - p.stop_loss) * s > 0.0 {
                        best = Some((sl, StopKind::BreakEven));
                    }
                }
            }
            if let Some(d) = trail {
                let sl = p.best_price - s * d;
                let current = best.map_or(p.stop_loss, |b| b.0);
                if (sl - current) * s > 0.0 {
                    best = Some((sl, StopKind::Trailing));
                }
            }
            if let Some((sl, kind)) = best {
                self.stop_updates.push((p.id, sl, kind));
            }
        }
        for k in 0..self.ids.len() {
            self.sim
                .close_position(self.ids[k], ts, bid, ask, ExitReason::Timeout)?;
        }
        for k in 0..self.stop_updates.len() {
            let (id, sl, kind) = self.stop_updates[k];
            self.sim.queue_stop_update(id, sl, kind);
        }
        Ok(())
    }

    #[inline]
    fn in_session(&self, ts: i64) -> bool {
        match self.session {
            None => true,
            Some((a, b)) => {
                let h = hour_of(ts);
                if a < b {
                    a <= h && h < b
                } else {
                    h >= a || h < b
                }
            }
        }
    }

    fn context(&self) -> StrategyContext {
        let mut c = StrategyContext::default();
        for p in self.sim.active_positions() {
            match p.status {
                PositionStatus::Pending => c.pending_orders += 1,
                PositionStatus::Open => c.open_positions += 1,
            }
        }
        c
    }

    /// SEMANTICS §8 step 4 for the signals in `self.signals` (bar or tick index `bar`).
    fn execute_signals(&mut self, bar: u64, quote: Quote) -> Result<()> {
        let ts = quote.ts();
        let (bid, ask) = quote.marks();
        for k in 0..self.signals.len() {
            let s = self.signals[k];
            let (stop_loss, take_profit) = s.stops(bid, ask);
            self.stats.signals += 1;
            if let Some(rec) = &mut self.recorded {
                rec.push(SignalRow {
                    ts,
                    symbol: self.symbol.clone(),
                    direction: s.direction,
                    order_type: s.order_type,
                    entry_price: s.entry_price,
                    stop_loss,
                    take_profit,
                    reason: None,
                    scenario: None,
                    tags: None,
                });
            }
            if !self.in_session(ts) {
                self.stats.signals_skipped += 1;
                continue;
            }
            if self.exit_on_opposite {
                self.ids.clear();
                for p in self.sim.active_positions() {
                    if p.status == PositionStatus::Open && p.direction != s.direction {
                        self.ids.push(p.id);
                    }
                }
                for j in 0..self.ids.len() {
                    self.sim
                        .close_position(self.ids[j], ts, bid, ask, ExitReason::SignalExit)?;
                }
            }
            let allowed = match self.direction {
                DirectionFilter::Both => true,
                DirectionFilter::Long => s.direction == Direction::Long,
                DirectionFilter::Short => s.direction == Direction::Short,
            };
            let cooling = (self.cooldown > 0
                && self.last_exit_bar.is_some_and(|e| bar <= e + self.cooldown))
                || (self.skip_exit_bar && self.last_exit_bar == Some(bar));
            if !allowed || cooling || self.sim.active_positions().len() >= self.max_open {
                self.stats.signals_skipped += 1;
                continue;
            }
            if self.risk_percent {
                let eq = self.current_equity(bid, ask);
                self.sim.set_equity(eq);
            }
            let signal = Signal {
                ts,
                symbol: self.sym,
                direction: s.direction,
                order_type: s.order_type,
                entry_price: s.entry_price,
                stop_loss,
                take_profit,
                meta: s.meta,
            };
            match &quote {
                Quote::Bar(b) => self.sim.process_signal(&signal, b)?,
                Quote::Tick(t) => self.sim.process_signal_tick(&signal, t)?,
            };
        }
        Ok(())
    }

    /// End of data: v2 closes the open positions at the marks (`end_of_data`); both variants
    /// drop pending orders (counted as cancelled).
    fn end_of_data(&mut self, ts: i64, bid: f64, ask: f64) -> Result<()> {
        if self.variant == Variant::V2 {
            self.ids.clear();
            for p in self.sim.active_positions() {
                if p.status == PositionStatus::Open {
                    self.ids.push(p.id);
                }
            }
            for k in 0..self.ids.len() {
                self.sim
                    .close_position(self.ids[k], ts, bid, ask, ExitReason::EndOfData)?;
            }
        }
        self.sim.cancel_pending(self.sym);
        Ok(())
    }

    /// Step 5: the equity point of bar `bar` (and its metrics).
    #[inline(always)]
    fn equity_point(&mut self, ts: i64, bid: f64, ask: f64, in_position: bool) {
        let balance = self.sim.balance();
        // v1 equity is the realized balance; with nothing open there is nothing to mark.
        let equity = if self.variant == Variant::V2 && !self.sim.active_positions().is_empty() {
            balance + self.sim.unrealized_pnl(self.sym, bid, ask)
        } else {
            balance
        };
        self.last_equity = equity;
        // `stats.bars`/`bars_in_position` are read from the metrics at the end (same counts).
        self.metrics.on_bar(ts, equity, in_position);
        if let Some(e) = &mut self.equity {
            e.ts.push(ts);
            e.balance.push(balance);
            e.equity.push(equity);
        }
    }

    #[inline(always)]
    fn has_open(&self) -> bool {
        self.sim
            .active_positions()
            .iter()
            .any(|p| p.status == PositionStatus::Open)
    }

    fn finish(mut self, signal_meta: Option<Arc<SignalTable>>) -> (RunOutput, Vec<SignalRow>) {
        let s = self.sim.stats();
        self.stats.rejected = s.rejected;
        self.stats.orders_expired = s.orders_expired;
        self.stats.orders_cancelled = s.orders_cancelled;
        self.stats.fees_total = s.fees_total;
        self.stats.final_balance = self.sim.balance();
        self.stats.final_equity = self.last_equity;
        self.stats.bars = self.metrics.bars();
        self.stats.bars_in_position = self.metrics.bars_in_position();
        let open_at_end: Vec<Position> = self
            .sim
            .active_positions()
            .iter()
            .filter(|p| p.status == PositionStatus::Open)
            .cloned()
            .collect();
        let metrics = self.metrics.finish_with(&self.stats.totals());
        let out = RunOutput {
            symbol: self.symbol,
            trades: self.trades,
            equity: self.equity,
            stats: self.stats,
            metrics,
            signal_meta,
            open_at_end,
        };
        (out, self.recorded.unwrap_or_default())
    }
}

/// Bars (ticks) between two polls of the cancel flag; a power of two (see [`check_cancel`]).
const CANCEL_POLL: usize = 0x1000;

#[inline]
fn check_cancel(cancel: Option<&AtomicBool>, k: usize) -> Result<()> {
    if k & (CANCEL_POLL - 1) == 0 && cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(LoopError::Cancelled);
    }
    Ok(())
}

/// `allow_spans`: take span mode where it applies (always, but for the tests that compare it
/// with the ordinary loop).
#[allow(clippy::too_many_arguments)]
fn run_bars(
    cfg: &RunConfig,
    data: &DataSet,
    bars: &Bars,
    want_trades: bool,
    want_equity: bool,
    cancel: Option<&AtomicBool>,
    record: bool,
    allow_spans: bool,
) -> Result<(RunOutput, Vec<SignalRow>)> {
    let (first, stop) = range(bars.ts(), cfg.start, cfg.end)?;
    let mut strategy = Strategy::from_config(cfg, data, bars.ts())?;
    let signal_meta = match &strategy {
        Strategy::Signals(s) => Some(s.table().clone()),
        _ => None,
    };
    let mut eng = Engine::new(cfg, stop - first, want_trades, want_equity, record)?;
    let mut tm_atr = cfg
        .trade_management
        .trailing
        .as_ref()
        .filter(|t| t.atr_mult.is_some())
        .map(|t| Atr::new(t.atr_period as usize));
    // Cost models that read `atr` (costs.atr_period): fills inside a bar see the ATR of the bars
    // before it, fills at its close (and all of v1, which trades first) the ATR including it.
    let mut cost_atr = eng
        .sim
        .needs_atr()
        .then(|| Atr::new(cfg.costs.atr_period() as usize));
    let v1 = eng.variant == Variant::V1Parity;
    let last = stop - 1;
    // Only the Donchian strategy looks at the simulator's state.
    let needs_ctx = strategy.needs_context();
    let view = bars.view();

    // Warm-up: indicators only.
    for i in 0..first {
        if let Some(a) = &mut tm_atr {
            a.update(view.bid_high[i], view.bid_low[i], view.bid_close[i]);
        }
        if let Some(a) = &mut cost_atr {
            a.update(view.bid_high[i], view.bid_low[i], view.bid_close[i]);
        }
        eng.signals.clear();
        strategy.on_bar(&view, i, &StrategyContext::default(), &mut eng.signals);
    }
    eng.signals.clear();

    // All columns cut to `stop` rows, so indexing below needs no bounds checks. The strategy
    // keeps the full view: `signals` looks at the next bar's time, which may lie after `end`.
    let full = view;
    let view = view.prefix(stop);
    // Span mode whenever nothing changes from bar to bar outside the simulator's positions
    // (no trade management, no ATR fed to costs) and the strategy decides from the bars alone;
    // v1 has no quiet bars.
    let spans = allow_spans
        && !v1
        && !eng.tm_enabled
        && cost_atr.is_none()
        && tm_atr.is_none()
        && !needs_ctx;
    if spans {
        eng.run_spans(&mut strategy, &full, &view, first, stop, cancel)?;
        return Ok(eng.finish(signal_meta));
    }
    // The cancel flag is polled every 4096 bars (at bars 0, 4096, ...): once per chunk, so the
    // per-bar loop has no test for it.
    for chunk in (first..stop).step_by(CANCEL_POLL) {
        check_cancel(cancel, 0)?;
        for i in chunk..stop.min(chunk + CANCEL_POLL) {
            let bar = (i - first) as u64;
            let atr = match &mut tm_atr {
                Some(a) => a.update(view.bid_high[i], view.bid_low[i], view.bid_close[i]),
                None => None,
            };
            if eng.risk_percent {
                // Pending fills of this bar size from the last known equity.
                eng.sim.set_equity(eng.last_equity);
            }
            let cost_atrs = cost_atr.as_mut().map(|a| {
                let before = a.value().unwrap_or(0.0);
                let after = a
                    .update(view.bid_high[i], view.bid_low[i], view.bid_close[i])
                    .unwrap_or(0.0);
                (before, after)
            });
            if v1 {
                if let Some((_, after)) = cost_atrs {
                    eng.sim.set_market_context(eng.sym, after, None);
                }
                eng.signal_step(&mut strategy, &full, i, bar, needs_ctx)?;
                eng.step_positions(bar, &view, i, atr)?;
            } else {
                if let Some((before, _)) = cost_atrs {
                    eng.sim.set_market_context(eng.sym, before, None);
                }
                eng.step_positions(bar, &view, i, atr)?;
                if let Some((_, after)) = cost_atrs {
                    eng.sim.set_market_context(eng.sym, after, None);
                }
                eng.signal_step(&mut strategy, &full, i, bar, needs_ctx)?;
            }
            let in_position = eng.has_open();
            let (ts, bid_close, ask_close) = (view.ts[i], view.bid_close[i], view.ask_close[i]);
            if i == last {
                eng.end_of_data(ts, bid_close, ask_close)?;
                eng.drain(bar);
            }
            eng.equity_point(ts, bid_close, ask_close, in_position);
        }
    }
    Ok(eng.finish(signal_meta))
}

impl Engine {
    /// Steps 1–3 of a bar: queued stops, triggers and exits, trade management. Skipped when the
    /// simulator holds nothing (then there is nothing to trigger, exit or manage).
    #[inline(always)]
    fn step_positions(
        &mut self,
        bar: u64,
        view: &BarView<'_>,
        i: usize,
        atr: Option<f64>,
    ) -> Result<()> {
        let before = self.sim.active_positions().len();
        if before == 0 {
            return Ok(());
        }
        let bid = view.bid_candle(i);
        let ask = view.ask_candle(i);
        self.sim.evaluate_bar_pair(self.sym, bid, ask)?;
        if self.tm_enabled {
            self.trade_management(bid.ts, bid.close, ask.close, atr)?;
        }
        // Every close removes a position from the active list, so an unchanged count means
        // there is nothing to drain (a shrink can also be an expiry: draining then is harmless).
        if self.sim.active_positions().len() < before {
            self.drain(bar);
        }
        Ok(())
    }

    /// Step 4 of a bar: the strategy, then the signals it emitted.
    #[inline(always)]
    fn signal_step(
        &mut self,
        strategy: &mut Strategy,
        bars: &BarView<'_>,
        i: usize,
        bar: u64,
        needs_ctx: bool,
    ) -> Result<()> {
        self.signals.clear();
        let ctx = if needs_ctx {
            self.context()
        } else {
            StrategyContext::default()
        };
        strategy.on_bar(bars, i, &ctx, &mut self.signals);
        if self.signals.is_empty() {
            return Ok(());
        }
        self.execute_signals(
            bar,
            Quote::Bar(BarQuote {
                bid: bars.bid_candle(i),
                ask: Some(bars.ask_candle(i)),
            }),
        )?;
        self.drain(bar);
        Ok(())
    }
}

/// Bars per block of the span loop: the strategy runs this far ahead of the simulator; small
/// enough that the block's columns are still cached when the simulator reads them.
/// A power of two dividing [`CANCEL_POLL`], so `check_cancel` polls every `CANCEL_POLL` bars.
const SPAN_BLOCK: usize = 0x400;

/// Span mode of the bar loop (v2): the strategy runs a block of bars ahead of the simulator,
/// which it never looks at, and collects the block's signals with their bars. Between two
/// signal bars, runs of quiet bars (see `ExecutionSimulator::advance_quiet`) are applied in one
/// call, and their equity points come from one tight loop; every other bar (a signal, an exit,
/// a fill, the last bar) takes the same per-bar steps as the ordinary loop. The result is the
/// ordinary loop's, bit for bit (the engine tests run both).
impl Engine {
    fn run_spans(
        &mut self,
        strategy: &mut Strategy,
        full: &BarView<'_>,
        view: &BarView<'_>,
        first: usize,
        stop: usize,
        cancel: Option<&AtomicBool>,
    ) -> Result<()> {
        let last = stop - 1;
        let mut block: Vec<(usize, StrategySignal)> = Vec::with_capacity(64);
        let mut scratch: Vec<StrategySignal> = Vec::with_capacity(8);
        for chunk in (first..stop).step_by(SPAN_BLOCK) {
            check_cancel(cancel, chunk - first)?;
            let end = stop.min(chunk + SPAN_BLOCK);
            block.clear();
            strategy.on_block(full, chunk, end, &mut scratch, &mut block);
            let mut next = 0;
            let mut i = chunk;
            while i < end {
                // The next bar that surely takes the per-bar steps: the last bar, and the next
                // signal bar unless every signal is skipped anyway.
                let skip_all = self.skips_every_signal();
                let event = if skip_all {
                    end.min(last)
                } else {
                    block.get(next).map_or(end, |s| s.0).min(last)
                };
                if i < event {
                    if !skip_all {
                        // The event bar takes the per-bar steps, which read its whole row.
                        prefetch_row(view, event);
                    }
                    let k = self.quiet_span(view, i, event);
                    if skip_all {
                        // The signals of the quiet bars, counted as `execute_signals` would.
                        while let Some(&(b, _)) = block.get(next) {
                            if b >= k {
                                break;
                            }
                            self.stats.signals += 1;
                            self.stats.signals_skipped += 1;
                            next += 1;
                        }
                    }
                    i = k;
                    if i == event {
                        continue;
                    }
                }
                self.signals.clear();
                while let Some(&(b, s)) = block.get(next) {
                    if b != i {
                        break;
                    }
                    self.signals.push(s);
                    next += 1;
                }
                self.bar_step(view, i, (i - first) as u64, i == last)?;
                i += 1;
            }
        }
        Ok(())
    }

    /// Whether `execute_signals` would skip any signal now, having changed nothing but the
    /// `signals` and `signals_skipped` counters: no closing on opposite signals, no recording,
    /// and no room for another position. Holds for as long as the positions do not change.
    #[inline]
    fn skips_every_signal(&self) -> bool {
        !self.exit_on_opposite
            && self.recorded.is_none()
            && self.sim.active_positions().len() >= self.max_open
    }

    /// Quiet bars from `from` (before `to`) in the simulator, and their equity points; returns
    /// the first bar that was not quiet (`to` when all were).
    #[inline]
    fn quiet_span(&mut self, view: &BarView<'_>, from: usize, to: usize) -> usize {
        let k = self.sim.advance_quiet(self.sym, view, from, to);
        if k == from {
            return from;
        }
        if k < to {
            // Bar k (an exit) takes the per-bar steps next, which read its whole row: start
            // loading it while the span's equity points are computed.
            prefetch_row(view, k);
        }
        let balance = self.sim.balance();
        let (ts, bid_close, ask_close) = (
            &view.ts[from..k],
            &view.bid_close[from..k],
            &view.ask_close[from..k],
        );
        // What `equity_point` computes: no pending order makes a bar quiet, so every active
        // position is open.
        let sym = self.sym;
        let sim = &self.sim;
        let last_equity = match sim.active_positions() {
            [] => {
                self.metrics.on_bars(ts, false, |_| balance);
                balance
            }
            [p] => {
                let marks = match p.direction {
                    Direction::Long => bid_close,
                    Direction::Short => ask_close,
                };
                // The same sum as `unrealized_pnl` over one position.
                let equity = |j: usize| balance + std::iter::once(p.pnl_at(marks[j])).sum::<f64>();
                self.metrics.on_bars(ts, true, equity);
                equity(ts.len() - 1)
            }
            _ => {
                let equity =
                    |j: usize| balance + sim.unrealized_pnl(sym, bid_close[j], ask_close[j]);
                self.metrics.on_bars(ts, true, equity);
                equity(ts.len() - 1)
            }
        };
        self.last_equity = last_equity;
        if let Some(e) = &mut self.equity {
            let open = !sim.active_positions().is_empty();
            for j in 0..ts.len() {
                e.ts.push(ts[j]);
                e.balance.push(balance);
                e.equity.push(if open {
                    balance + sim.unrealized_pnl(sym, bid_close[j], ask_close[j])
                } else {
                    balance
                });
            }
        }
        k
    }

    /// One bar on the per-bar steps of the v2 loop, with the bar's signals already in
    /// `self.signals`.
    fn bar_step(&mut self, view: &BarView<'_>, i: usize, bar: u64, is_last: bool) -> Result<()> {
        if self.risk_percent {
            self.sim.set_equity(self.last_equity);
        }
        self.step_positions(bar, view, i, None)?;
        if !self.signals.is_empty() {
            self.execute_signals(
                bar,
                Quote::Bar(BarQuote {
                    bid: view.bid_candle(i),
                    ask: Some(view.ask_candle(i)),
                }),
            )?;
            self.drain(bar);
        }
        let in_position = self.has_open();
        let (ts, bid_close, ask_close) = (view.ts[i], view.bid_close[i], view.ask_close[i]);
        if is_last {
            self.end_of_data(ts, bid_close, ask_close)?;
            self.drain(bar);
        }
        self.equity_point(ts, bid_close, ask_close, in_position);
        Ok(())
    }
}

fn run_ticks(
    cfg: &RunConfig,
    data: &DataSet,
    ticks: &Ticks,
    want_trades: bool,
    want_equity: bool,
    cancel: Option<&AtomicBool>,
    record: bool,
) -> Result<(RunOutput, Vec<SignalRow>)> {
    if cfg
        .trade_management
        .trailing
        .as_ref()
        .is_some_and(|t| t.atr_mult.is_some())
    {
        return Err(LoopError::config(
            "trade_management.trailing.atr_mult",
            "is not available in tick mode (no bars to compute an ATR from): use distance_pips",
        ));
    }
    let StrategyParams::Signals(p) = &cfg.strategy.params else {
        return Err(LoopError::Internal {
            message: "tick mode needs the signals strategy".into(),
        });
    };
    let table = data.signals.get(&p.table).ok_or_else(|| {
        LoopError::config(
            "strategy.params.table",
            format!("no signal table {:?} in the data", p.table),
        )
    })?;
    let (first, stop) = range(ticks.ts(), cfg.start, cfg.end)?;
    let mut strategy = SignalsStrategy::new(table.clone(), &cfg.symbol, ticks.ts()[0]);
    let mut eng = Engine::new(cfg, stop - first, want_trades, want_equity, record)?;
    let v1 = eng.variant == Variant::V1Parity;
    let last = stop - 1;

    // Rows before `start` are not executed.
    if first > 0 {
        eng.signals.clear();
        strategy.rows_until(ticks.ts()[first - 1], &mut eng.signals);
        eng.signals.clear();
    }
    for i in first..stop {
        check_cancel(cancel, i - first)?;
        let bar = (i - first) as u64;
        let tick = ticks.tick(i);
        let quote = Quote::Tick(tick);
        if eng.risk_percent {
            eng.sim.set_equity(eng.last_equity);
        }
        if v1 {
            eng.signals.clear();
            strategy.rows_until(tick.ts, &mut eng.signals);
            eng.execute_signals(bar, quote)?;
            eng.sim.evaluate_tick(eng.sym, &tick)?;
            eng.trade_management(tick.ts, tick.bid, tick.ask, None)?;
            eng.drain(bar);
        } else {
            eng.sim.evaluate_tick(eng.sym, &tick)?;
            eng.trade_management(tick.ts, tick.bid, tick.ask, None)?;
            eng.drain(bar);
            eng.signals.clear();
            strategy.rows_until(tick.ts, &mut eng.signals);
            eng.execute_signals(bar, quote)?;
        }
        eng.drain(bar);
        let in_position = eng.has_open();
        if i == last {
            eng.end_of_data(tick.ts, tick.bid, tick.ask)?;
            eng.drain(bar);
        }
        eng.equity_point(tick.ts, tick.bid, tick.ask, in_position);
    }
    Ok(eng.finish(Some(table.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use crate::signals::SignalRow;
    use omega_exec_core::{OrderType, RejectReason};

    const M: i64 = 60_000_000;
    const H: i64 = 3_600_000_000;

    /// Bars from bid (o, h, l, c) rows, one minute apart, ask = bid + `spread_pips` pips.
    fn bars(rows: &[(f64, f64, f64, f64)], spread_pips: f64) -> Bars {
        bars_step(rows, spread_pips, M)
    }

    fn bars_step(rows: &[(f64, f64, f64, f64)], spread_pips: f64, step: i64) -> Bars {
        let ts = (0..rows.len() as i64).map(|i| i * step).collect();
        let col = |f: fn(&(f64, f64, f64, f64)) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
        Bars::from_vecs(
            "EURUSD",
            ts,
            [col(|r| r.0), col(|r| r.1), col(|r| r.2), col(|r| r.3)],
            None,
            None,
            Some(spread_pips),
            Some(0.0001),
        )
        .unwrap()
    }

    fn sig(ts: i64, d: Direction, sl: f64, tp: f64) -> SignalRow {
        SignalRow {
            ts,
            symbol: "EURUSD".into(),
            direction: d,
            order_type: OrderType::Market,
            entry_price: None,
            stop_loss: sl,
            take_profit: tp,
            reason: None,
            scenario: None,
            tags: None,
        }
    }

    /// A `signals` config with `extra` JSON merged in at the top level (objects merge one level).
    fn cfg(variant: &str, extra: serde_json::Value) -> RunConfig {
        let mut v = serde_json::json!({
            "symbol": "EURUSD",
            "symbol_spec": {"pip_size": 0.0001},
            "strategy": {"name": "signals", "params": {"table": "t"}},
            "execution": {"variant": variant, "pip_buffer_factor": 0.0},
            "account": {"risk_per_trade": 100.0, "initial_balance": 10000.0},
        });
        for (k, val) in extra.as_object().unwrap() {
            match (v.get_mut(k), val) {
                (Some(serde_json::Value::Object(dst)), serde_json::Value::Object(src)) => {
                    for (k2, v2) in src {
                        dst.insert(k2.clone(), v2.clone());
                    }
                }
                _ => {
                    v.as_object_mut().unwrap().insert(k.clone(), val.clone());
                }
            }
        }
        parse_config(&v.to_string()).unwrap()
    }

    fn data(b: Bars, rows: &[SignalRow]) -> DataSet {
        let mut d = DataSet::from_bars(b);
        d.add_signals("t", SignalTable::from_rows(rows).unwrap());
        d
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Bars 0..: a long at bar 0's close 1.1000 (SL 1.0980, TP 1.1040) and the path after it.
    fn long_path() -> Vec<(f64, f64, f64, f64)> {
        vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1030, 1.0990, 1.1020),
            (1.1020, 1.1045, 1.1000, 1.1030),
            (1.1030, 1.1035, 1.1025, 1.1030),
        ]
    }

    #[test]
    fn market_long_take_profit_both_variants() {
        for variant in ["v2", "v1_parity"] {
            let d = data(
                bars(&long_path(), 0.0),
                &[sig(0, Direction::Long, 1.0980, 1.1040)],
            );
            let out = run_config(&cfg(variant, serde_json::json!({})), &d, true, true).unwrap();
            assert_eq!(out.trades.len(), 1, "{variant}");
            let t = &out.trades[0];
            assert_eq!(t.reason, ExitReason::TakeProfit);
            assert_eq!((t.entry_time, t.exit_time), (0, 2 * M));
            assert!(close(t.entry_price, 1.1000) && close(t.exit_price, 1.1040));
            assert!(
                close(t.lots, 0.5),
                "risk 100 / (20 pips * 10 per pip per lot) = 0.5 lots"
            );
            assert!(close(t.gross_pnl, 200.0), "{variant}: {}", t.gross_pnl);
            assert!(close(t.r_multiple, 2.0));
            assert!(close(out.stats.final_balance, 10_200.0));
            let eq = out.equity.unwrap();
            assert_eq!(eq.ts, vec![0, M, 2 * M, 3 * M]);
            if variant == "v2" {
                // bar 1: unrealized (1.1020 − 1.1000) · 0.5 lots · 100000 = 100
                assert!(close(eq.equity[1], 10_100.0), "{:?}", eq.equity);
            } else {
                assert!(close(eq.equity[1], 10_000.0), "v1 equity is realized only");
            }
            assert!(close(eq.equity[3], 10_200.0));
            assert_eq!(out.stats.bars, 4);
            assert_eq!(
                out.stats.bars_in_position, 2,
                "bars 0 and 1 end with the position open"
            );
            assert_eq!(out.metrics.trades, 1);
        }
    }

    #[test]
    fn timeout_v2_pays_slippage_v1_does_not() {
        let extra = serde_json::json!({"trade_management": {"max_holding_bars": 2}, "costs": {"slippage": {"fixed_pips": 1.0}}});
        for variant in ["v2", "v1_parity"] {
            let d = data(
                bars(&long_path(), 0.0),
                &[sig(0, Direction::Long, 1.0980, 1.1050)],
            );
            let out = run_config(&cfg(variant, extra.clone()), &d, true, false).unwrap();
            let t = &out.trades[0];
            assert_eq!(t.reason, ExitReason::Timeout, "{variant}");
            assert_eq!(t.exit_time, 2 * M, "held bars 1 and 2");
            // entry: ask close 1.1000 + 1 pip slippage (both variants)
            assert!(close(t.entry_price, 1.1001), "{variant}: {}", t.entry_price);
            if variant == "v2" {
                assert!(
                    close(t.exit_price, 1.1029),
                    "bid close 1.1030 − 1 pip: {}",
                    t.exit_price
                );
            } else {
                assert!(close(t.exit_price, 1.1030), "v1 timeout: no slippage");
            }
        }
    }

    #[test]
    fn break_even_moves_stop_next_bar() {
        let rows = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1015, 1.0995, 1.1010), // excursion 15 pips ≥ 10: SL → 1.1002 for bar 2
            (1.1010, 1.1012, 1.0990, 1.0995), // low 1.0990 ≤ 1.1002: break-even exit
            (1.0995, 1.1000, 1.0990, 1.0995),
        ];
        let extra = serde_json::json!({"trade_management": {"break_even": {"trigger_pips": 10, "offset_pips": 2}}});
        for variant in ["v2", "v1_parity"] {
            let d = data(bars(&rows, 0.0), &[sig(0, Direction::Long, 1.0980, 1.1100)]);
            let out = run_config(&cfg(variant, extra.clone()), &d, true, false).unwrap();
            let t = &out.trades[0];
            assert_eq!(t.reason, ExitReason::BreakEvenStopLoss, "{variant}");
            assert_eq!(t.exit_time, 2 * M);
            assert!(close(t.exit_price, 1.1002));
            assert!(close(t.stop_loss, 1.1002) && close(t.initial_stop_loss, 1.0980));
            assert!(close(t.gross_pnl, 10.0) || variant == "v1_parity");
        }
        // Not reached: excursion 9 pips keeps the initial stop.
        let mut rows2 = rows.clone();
        rows2[1] = (1.1000, 1.1009, 1.0995, 1.1005);
        rows2[2] = (1.1005, 1.1008, 1.0990, 1.0995);
        let d = data(
            bars(&rows2, 0.0),
            &[sig(0, Direction::Long, 1.0980, 1.1100)],
        );
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        assert_eq!(out.trades[0].reason, ExitReason::EndOfData);
        assert!(close(out.trades[0].stop_loss, 1.0980));
    }

    #[test]
    fn trailing_stop_pips_v2_reason_v1_break_even() {
        let rows = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1030, 1.0995, 1.1025), // best 1.1030 → SL 1.1020
            (1.1025, 1.1035, 1.1015, 1.1018), // low 1.1015 ≤ 1.1020 → trailing exit at 1.1020
            (1.1018, 1.1020, 1.1010, 1.1015),
        ];
        let extra = serde_json::json!({"trade_management": {"trailing": {"distance_pips": 10}}});
        for (variant, reason) in [
            ("v2", ExitReason::TrailingStop),
            ("v1_parity", ExitReason::BreakEvenStopLoss),
        ] {
            let d = data(bars(&rows, 0.0), &[sig(0, Direction::Long, 1.0980, 1.1100)]);
            let out = run_config(&cfg(variant, extra.clone()), &d, true, false).unwrap();
            let t = &out.trades[0];
            assert_eq!(t.reason, reason, "{variant}");
            assert_eq!(t.exit_time, 2 * M);
            assert!(close(t.exit_price, 1.1020), "{}", t.exit_price);
        }
    }

    #[test]
    fn trailing_stop_short_never_loosens_and_atr_mult() {
        // Short at bar 0 close (bid 1.1000, ask = bid with 0 spread); SL 1.1020, TP 1.0900.
        let rows = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1002, 1.0980, 1.0985), // best ask low 1.0980 → SL 1.0990
            (1.0985, 1.0995, 1.0984, 1.0990), // high 1.0995 ≥ 1.0990 → exit at 1.0990
        ];
        let extra = serde_json::json!({"trade_management": {"trailing": {"distance_pips": 10}}});
        let d = data(
            bars(&rows, 0.0),
            &[sig(0, Direction::Short, 1.1020, 1.0900)],
        );
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        let t = &out.trades[0];
        assert_eq!(t.reason, ExitReason::TrailingStop);
        assert!(close(t.exit_price, 1.0990));
        assert!(
            close(t.gross_pnl, 10.0 * 0.5 * 10.0),
            "10 pips × 0.5 lots × 10 USD/pip: {}",
            t.gross_pnl
        );
        // ATR-based: ATR(1) of bar 1 = TR = max(1.1002−1.0980, |1.1002−1.1000|, |1.0980−1.1000|) = 0.0022;
        // mult 1 → SL = 1.0980 + 0.0022 = 1.1002: looser than the initial 1.1020? No, tighter → moved.
        let extra = serde_json::json!({"trade_management": {"trailing": {"atr_mult": 1.0, "atr_period": 1}}});
        let rows2 = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1002, 1.0980, 1.0985),
            (1.0985, 1.1003, 1.0984, 1.0990), // high 1.1003 ≥ 1.1002 → trailing exit
        ];
        let d = data(
            bars(&rows2, 0.0),
            &[sig(0, Direction::Short, 1.1020, 1.0900)],
        );
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        let t = &out.trades[0];
        assert_eq!(t.reason, ExitReason::TrailingStop);
        assert!(close(t.exit_price, 1.1002), "{}", t.exit_price);
    }

    #[test]
    fn end_of_data_v2_closes_v1_leaves_open() {
        let d = data(
            bars(&long_path(), 1.0),
            &[sig(0, Direction::Long, 1.0900, 1.1200), {
                let mut s = sig(M, Direction::Long, 1.0900, 1.1200);
                s.order_type = OrderType::Limit;
                s.entry_price = Some(1.0950);
                s
            }],
        );
        let extra = serde_json::json!({"limits": {"max_open_positions": 2}});
        let out = run_config(&cfg("v2", extra.clone()), &d, true, true).unwrap();
        assert_eq!(out.trades.len(), 1);
        let t = &out.trades[0];
        assert_eq!(t.reason, ExitReason::EndOfData);
        assert_eq!(t.exit_time, 3 * M);
        assert!(close(t.entry_price, 1.1001), "ask close");
        assert!(close(t.exit_price, 1.1030), "bid close of the last bar");
        assert_eq!(out.stats.orders_cancelled, 1, "the limit never triggered");
        assert!(close(out.stats.final_equity, out.stats.final_balance));
        assert!(out.open_at_end.is_empty());
        let out = run_config(&cfg("v1_parity", extra), &d, true, true).unwrap();
        assert!(out.trades.is_empty());
        assert_eq!(out.open_at_end.len(), 1);
        assert_eq!(out.stats.orders_cancelled, 1);
        assert!(close(out.stats.final_equity, 10_000.0));
    }

    #[test]
    fn exit_on_opposite_signal_and_direction_filter() {
        let rows = long_path();
        let signals = [
            sig(0, Direction::Long, 1.0900, 1.1200),
            sig(M, Direction::Short, 1.1100, 1.0900),
        ];
        let extra = serde_json::json!({"limits": {"exit_on_opposite_signal": true}});
        let d = data(bars(&rows, 0.0), &signals);
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        assert_eq!(out.trades.len(), 2);
        assert_eq!(out.trades[0].reason, ExitReason::SignalExit);
        assert_eq!(out.trades[0].exit_time, M);
        assert!(close(out.trades[0].exit_price, 1.1020));
        assert_eq!(out.trades[1].direction, Direction::Short);
        assert_eq!(out.trades[1].entry_time, M);
        assert_eq!(out.trades[1].reason, ExitReason::EndOfData);
        // Without it the short is skipped (max_open_positions 1).
        let out = run_config(&cfg("v2", serde_json::json!({})), &d, true, false).unwrap();
        assert_eq!(out.trades.len(), 1);
        assert_eq!(out.stats.signals, 2);
        assert_eq!(out.stats.signals_skipped, 1);
        // Long-only with exit_on_opposite: the short closes the long but opens nothing.
        let extra =
            serde_json::json!({"limits": {"exit_on_opposite_signal": true, "direction": "long"}});
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        assert_eq!(out.trades.len(), 1);
        assert_eq!(out.trades[0].reason, ExitReason::SignalExit);
        assert_eq!(out.stats.signals_skipped, 1);
        let extra = serde_json::json!({"limits": {"direction": "short", "max_open_positions": 5}});
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        assert_eq!(out.trades.len(), 1);
        assert_eq!(out.trades[0].direction, Direction::Short);
    }

    #[test]
    fn max_open_positions_counts_open_and_pending() {
        let signals = [
            sig(0, Direction::Long, 1.0900, 1.1200),
            sig(M, Direction::Long, 1.0900, 1.1200),
            sig(2 * M, Direction::Long, 1.0900, 1.1200),
        ];
        let d = data(bars(&long_path(), 0.0), &signals);
        for (max, trades) in [(1, 1), (2, 2), (3, 3)] {
            let extra = serde_json::json!({"limits": {"max_open_positions": max}});
            let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
            assert_eq!(out.trades.len(), trades, "max {max}");
            assert_eq!(out.stats.signals_skipped, 3 - trades as u64);
        }
    }

    #[test]
    fn cooldown_skips_the_exit_bar_and_the_next_n() {
        // Long at bar 0 stopped out in bar 1; signals at bars 1, 2, 3.
        let rows = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1005, 1.0970, 1.0990), // SL 1.0980 hit
            (1.0990, 1.1000, 1.0985, 1.0995),
            (1.0995, 1.1000, 1.0985, 1.0995),
            (1.0995, 1.1000, 1.0985, 1.0995),
        ];
        let signals = [
            sig(0, Direction::Long, 1.0980, 1.1100),
            sig(M, Direction::Long, 1.0900, 1.1100),
            sig(2 * M, Direction::Long, 1.0900, 1.1100),
            sig(3 * M, Direction::Long, 1.0900, 1.1100),
        ];
        let d = data(bars(&rows, 0.0), &signals);
        let entries = |cooldown: u32| -> Vec<i64> {
            let extra = serde_json::json!({"limits": {"cooldown_bars": cooldown}});
            run_config(&cfg("v2", extra), &d, true, false)
                .unwrap()
                .trades
                .iter()
                .map(|t| t.entry_time)
                .collect()
        };
        assert_eq!(
            entries(0),
            vec![0, M],
            "no cooldown: re-entry in the exit bar"
        );
        assert_eq!(entries(1), vec![0, 3 * M], "exit bar 1 and bar 2 skipped");
        assert_eq!(entries(2), vec![0], "bars 1, 2, 3 skipped");
        // One order per bar: only the exit bar's signal is skipped.
        let extra = serde_json::json!({"limits": {"skip_exit_bar_signals": true}});
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        let e: Vec<i64> = out.trades.iter().map(|t| t.entry_time).collect();
        assert_eq!(e, vec![0, 2 * M], "exit bar 1 skipped, bar 2 trades");
        assert_eq!(
            out.stats.signals_skipped, 2,
            "bar 1 (exit bar) and bar 3 (position open)"
        );
    }

    #[test]
    fn session_hours_filter_signals_by_utc_hour() {
        let rows = vec![(1.1, 1.1005, 1.0995, 1.1); 6]; // hourly bars at 00:00 .. 05:00
        let signals: Vec<SignalRow> = (0..6)
            .map(|h| sig(h * H, Direction::Long, 1.0900, 1.1200))
            .collect();
        let d = data(bars_step(&rows, 0.0, H), &signals);
        let run = |session: serde_json::Value| -> Vec<i64> {
            let extra =
                serde_json::json!({"limits": {"session_hours": session, "max_open_positions": 10}});
            run_config(&cfg("v2", extra), &d, true, false)
                .unwrap()
                .trades
                .iter()
                .map(|t| t.entry_time / H)
                .collect()
        };
        assert_eq!(run(serde_json::json!([2, 4])), vec![2, 3]);
        assert_eq!(
            run(serde_json::json!([4, 1])),
            vec![0, 4, 5],
            "wraps over midnight"
        );
    }

    #[test]
    fn warm_up_and_end_bound() {
        let rows = vec![(1.1, 1.1005, 1.0995, 1.1); 6];
        let signals: Vec<SignalRow> = (0..6)
            .map(|i| sig(i * M, Direction::Long, 1.0900, 1.1200))
            .collect();
        let d = data(bars(&rows, 0.0), &signals);
        let extra =
            serde_json::json!({"start": 2 * M, "end": 4 * M, "limits": {"max_open_positions": 10}});
        let out = run_config(&cfg("v2", extra), &d, true, true).unwrap();
        assert_eq!(out.stats.bars, 3);
        assert_eq!(out.equity.unwrap().ts, vec![2 * M, 3 * M, 4 * M]);
        let entries: Vec<i64> = out.trades.iter().map(|t| t.entry_time).collect();
        assert_eq!(entries, vec![2 * M, 3 * M, 4 * M]);
        assert!(out.trades.iter().all(|t| t.exit_time == 4 * M));
        let extra = serde_json::json!({"start": 10 * M});
        let e = run_config(&cfg("v2", extra), &d, true, true).unwrap_err();
        assert_eq!(e.code().code, 2008);
    }

    #[test]
    fn pending_limit_triggers_and_ttl_expires() {
        let mut limit = sig(0, Direction::Long, 1.0950, 1.1100);
        limit.order_type = OrderType::Limit;
        limit.entry_price = Some(1.0990);
        let rows = vec![
            (1.1000, 1.1005, 1.0995, 1.1000),
            (1.1000, 1.1005, 1.0995, 1.1000), // ask low 1.0995 > 1.0990: no trigger
            (1.1000, 1.1005, 1.0985, 1.0990), // ask low 1.0985 <= 1.0990: triggers
            (1.0990, 1.0995, 1.0985, 1.0990),
        ];
        let d = data(bars(&rows, 0.0), &[limit.clone()]);
        let out = run_config(&cfg("v2", serde_json::json!({})), &d, true, false).unwrap();
        let t = &out.trades[0];
        assert_eq!(t.trigger_time, Some(2 * M));
        assert_eq!(t.entry_time, 2 * M);
        // SEMANTICS §2: the worse of E and the trade-side open: max(1.0990, 1.1000).
        assert!(close(t.entry_price, 1.1000), "{}", t.entry_price);
        let extra = serde_json::json!({"execution": {"pending_ttl_bars": 1}});
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        assert!(out.trades.is_empty());
        assert_eq!(out.stats.orders_expired, 1);
        assert_eq!(out.metrics.trades, 0);
    }

    #[test]
    fn rejections_are_counted() {
        let d = data(
            bars(&long_path(), 0.0),
            &[sig(0, Direction::Long, 1.1010, 1.1200)],
        );
        let out = run_config(&cfg("v2", serde_json::json!({})), &d, true, false).unwrap();
        assert!(out.trades.is_empty());
        assert_eq!(out.stats.rejected[RejectReason::SlWrongSide.index()], 1);
    }

    #[test]
    fn risk_percent_sizes_from_equity() {
        let extra = serde_json::json!({"account": {"risk_per_trade": null, "risk_percent": 1.0}});
        let d = data(
            bars(&long_path(), 0.0),
            &[sig(0, Direction::Long, 1.0980, 1.1040)],
        );
        let out = run_config(&cfg("v2", extra), &d, true, false).unwrap();
        // 1 % of 10,000 = 100 → 0.5 lots as with risk_per_trade 100.
        assert!(close(out.trades[0].lots, 0.5));
    }

    #[test]
    fn tick_mode_runs_the_signal_table_on_ticks() {
        let ts = vec![0, 10, 20, 30, 40];
        let bid = vec![1.1000, 1.1010, 1.1030, 1.1041, 1.1050];
        let ticks = Ticks::from_vecs("EURUSD", ts, bid, None, Some(1.0), Some(0.0001)).unwrap();
        let mut d = data(
            bars(&long_path(), 0.0),
            &[sig(5, Direction::Long, 1.0981, 1.1041)],
        );
        d.add_ticks(ticks);
        let out = run_config(&cfg("v2", serde_json::json!({})), &d, true, true).unwrap();
        assert_eq!(out.stats.bars, 5, "one point per tick");
        let t = &out.trades[0];
        assert_eq!(t.entry_time, 10, "first tick at or after the signal");
        assert!(close(t.entry_price, 1.1011), "ask of that tick");
        assert_eq!(t.reason, ExitReason::TakeProfit);
        assert_eq!(t.exit_time, 30);
        let extra = serde_json::json!({"trade_management": {"trailing": {"atr_mult": 1.0}}});
        assert_eq!(
            run_config(&cfg("v2", extra), &d, true, true)
                .unwrap_err()
                .code()
                .code,
            1003
        );
    }

    #[test]
    fn unknown_symbol_and_table() {
        let d = data(bars(&long_path(), 0.0), &[]);
        let mut c = cfg("v2", serde_json::json!({}));
        c.strategy.params = StrategyParams::Signals(crate::config::SignalsParams {
            table: "nope".into(),
        });
        let e = run_config(&c, &d, false, false).unwrap_err();
        assert_eq!(e.code().code, 1003);
        assert!(e.to_string().contains("strategy.params.table"));
        let c = cfg("v2", serde_json::json!({"symbol": "GBPUSD"}));
        assert_eq!(
            run_config(&c, &d, false, false).unwrap_err().code().code,
            1002
        );
    }

    #[test]
    fn cancel_flag_stops_the_run() {
        let b = crate::synthetic::synthetic_bars("EURUSD", 10_000, M, 1, 0, 0.0001, 1.1);
        let d = data(b, &[]);
        let flag = Arc::new(AtomicBool::new(true));
        let e = run_config_cancellable(
            &cfg("v2", serde_json::json!({})),
            &d,
            false,
            false,
            Some(&flag),
        )
        .unwrap_err();
        assert_eq!(e.code().code, 5002);
    }

    /// 2024-01-01 00:00 UTC (a Monday).
    const MON_2024: i64 = 1_704_067_200_000_000;

    fn builtin_cfg(
        strategy: &serde_json::Value,
        variant: &str,
        extra: &serde_json::Value,
    ) -> RunConfig {
        let mut v = serde_json::json!({
            "symbol": "EURUSD",
            "symbol_spec": {"pip_size": 0.0001},
            "strategy": strategy,
            "execution": {"variant": variant, "pending_ttl_bars": 10},
            "account": {"risk_per_trade": 100.0, "initial_balance": 10000.0},
            "costs": {"slippage": {"fixed_pips": 0.3},
                      "commission": {"default": {"schema": "per_lot", "rate": 3.5}}},
            "start": MON_2024 + 300 * M,
            "seed": 5,
        });
        for (k, val) in extra.as_object().unwrap() {
            match (v.get_mut(k), val) {
                (Some(serde_json::Value::Object(dst)), serde_json::Value::Object(src)) => {
                    for (k2, v2) in src {
                        dst.insert(k2.clone(), v2.clone());
                    }
                }
                _ => {
                    v.as_object_mut().unwrap().insert(k.clone(), val.clone());
                }
            }
        }
        parse_config(&v.to_string()).unwrap()
    }

    fn strategies() -> Vec<serde_json::Value> {
        vec![
            serde_json::json!({"name": "sma_cross", "params": {"fast": 10, "slow": 40, "sl_pips": 15, "tp_pips": 30}}),
            serde_json::json!({"name": "ema_cross", "params": {"fast": 8, "slow": 30, "sl_atr": 2.0, "tp_atr": 3.0, "atr_period": 14}}),
            serde_json::json!({"name": "donchian_breakout", "params": {"lookback": 30, "sl_pips": 10, "tp_pips": 20}}),
            serde_json::json!({"name": "zscore_reversion", "params": {"window": 50, "z_entry": 2.0, "sl_pips": 12, "tp_pips": 12}}),
            serde_json::json!({"name": "zscore_reversion", "params": {"window": 50, "z_entry": 2.0, "limit_offset_pips": 1.5, "sl_pips": 12, "tp_pips": 12}}),
            serde_json::json!({"name": "rsi_reversion", "params": {"period": 14, "lower": 25, "upper": 75, "sl_atr": 1.5, "tp_atr": 1.5}}),
        ]
    }

    fn setups() -> Vec<serde_json::Value> {
        vec![
            serde_json::json!({}),
            serde_json::json!({"trade_management": {"max_holding_bars": 60, "break_even": {"trigger_pips": 6, "offset_pips": 1},
                                                    "trailing": {"atr_mult": 2.0, "atr_period": 20}}}),
            serde_json::json!({"limits": {"max_open_positions": 3, "exit_on_opposite_signal": true, "cooldown_bars": 3,
                                          "session_hours": [7, 20]},
                               "trade_management": {"trailing": {"distance_pips": 8}}}),
            serde_json::json!({"execution": {"market_fill": "next_open", "gap_fills": true, "pending_ttl_bars": 5},
                               "account": {"risk_per_trade": null, "risk_percent": 0.5}, "limits": {"direction": "long"}}),
        ]
    }

    #[test]
    fn signals_table_reproduces_builtin_trades() {
        let b = crate::synthetic::synthetic_bars("EURUSD", 20_000, M, 11, MON_2024, 0.0001, 1.1);
        let d0 = DataSet::from_bars(b.clone());
        for strategy in strategies() {
            for setup in setups() {
                for variant in ["v2", "v1_parity"] {
                    let what = format!("{strategy} {setup} {variant}");
                    let c = builtin_cfg(&strategy, variant, &setup);
                    let (a, rows) = run_config_recording(&c, &d0).unwrap();
                    assert!(
                        a.trades.len() >= 5,
                        "{what}: only {} trades",
                        a.trades.len()
                    );
                    assert_eq!(rows.len() as u64, a.stats.signals, "{what}");
                    let mut d = DataSet::from_bars(b.clone());
                    d.add_signals("rec", SignalTable::from_rows(&rows).unwrap());
                    let mut c2 = c.clone();
                    c2.strategy.params = StrategyParams::Signals(crate::config::SignalsParams {
                        table: "rec".into(),
                    });
                    let r = run_config(&c2, &d, true, true).unwrap();
                    assert_eq!(a.trades.len(), r.trades.len(), "{what}");
                    for (x, y) in a.trades.iter().zip(&r.trades) {
                        let mut y = y.clone();
                        assert_eq!(x.meta, crate::strategies::NO_META);
                        y.meta = x.meta;
                        assert_eq!(*x, y, "{what}");
                    }
                    assert_eq!(a.equity, r.equity, "{what}");
                    assert_eq!(a.stats, r.stats, "{what}");
                    assert_eq!(a.open_at_end, {
                        let mut o = r.open_at_end.clone();
                        o.iter_mut()
                            .for_each(|p| p.meta = crate::strategies::NO_META);
                        o
                    });
                }
            }
        }
    }

    /// Span mode against the ordinary per-bar loop: every strategy that can run ahead, with
    /// every limit, fill and sizing option span mode accepts, on both outputs.
    #[test]
    fn span_loop_matches_the_ordinary_loop() {
        let b = crate::synthetic::synthetic_bars("EURUSD", 30_000, M, 13, MON_2024, 0.0001, 1.1);
        let mut d = DataSet::from_bars(b.clone());
        // A dense signal table: one signal every 7 bars, alternating sides, market and pending.
        let rows: Vec<SignalRow> = (0..b.len())
            .step_by(7)
            .map(|i| {
                let c = b.bid_close()[i];
                let (d, s) = if i % 2 == 0 {
                    (Direction::Long, 1.0)
                } else {
                    (Direction::Short, -1.0)
                };
                let mut r = sig(b.ts()[i], d, c - s * 0.0012, c + s * 0.0018);
                if i % 3 == 0 {
                    r.order_type = OrderType::Limit;
                    r.entry_price = Some(c - s * 0.0003);
                }
                r
            })
            .collect();
        d.add_signals("dense", SignalTable::from_rows(&rows).unwrap());
        let mut strategies: Vec<serde_json::Value> = strategies()
            .into_iter()
            .filter(|s| s["name"] != "donchian_breakout")
            .collect();
        strategies.push(serde_json::json!({"name": "signals", "params": {"table": "dense"}}));
        let setups = [
            serde_json::json!({}),
            serde_json::json!({"limits": {"max_open_positions": 3}}),
            serde_json::json!({"limits": {"max_open_positions": 2, "exit_on_opposite_signal": true,
                                          "cooldown_bars": 3, "session_hours": [7, 20]}}),
            serde_json::json!({"limits": {"skip_exit_bar_signals": true, "direction": "short"},
                               "end": MON_2024 + 20_000 * M}),
            serde_json::json!({"execution": {"market_fill": "next_open", "gap_fills": true, "pending_ttl_bars": 5},
                               "account": {"risk_per_trade": null, "risk_percent": 0.5}}),
            serde_json::json!({"execution": {"pip_buffer_factor": 0.0},
                               "account": {"fixed_lots": 0.3, "risk_per_trade": null}}),
        ];
        let bars = &d.bars["EURUSD"];
        for strategy in &strategies {
            for setup in &setups {
                let what = format!("{strategy} {setup}");
                let c = builtin_cfg(strategy, "v2", setup);
                for (trades, equity) in [(true, true), (false, false)] {
                    let run = |spans| {
                        run_bars(&c, &d, bars, trades, equity, None, false, spans)
                            .unwrap()
                            .0
                    };
                    let (a, o) = (run(true), run(false));
                    assert!(a.metrics.trades >= 5, "{what}: {} trades", a.metrics.trades);
                    assert_eq!(a.trades, o.trades, "{what}");
                    assert_eq!(a.equity, o.equity, "{what}");
                    assert_eq!(a.stats, o.stats, "{what}");
                    // Debug text: bit-exact for every float, NaN equal to NaN.
                    assert_eq!(
                        format!("{:?}", a.metrics),
                        format!("{:?}", o.metrics),
                        "{what}"
                    );
                    assert_eq!(a.open_at_end, o.open_at_end, "{what}");
                }
            }
        }
    }

    #[test]
    fn accounting_is_consistent_on_synthetic_runs() {
        let b = crate::synthetic::synthetic_bars("EURUSD", 20_000, M, 12, MON_2024, 0.0001, 1.1);
        let d = DataSet::from_bars(b);
        for strategy in strategies() {
            for setup in setups() {
                let what = format!("{strategy} {setup}");
                let out =
                    run_config(&builtin_cfg(&strategy, "v2", &setup), &d, true, true).unwrap();
                let net: f64 = out.trades.iter().map(|t| t.net_pnl).sum();
                let fees: f64 = out.trades.iter().map(|t| t.entry_fee + t.exit_fee).sum();
                assert!(
                    (out.stats.final_balance - (10_000.0 + net)).abs() < 1e-6,
                    "{what}"
                );
                assert!((out.stats.fees_total - fees).abs() < 1e-6, "{what}");
                assert!(
                    (out.stats.final_equity - out.stats.final_balance).abs() < 1e-9,
                    "{what}: all closed at the end"
                );
                assert_eq!(out.metrics.trades as usize, out.trades.len());
                let eq = out.equity.as_ref().unwrap();
                assert_eq!(eq.ts.len() as u64, out.stats.bars);
                assert_eq!(out.stats.bars, 20_000 - 300);
                for t in &out.trades {
                    assert!(t.exit_time >= t.entry_time, "{what}");
                    assert!((t.net_pnl - (t.gross_pnl - t.entry_fee - t.exit_fee)).abs() < 1e-9);
                    // Market entries at the signal close fill at that bar's close ± 0.3 pip.
                    if t.order_type == OrderType::Market && setup.get("execution").is_none() {
                        assert_eq!(t.trigger_time, Some(t.entry_time));
                    }
                }
                // Same inputs, same outputs.
                let again =
                    run_config(&builtin_cfg(&strategy, "v2", &setup), &d, true, true).unwrap();
                assert_eq!(out.trades, again.trades);
            }
        }
    }

    #[test]
    fn sma_cross_end_to_end_hand_checked_both_variants() {
        // Closes from the strategy test: SMA(2)/SMA(3) cross up at bar 3 (long), down at bar 6.
        // Long at bar 3's ask close 1.1001 (1-pip spread), SL 1000 pips → 1.0001, TP 1.6001.
        // Bar 6: close 0.9, low 0.8998. v2 runs exits before the strategy: the SL exits at
        // 1.0001, then the short opens at the bid close 0.9. v1 runs the strategy first: the
        // short signal closes the long at 0.9 (signal_exit) and opens the short.
        let closes = [1.0, 1.0, 1.0, 1.1, 1.2, 1.1, 0.9, 0.8];
        let b = crate::strategies::test_util::bars_from_closes(&closes);
        let d = DataSet::from_bars(b.clone());
        let strategy = serde_json::json!({"name": "sma_cross", "params": {"fast": 2, "slow": 3, "sl_pips": 1000, "tp_pips": 5000}});
        for variant in ["v2", "v1_parity"] {
            let mut c = builtin_cfg(
                &strategy,
                variant,
                &serde_json::json!({"limits": {"exit_on_opposite_signal": true}}),
            );
            c.start = None;
            c.costs = Default::default();
            let out = run_config(&c, &d, true, true).unwrap();
            let t = &out.trades[0];
            assert_eq!(
                (t.direction, t.entry_time, t.exit_time),
                (Direction::Long, 3 * M, 6 * M),
                "{variant}"
            );
            assert!(close(t.entry_price, 1.1001));
            assert!(close(t.initial_stop_loss, 1.0001) && close(t.initial_take_profit, 1.6001));
            if variant == "v2" {
                assert_eq!(t.reason, ExitReason::StopLoss);
                assert!(close(t.exit_price, 1.0001));
                assert_eq!(out.trades.len(), 2);
                let s = &out.trades[1];
                assert_eq!(
                    (s.direction, s.entry_time, s.reason),
                    (Direction::Short, 6 * M, ExitReason::EndOfData)
                );
                assert!(
                    close(s.entry_price, 0.9) && close(s.exit_price, 0.8001),
                    "exit at the last ask close"
                );
            } else {
                assert_eq!(t.reason, ExitReason::SignalExit);
                assert!(close(t.exit_price, 0.9));
                assert_eq!(out.trades.len(), 1);
                assert_eq!(out.open_at_end.len(), 1);
                assert_eq!(out.open_at_end[0].direction, Direction::Short);
            }
        }
    }

    #[test]
    fn donchian_end_to_end_stop_entry_both_variants() {
        // lookback 3 on bars_from_closes (high = max(o, c) + 2 pips, low = min(o, c) − 2 pips):
        // at bar 2 the channel is [1.0998, 1.1202], the close 1.11 sits in its upper half: a buy
        // stop at 1.1202 (SL 1.1102). Bar 3 (open 1.11, close 1.13) breaks it: the stop fills in
        // bar 3 at 1.1202 (v2: max(E, ask open 1.1101); v1: E), and bar 3's low 1.1098 reaches
        // the SL in the trigger bar, which SL may do in both variants.
        let closes = [1.10, 1.12, 1.11, 1.13, 1.13, 1.13];
        let b = crate::strategies::test_util::bars_from_closes(&closes);
        let d = DataSet::from_bars(b);
        let strategy = serde_json::json!({"name": "donchian_breakout", "params": {"lookback": 3, "sl_pips": 100, "tp_pips": 500}});
        for variant in ["v2", "v1_parity"] {
            let mut c = builtin_cfg(&strategy, variant, &serde_json::json!({}));
            c.start = None;
            c.costs = Default::default();
            let (out, rows) = run_config_recording(&c, &d).unwrap();
            assert_eq!(rows[0].ts, 2 * M);
            assert_eq!(rows[0].order_type, OrderType::Stop);
            assert!(close(rows[0].entry_price.unwrap(), 1.1202));
            let t = &out.trades[0];
            assert_eq!(t.placement_time, 2 * M, "{variant}");
            assert_eq!(t.trigger_time, Some(3 * M));
            assert!(close(t.entry_price, 1.1202), "{variant}: {}", t.entry_price);
            assert_eq!(
                (t.reason, t.exit_time, t.in_entry_candle),
                (ExitReason::StopLoss, 3 * M, true),
                "{variant}"
            );
            assert!(close(t.exit_price, 1.1102));
            // The next stop goes to the new channel top 1.1302 (bar 3's high): v2 places it in
            // bar 3 (the exit ran before the strategy), v1 in bar 4 (its strategy step in bar 3
            // still saw the pending order).
            assert_eq!(
                rows[1].ts,
                if variant == "v2" { 3 * M } else { 4 * M },
                "{variant}"
            );
            assert!(close(rows[1].entry_price.unwrap(), 1.1302));
        }
    }
}

#[cfg(test)]
mod perf {
    use super::*;
    use crate::config::parse_config;

    /// Rough per-bar timing (run with `cargo test --profile ci -p omega-loop perf -- --ignored
    /// --nocapture`); the criterion benchmark in benches/ is the reference.
    #[test]
    #[ignore]
    fn perf_one_config_million_bars() {
        let t0 = std::time::Instant::now();
        let b = crate::synthetic::synthetic_bars(
            "EURUSD",
            1_000_000,
            60_000_000,
            1,
            1_704_067_200_000_000,
            0.0001,
            1.1,
        );
        eprintln!("synthetic 1M M1 bars: {:?}", t0.elapsed());
        let d = DataSet::from_bars(b);
        let cfgs = [
            r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001},
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50, "sl_pips": 20, "tp_pips": 40}}}"#,
            r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001},
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50, "sl_pips": 20, "tp_pips": 40}},
                "limits": {"session_hours": [3, 4]}}"#,
            r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001},
                "strategy": {"name": "rsi_reversion", "params": {"period": 14, "lower": 30, "upper": 70, "sl_atr": 2, "tp_atr": 2}},
                "trade_management": {"max_holding_bars": 100, "break_even": {"trigger_pips": 10}, "trailing": {"distance_pips": 15}}}"#,
        ];
        {
            // Breakdown: the strategy alone, the metrics alone.
            let c = parse_config(cfgs[0]).unwrap();
            let bars = d.bars.get("EURUSD").unwrap().clone();
            let mut best = f64::MAX;
            for _ in 0..5 {
                let mut st = Strategy::from_config(&c, &d, bars.ts()).unwrap();
                let mut out = Vec::with_capacity(8);
                let t = std::time::Instant::now();
                let mut n = 0usize;
                let v = bars.view();
                for i in 0..bars.len() {
                    out.clear();
                    st.on_bar(&v, i, &StrategyContext::default(), &mut out);
                    n += out.len();
                }
                std::hint::black_box(n);
                best = best.min(t.elapsed().as_secs_f64());
            }
            eprintln!("strategy alone: {:.2} ns/bar", best * 1e9 / 1e6);
            let mut best = f64::MAX;
            for _ in 0..5 {
                let mut m = MetricsAccumulator::new(1e5);
                let t = std::time::Instant::now();
                for i in 0..bars.len() {
                    m.on_bar(bars.ts()[i], 1e5 + bars.bid_close()[i], i % 3 == 0);
                }
                std::hint::black_box(m.bars());
                best = best.min(t.elapsed().as_secs_f64());
            }
            eprintln!("metrics alone: {:.2} ns/bar", best * 1e9 / 1e6);
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let mut acc = 0.0;
                for i in 0..bars.len() {
                    let b = bars.bid_candle(i);
                    let a = bars.ask_candle(i);
                    acc += b.close + a.close + b.high + a.low;
                }
                std::hint::black_box(acc);
                best = best.min(t.elapsed().as_secs_f64());
            }
            eprintln!("candles alone: {:.2} ns/bar", best * 1e9 / 1e6);
        }
        let small = DataSet::from_bars(crate::synthetic::synthetic_bars(
            "EURUSD",
            100_000,
            60_000_000,
            1,
            1_704_067_200_000_000,
            0.0001,
            1.1,
        ));
        let only: Option<usize> = std::env::var("OMEGA_PERF_ONLY")
            .ok()
            .and_then(|v| v.parse().ok());
        for (k, json) in cfgs.iter().enumerate() {
            if only.is_some_and(|o| o != k) {
                continue;
            }
            let c = parse_config(json).unwrap();
            let mut best_small = f64::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                run_config(&c, &small, false, false).unwrap();
                best_small = best_small.min(t.elapsed().as_secs_f64());
            }
            eprintln!(
                "{} (100k bars, cache-resident): {:.2} ns/bar",
                c.strategy_name(),
                best_small * 1e9 / 1e5
            );
            let mut best = f64::MAX;
            let mut trades = 0;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let out = run_config(&c, &d, false, false).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                trades = out.metrics.trades;
            }
            eprintln!(
                "{}: {:.2} ns/bar ({trades} trades)",
                c.strategy_name(),
                best * 1e9 / 1e6
            );
        }
    }
}
