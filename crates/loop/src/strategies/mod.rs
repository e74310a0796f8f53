//! Built-in strategies, statically dispatched through the [`Strategy`] enum.
//!
//! Each bar the engine calls [`Strategy::on_bar`] with the bars and the bar index; the strategy
//! updates its incremental indicators (on bid prices) and appends the signals it decides at this
//! bar's close to a reusable buffer (cleared by the engine; no allocation per bar). Market
//! entries carry no entry price: they fill at the signal bar's close on the trade side (ask for
//! long, bid for short), and their SL/TP are placed from that close. Pending entries carry their
//! order price and place SL/TP from it.

mod donchian;
mod ma_cross;
mod rsi;
mod signal_table;
mod zscore;

pub use donchian::DonchianBreakout;
pub use ma_cross::{MaCross, MovingAverage};
pub use rsi::RsiReversion;
pub use signal_table::SignalsStrategy;
pub use zscore::ZScoreReversion;

use omega_exec_core::{Direction, OrderType};

use crate::config::{RunConfig, StopParams, StrategyParams};
use crate::data::{BarView, DataSet};
use crate::error::{LoopError, Result};
use crate::indicators::{Atr, Ema, Sma};

/// A signal decided by a strategy at the close of the current bar (the engine adds the time
/// and symbol).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategySignal {
    pub direction: Direction,
    pub order_type: OrderType,
    /// Order price of pending orders (and market orders of a signal table that give one);
    /// `None`: fill at the signal bar's close on the trade side.
    pub entry_price: Option<f64>,
    pub levels: StopLevels,
    /// Row of the signal table (`signals`), `u32::MAX` for built-in strategies.
    pub meta: u32,
}

/// Where a signal's SL and TP lie.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StopLevels {
    /// Prices.
    At { stop_loss: f64, take_profit: f64 },
    /// Distances from the signal bar's close on the trade side (the reference of market entries
    /// without an entry price), placed when the signal executes: a signal the limits skip never
    /// reads the other side's close, which the strategy itself has no use for.
    FromClose { sl_distance: f64, tp_distance: f64 },
}

/// `(stop_loss, take_profit)` at `sl`/`tp` from `entry` on the losing/winning side of `direction`.
#[inline(always)]
fn place(direction: Direction, entry: f64, sl: f64, tp: f64) -> (f64, f64) {
    let s = direction.sign();
    (entry - s * sl, entry + s * tp)
}

impl StrategySignal {
    /// `(stop_loss, take_profit)` of the signal, given the signal bar's closes.
    #[inline]
    pub fn stops(&self, bid_close: f64, ask_close: f64) -> (f64, f64) {
        match self.levels {
            StopLevels::At {
                stop_loss,
                take_profit,
            } => (stop_loss, take_profit),
            StopLevels::FromClose {
                sl_distance,
                tp_distance,
            } => {
                let entry = match self.direction {
                    Direction::Long => ask_close,
                    Direction::Short => bid_close,
                };
                place(self.direction, entry, sl_distance, tp_distance)
            }
        }
    }
}

/// What the engine tells a strategy about the simulator's state at the signal step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyContext {
    /// Pending (not yet triggered) orders of this run.
    pub pending_orders: usize,
    /// Open positions of this run.
    pub open_positions: usize,
}

/// Meta value of signals from built-in strategies (no table row).
pub const NO_META: u32 = u32::MAX;

/// SL/TP placement from pips or ATR multiples (ATR(atr_period) of the bid candles).
#[derive(Clone, Debug)]
pub struct Stops {
    params: StopParams,
    pip: f64,
    atr: Option<Atr>,
}

impl Stops {
    pub fn new(params: StopParams, pip: f64) -> Self {
        let atr = params
            .needs_atr()
            .then(|| Atr::new(params.atr_period as usize));
        Stops { params, pip, atr }
    }

    /// Feeds bar `i` to the ATR (when one is needed).
    #[inline(always)]
    pub fn update(&mut self, bars: &BarView<'_>, i: usize) {
        if let Some(a) = &mut self.atr {
            a.update(bars.bid_high[i], bars.bid_low[i], bars.bid_close[i]);
        }
    }

    #[inline]
    fn distance(&self, pips: Option<f64>, mult: Option<f64>) -> Option<f64> {
        match (pips, mult) {
            (Some(p), _) => Some(p * self.pip),
            (None, Some(m)) => self.atr.as_ref().and_then(|a| a.value()).map(|atr| m * atr),
            (None, None) => None,
        }
    }

    /// `(stop_loss, take_profit)` around `entry` for `direction`; `None` while the ATR warms up.
    #[inline]
    pub fn levels(&self, direction: Direction, entry: f64) -> Option<(f64, f64)> {
        let (sl, tp) = self.distances()?;
        Some(place(direction, entry, sl, tp))
    }

    /// `(sl, tp)` distances in price; `None` while the ATR warms up.
    #[inline]
    fn distances(&self) -> Option<(f64, f64)> {
        let sl = self.distance(self.params.sl_pips, self.params.sl_atr)?;
        let tp = self.distance(self.params.tp_pips, self.params.tp_atr)?;
        Some((sl, tp))
    }

    /// A market signal: fills at the signal bar's close on the trade side, SL/TP placed from it.
    #[inline]
    pub fn market(&self, direction: Direction) -> Option<StrategySignal> {
        let (sl_distance, tp_distance) = self.distances()?;
        Some(StrategySignal {
            direction,
            order_type: OrderType::Market,
            entry_price: None,
            levels: StopLevels::FromClose {
                sl_distance,
                tp_distance,
            },
            meta: NO_META,
        })
    }

    /// A pending signal at order price `price`.
    #[inline]
    pub fn pending(
        &self,
        direction: Direction,
        order_type: OrderType,
        price: f64,
    ) -> Option<StrategySignal> {
        let (stop_loss, take_profit) = self.levels(direction, price)?;
        Some(StrategySignal {
            direction,
            order_type,
            entry_price: Some(price),
            levels: StopLevels::At {
                stop_loss,
                take_profit,
            },
            meta: NO_META,
        })
    }
}

/// A built-in strategy (enum dispatch: one `match` per bar, no trait objects).
#[derive(Clone, Debug)]
pub enum Strategy {
    SmaCross(MaCross<Sma>),
    EmaCross(MaCross<Ema>),
    DonchianBreakout(DonchianBreakout),
    ZScoreReversion(ZScoreReversion),
    RsiReversion(RsiReversion),
    Signals(SignalsStrategy),
}

impl Strategy {
    /// Builds the strategy of `cfg` for the bars of its symbol. `signals` looks its table up in
    /// `data.signals` (1003 naming `strategy.params.table` when absent).
    pub fn from_config(cfg: &RunConfig, data: &DataSet, bar_ts: &[i64]) -> Result<Strategy> {
        let pip = cfg.symbol_spec.pip_size;
        Ok(match &cfg.strategy.params {
            StrategyParams::SmaCross(p) => Strategy::SmaCross(MaCross::new(
                Sma::new(p.fast as usize),
                Sma::new(p.slow as usize),
                Stops::new(p.stops(), pip),
            )),
            StrategyParams::EmaCross(p) => Strategy::EmaCross(MaCross::new(
                Ema::new(p.fast as usize),
                Ema::new(p.slow as usize),
                Stops::new(p.stops(), pip),
            )),
            StrategyParams::DonchianBreakout(p) => Strategy::DonchianBreakout(
                DonchianBreakout::new(p.lookback as usize, Stops::new(p.stops(), pip)),
            ),
            StrategyParams::ZScoreReversion(p) => Strategy::ZScoreReversion(ZScoreReversion::new(
                p.window as usize,
                p.z_entry,
                p.limit_offset_pips * pip,
                Stops::new(p.stops(), pip),
            )),
            StrategyParams::RsiReversion(p) => Strategy::RsiReversion(RsiReversion::new(
                p.period as usize,
                p.lower,
                p.upper,
                Stops::new(p.stops(), pip),
            )),
            StrategyParams::Signals(p) => {
                let table = data.signals.get(&p.table).ok_or_else(|| {
                    LoopError::config(
                        "strategy.params.table",
                        format!(
                            "no signal table {:?} in the data (available: {})",
                            p.table,
                            data.signals.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                Strategy::Signals(SignalsStrategy::new(
                    table.clone(),
                    &cfg.symbol,
                    bar_ts.first().copied().unwrap_or(i64::MIN),
                ))
            }
        })
    }

    /// Bar `i` closed: update the indicators and append this bar's signals to `out`.
    #[inline(always)]
    pub fn on_bar(
        &mut self,
        bars: &BarView<'_>,
        i: usize,
        ctx: &StrategyContext,
        out: &mut Vec<StrategySignal>,
    ) {
        match self {
            Strategy::SmaCross(s) => s.on_bar(bars, i, out),
            Strategy::EmaCross(s) => s.on_bar(bars, i, out),
            Strategy::DonchianBreakout(s) => s.on_bar(bars, i, ctx, out),
            Strategy::ZScoreReversion(s) => s.on_bar(bars, i, out),
            Strategy::RsiReversion(s) => s.on_bar(bars, i, out),
            Strategy::Signals(s) => s.on_bar(bars, i, out),
        }
    }

    /// Whether `on_bar` reads the [`StrategyContext`] (the simulator's state at the signal
    /// step); such a strategy cannot run ahead of the simulator with [`Self::on_block`].
    pub fn needs_context(&self) -> bool {
        matches!(self, Strategy::DonchianBreakout(_))
    }

    /// Bars `from..to` closed, one after the other: the same indicator updates and signals as
    /// `on_bar` for each bar, appended to `out` with their bar index (in bar order). For
    /// strategies that do not need the context (see [`Self::needs_context`]): they decide from
    /// the bars alone, so they can run a block of bars ahead of the simulator. One `match` per
    /// block instead of one per bar; `scratch` is a reusable buffer (left empty).
    pub fn on_block(
        &mut self,
        bars: &BarView<'_>,
        from: usize,
        to: usize,
        scratch: &mut Vec<StrategySignal>,
        out: &mut Vec<(usize, StrategySignal)>,
    ) {
        #[inline(always)]
        fn each(
            from: usize,
            to: usize,
            scratch: &mut Vec<StrategySignal>,
            out: &mut Vec<(usize, StrategySignal)>,
            mut on_bar: impl FnMut(usize, &mut Vec<StrategySignal>),
        ) {
            scratch.clear();
            for i in from..to {
                on_bar(i, scratch);
                if !scratch.is_empty() {
                    out.extend(scratch.drain(..).map(|s| (i, s)));
                }
            }
        }
        let ctx = StrategyContext::default();
        match self {
            Strategy::SmaCross(s) => s.on_block(bars, from, to, out),
            Strategy::EmaCross(s) => s.on_block(bars, from, to, out),
            Strategy::DonchianBreakout(s) => {
                each(from, to, scratch, out, |i, o| s.on_bar(bars, i, &ctx, o))
            }
            Strategy::ZScoreReversion(s) => {
                each(from, to, scratch, out, |i, o| s.on_bar(bars, i, o))
            }
            Strategy::RsiReversion(s) => each(from, to, scratch, out, |i, o| s.on_bar(bars, i, o)),
            Strategy::Signals(s) => each(from, to, scratch, out, |i, o| s.on_bar(bars, i, o)),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Strategy::SmaCross(_) => "sma_cross",
            Strategy::EmaCross(_) => "ema_cross",
            Strategy::DonchianBreakout(_) => "donchian_breakout",
            Strategy::ZScoreReversion(_) => "zscore_reversion",
            Strategy::RsiReversion(_) => "rsi_reversion",
            Strategy::Signals(_) => "signals",
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::data::Bars;

    /// Bars from bid closes with a small fixed range and a 1-pip spread.
    pub fn bars_from_closes(closes: &[f64]) -> Bars {
        let n = closes.len();
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 60_000_000).collect();
        let open: Vec<f64> = (0..n)
            .map(|i| if i == 0 { closes[0] } else { closes[i - 1] })
            .collect();
        let high: Vec<f64> = (0..n).map(|i| open[i].max(closes[i]) + 0.0002).collect();
        let low: Vec<f64> = (0..n).map(|i| open[i].min(closes[i]) - 0.0002).collect();
        Bars::from_vecs(
            "EURUSD",
            ts,
            [open, high, low, closes.to_vec()],
            None,
            None,
            Some(1.0),
            Some(0.0001),
        )
        .unwrap()
    }

    /// Runs a strategy over all bars; returns (bar index, signal) pairs.
    pub fn collect(s: &mut Strategy, bars: &Bars) -> Vec<(usize, StrategySignal)> {
        let mut out = Vec::new();
        let mut all = Vec::new();
        let v = bars.view();
        for i in 0..bars.len() {
            out.clear();
            s.on_bar(&v, i, &StrategyContext::default(), &mut out);
            all.extend(out.iter().map(|x| (i, *x)));
        }
        all
    }

    pub fn pips(sl: f64, tp: f64) -> StopParams {
        StopParams {
            sl_pips: Some(sl),
            tp_pips: Some(tp),
            sl_atr: None,
            tp_atr: None,
            atr_period: 14,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn stops_from_pips_and_atr() {
        let s = Stops::new(pips(10.0, 20.0), 0.0001);
        let (sl, tp) = s.levels(Direction::Long, 1.1).unwrap();
        assert!((sl - 1.099).abs() < 1e-12 && (tp - 1.102).abs() < 1e-12);
        let (sl, tp) = s.levels(Direction::Short, 1.1).unwrap();
        assert!((sl - 1.101).abs() < 1e-12 && (tp - 1.098).abs() < 1e-12);
        let p = StopParams {
            sl_pips: None,
            tp_pips: Some(5.0),
            sl_atr: Some(2.0),
            tp_atr: None,
            atr_period: 2,
        };
        let mut s = Stops::new(p, 0.0001);
        let bars = bars_from_closes(&[1.1, 1.1, 1.1]);
        s.update(&bars.view(), 0);
        assert_eq!(s.levels(Direction::Long, 1.1), None, "ATR still warming up");
        s.update(&bars.view(), 1);
        // flat closes: TR = high - low = 0.0004 each bar, ATR = 0.0004, SL distance 0.0008
        let (sl, tp) = s.levels(Direction::Long, 1.1).unwrap();
        assert!((sl - 1.0992).abs() < 1e-12, "{sl}");
        assert!((tp - 1.1005).abs() < 1e-12);
        let m = s.market(Direction::Long).unwrap();
        assert_eq!(m.entry_price, None);
        let (sl, _) = m.stops(bars.bid_close()[1], bars.ask_close()[1]);
        assert!(
            (sl - (bars.ask_close()[1] - 0.0008)).abs() < 1e-12,
            "placed from the ask close"
        );
    }
}
