//! Streaming run metrics (SEMANTICS §9).
//!
//! The engine feeds a [`MetricsAccumulator`] once per bar in `[start, end]` (after the bar's equity
//! point) and once per closed trade (in the order trades close, which is the order of the trades
//! table); [`MetricsAccumulator::finish`] turns that into [`Metrics`]. Nothing is stored per bar:
//! the drawdown, the daily-return moments and the R-multiple moments are all kept as running
//! values, so a 10-million-bar run costs a handful of scalars.
//!
//! ## Definitions (the summary table's documentation points here)
//!
//! Money is kept to full `f64` precision and summed sequentially in trade order (never in parallel),
//! so the same run always gives the same bits. Undefined ratios are `NaN`, never an error.
//!
//! * `trades`, `wins` (net PnL > 0), `losses` (net PnL <= 0), `win_rate` = wins / trades (fraction).
//! * `gross_profit` = Σ net PnL of winning trades; `gross_loss` = |Σ net PnL of losing trades|
//!   (a non-negative number); `profit_factor` = gross_profit / gross_loss, `+inf` when there is no
//!   loss but some profit, `NaN` when both are zero.
//! * `net_profit` = Σ net PnL of the trades; `fees_total` = commissions booked during the run
//!   (from the engine, so v1 positions left open at the end still count their entry fee);
//!   `return_pct` = 100 · net_profit / initial_balance.
//! * `avg_trade` = net_profit / trades; `avg_win` = gross_profit / wins; `avg_loss` = mean net PnL of
//!   the losing trades (<= 0); `largest_win` = max net PnL (wins only), `largest_loss` = min net PnL
//!   (losses only).
//! * R statistics use the trades whose `r_multiple` is finite: `expectancy_r` = mean R, `sharpe_r` =
//!   mean R / sample std R (n − 1), `sqn` = √n · mean R / std R.
//! * Drawdown over the per-bar equity with a running peak that starts at the initial balance:
//!   `max_drawdown_abs` = max(peak − equity), `max_drawdown_pct` = 100 · max((peak − equity) / peak)
//!   (the two maxima may sit at different bars), `max_drawdown_duration_bars` = the longest run of
//!   consecutive bars whose equity is strictly below the running peak.
//! * Daily returns: the equity of the last bar of each UTC calendar day that has bars ("end-of-day
//!   equity"); the first return is measured against the initial balance. `sharpe` = mean / sample
//!   std · √252; `sortino` = mean / downside deviation · √252 with downside deviation =
//!   √(Σ min(r, 0)² / n).
//! * `cagr` = (final_equity / initial_balance)^(1 / years) − 1 with years = (last bar ts − first bar
//!   ts) / 365.25 days and final_equity the last bar's equity; `calmar` = cagr / (max_drawdown_pct
//!   / 100).
//! * `exposure_pct` = 100 · bars with an open position / bars.
//! * `ambiguous_exits` = trades whose exit bar had both SL and TP inside its range.

use omega_exec_core::{ClosedPosition, RejectReason};

/// Microseconds in one UTC day.
const DAY_US: i64 = 86_400_000_000;
/// Average Julian year in microseconds, for CAGR.
const YEAR_US: f64 = 365.25 * 86_400_000_000.0;
/// Trading days per year used to annualize daily Sharpe/Sortino.
const ANNUALIZATION_DAYS: f64 = 252.0;

/// Running mean and sum of squared deviations (Welford), fed in a fixed order so the result is
/// bit-for-bit reproducible.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    #[inline]
    fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Sample standard deviation (n − 1); NaN below two values.
    fn std(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }

    fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }
}

/// `a / b`, NaN when `b` is zero or either side is not finite-defined.
#[inline]
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 || b.is_nan() {
        f64::NAN
    } else {
        a / b
    }
}

/// Everything the summary reports about one run (SEMANTICS §9). See the module documentation for
/// the exact definitions.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub long_trades: u64,
    pub short_trades: u64,
    pub win_rate: f64,
    pub gross_profit: f64,
    pub gross_loss: f64,
    pub profit_factor: f64,
    pub net_profit: f64,
    pub fees_total: f64,
    pub swap_total: f64,
    pub initial_balance: f64,
    pub final_balance: f64,
    pub final_equity: f64,
    pub return_pct: f64,
    pub avg_trade: f64,
    pub expectancy_r: f64,
    pub avg_win: f64,
    pub avg_loss: f64,
    pub largest_win: f64,
    pub largest_loss: f64,
    pub max_drawdown_abs: f64,
    pub max_drawdown_pct: f64,
    pub max_drawdown_duration_bars: u64,
    pub sharpe: f64,
    pub sortino: f64,
    pub sharpe_r: f64,
    pub cagr: f64,
    pub calmar: f64,
    pub exposure_pct: f64,
    pub sqn: f64,
    pub ambiguous_exits: u64,
    pub bars: u64,
    pub bars_in_position: u64,
    pub signals: u64,
    /// Rejected signals per [`RejectReason`] (index = `RejectReason::index()`).
    pub signals_rejected: [u64; 4],
    pub orders_expired: u64,
    pub orders_cancelled: u64,
}

/// A floating-point metric column of the summary: its name, its documentation and how to read it.
pub type F64Metric = (&'static str, &'static str, fn(&Metrics) -> f64);
/// An integer metric column of the summary: its name, its documentation and how to read it.
pub type U64Metric = (&'static str, &'static str, fn(&Metrics) -> u64);

impl Metrics {
    /// The summary's `f64` metric columns, in column order (declared once; the summary schema and
    /// builder both iterate this table).
    pub const F64_COLUMNS: &'static [F64Metric] = &[
        ("net_profit", "sum of the trades' net PnL (account currency)", |m| m.net_profit),
        ("return_pct", "100 * net_profit / initial_balance", |m| m.return_pct),
        ("win_rate", "wins / trades (fraction)", |m| m.win_rate),
        ("gross_profit", "sum of the winning trades' net PnL", |m| m.gross_profit),
        ("gross_loss", "|sum of the losing trades' net PnL| (>= 0)", |m| m.gross_loss),
        ("profit_factor", "gross_profit / gross_loss; +inf with no loss", |m| m.profit_factor),
        ("avg_trade", "net_profit / trades", |m| m.avg_trade),
        ("avg_win", "gross_profit / wins", |m| m.avg_win),
        ("avg_loss", "mean net PnL of the losing trades (<= 0)", |m| m.avg_loss),
        ("largest_win", "largest net PnL among wins", |m| m.largest_win),
        ("largest_loss", "smallest net PnL among losses", |m| m.largest_loss),
        ("expectancy_r", "mean R multiple (finite R only)", |m| m.expectancy_r),
        ("sharpe_r", "mean R / sample std R", |m| m.sharpe_r),
        ("sqn", "sqrt(n) * mean R / std R", |m| m.sqn),
        ("max_drawdown_abs", "largest peak-to-trough fall of the per-bar equity (account currency)", |m| m.max_drawdown_abs),
        ("max_drawdown_pct", "largest fall relative to the running peak, percent", |m| m.max_drawdown_pct),
        ("sharpe", "daily end-of-day equity returns: mean / sample std * sqrt(252)", |m| m.sharpe),
        ("sortino", "daily returns: mean / downside deviation * sqrt(252)", |m| m.sortino),
        ("cagr", "(final_equity / initial_balance)^(1/years) - 1 (fraction), years from first to last bar", |m| m.cagr),
        ("calmar", "cagr / (max_drawdown_pct / 100)", |m| m.calmar),
        ("exposure_pct", "100 * bars with an open position / bars", |m| m.exposure_pct),
        ("fees_total", "commissions booked during the run", |m| m.fees_total),
        ("swap_total", "sum of the trades' swap", |m| m.swap_total),
        ("initial_balance", "account balance at the start", |m| m.initial_balance),
        ("final_balance", "realized balance at the end", |m| m.final_balance),
        ("final_equity", "equity of the last bar", |m| m.final_equity),
    ];

    /// The summary's `u64` metric columns, in column order (after the `f64` ones).
    pub const U64_COLUMNS: &'static [U64Metric] = &[
        (
            "trades",
            "closed trades (v2: including end_of_data closes)",
            |m| m.trades,
        ),
        ("wins", "trades with net PnL > 0", |m| m.wins),
        ("losses", "trades with net PnL <= 0", |m| m.losses),
        ("long_trades", "long trades", |m| m.long_trades),
        ("short_trades", "short trades", |m| m.short_trades),
        (
            "max_drawdown_duration_bars",
            "longest run of consecutive bars below the running equity peak",
            |m| m.max_drawdown_duration_bars,
        ),
        (
            "ambiguous_exits",
            "exits in bars where SL and TP were both inside the range",
            |m| m.ambiguous_exits,
        ),
        ("bars", "bars in [start, end]", |m| m.bars),
        ("bars_in_position", "bars with an open position", |m| {
            m.bars_in_position
        }),
        ("signals", "signals the strategy emitted", |m| m.signals),
        (
            "signals_rejected_sl_wrong_side",
            "signals rejected: SL on the wrong side of the entry",
            |m| m.signals_rejected[RejectReason::SlWrongSide.index()],
        ),
        (
            "signals_rejected_tp_wrong_side",
            "signals rejected: TP on the wrong side of the entry",
            |m| m.signals_rejected[RejectReason::TpWrongSide.index()],
        ),
        (
            "signals_rejected_sl_too_close",
            "signals rejected: SL closer than min_sl_distance_pips",
            |m| m.signals_rejected[RejectReason::SlTooClose.index()],
        ),
        (
            "signals_rejected_size_below_min",
            "signals rejected: size below the minimum lot",
            |m| m.signals_rejected[RejectReason::SizeBelowMin.index()],
        ),
        (
            "orders_expired",
            "pending orders expired by pending_ttl_bars",
            |m| m.orders_expired,
        ),
        (
            "orders_cancelled",
            "pending orders dropped at the end of data",
            |m| m.orders_cancelled,
        ),
    ];
}

/// Run-level counts the accumulator cannot see bar by bar; the engine's `RunStats` provides them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunTotals {
    pub signals: u64,
    pub rejected: [u64; 4],
    pub orders_expired: u64,
    pub orders_cancelled: u64,
    pub fees_total: f64,
    pub final_balance: f64,
}

/// Drawdown state over the per-bar equity.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Drawdown {
    /// Running peak (starts at the initial balance).
    peak: f64,
    /// Largest `peak - equity`.
    max_abs: f64,
    /// Largest drawdown as a fraction of the running peak.
    max_frac: f64,
    /// `max_frac * peak` while `peak > 0` (else +inf): the drawdown a bar must exceed to set a
    /// new `max_frac`. The same product the test would compute, kept from one change of `peak`
    /// or `max_frac` to the next instead of recomputed every bar.
    frac_bar: f64,
    /// Consecutive bars strictly below the peak, up to now.
    run: u64,
    /// Longest finished run; the current one counts once it ends (see [`Self::max_run`]).
    max_run_done: u64,
}

impl Drawdown {
    fn new(initial_balance: f64) -> Self {
        let mut d = Drawdown {
            peak: initial_balance,
            max_abs: 0.0,
            max_frac: 0.0,
            frac_bar: 0.0,
            run: 0,
            max_run_done: 0,
        };
        d.set_frac_bar();
        d
    }

    #[inline(always)]
    fn set_frac_bar(&mut self) {
        self.frac_bar = if self.peak > 0.0 {
            self.max_frac * self.peak
        } else {
            f64::INFINITY
        };
    }

    #[inline(always)]
    fn update(&mut self, equity: f64) {
        if equity >= self.peak {
            self.peak = equity;
            self.max_run_done = self.max_run_done.max(self.run);
            self.run = 0;
            self.set_frac_bar();
        } else {
            let dd = self.peak - equity;
            if dd > self.max_abs {
                self.max_abs = dd;
            }
            // Multiply instead of divide on the common path: only a new maximum pays the division.
            if dd > self.frac_bar {
                self.max_frac = dd / self.peak;
                self.set_frac_bar();
            }
            self.run += 1;
        }
    }

    /// The longest run of bars below the peak, the current one included.
    fn max_run(&self) -> u64 {
        self.max_run_done.max(self.run)
    }
}

/// Streaming metrics of one run. `on_bar` is O(1) with no allocation; `on_trade` is O(1).
#[derive(Clone, Debug)]
pub struct MetricsAccumulator {
    initial_balance: f64,
    // --- per bar ---
    bars: u64,
    bars_in_position: u64,
    first_ts: i64,
    last_ts: i64,
    last_equity: f64,
    dd: Drawdown,
    /// Start of the next UTC day after the current bar's day (exclusive bound), so the per-bar day
    /// test is one comparison instead of a division.
    day_end: i64,
    /// End-of-day equity of the previous completed day (initially the initial balance).
    prev_eod: f64,
    daily: Moments,
    downside_sq: f64,
    // --- per trade ---
    trades: u64,
    wins: u64,
    losses: u64,
    long_trades: u64,
    short_trades: u64,
    gross_profit: f64,
    gross_loss_sum: f64,
    net_profit: f64,
    swap_total: f64,
    largest_win: f64,
    largest_loss: f64,
    r: Moments,
    ambiguous: u64,
}

impl MetricsAccumulator {
    pub fn new(initial_balance: f64) -> Self {
        MetricsAccumulator {
            initial_balance,
            bars: 0,
            bars_in_position: 0,
            first_ts: 0,
            last_ts: 0,
            last_equity: initial_balance,
            dd: Drawdown::new(initial_balance),
            day_end: i64::MIN,
            prev_eod: initial_balance,
            daily: Moments::default(),
            downside_sq: 0.0,
            trades: 0,
            wins: 0,
            losses: 0,
            long_trades: 0,
            short_trades: 0,
            gross_profit: 0.0,
            gross_loss_sum: 0.0,
            net_profit: 0.0,
            swap_total: 0.0,
            largest_win: f64::NAN,
            largest_loss: f64::NAN,
            r: Moments::default(),
            ambiguous: 0,
        }
    }

    /// Closes the day whose last equity is `self.last_equity` and records its return.
    #[inline]
    fn close_day(&mut self) {
        let r = self.last_equity / self.prev_eod - 1.0;
        self.daily.push(r);
        let down = r.min(0.0);
        self.downside_sq += down * down;
        self.prev_eod = self.last_equity;
    }

    /// One bar in `[start, end]`, after its equity point. Timestamps must increase (the data
    /// validation guarantees it).
    #[inline]
    pub fn on_bar(&mut self, ts: i64, equity: f64, in_position: bool) {
        // `day_end` starts at i64::MIN, so the first bar always enters here: one comparison per
        // bar covers both the first bar and a new day.
        if ts >= self.day_end {
            if self.bars == 0 {
                self.first_ts = ts;
            } else {
                self.close_day();
            }
            self.day_end = ts
                .div_euclid(DAY_US)
                .saturating_mul(DAY_US)
                .saturating_add(DAY_US);
        }
        self.bars += 1;
        self.bars_in_position += in_position as u64;
        self.last_ts = ts;
        self.last_equity = equity;

        self.dd.update(equity);
    }

    /// Bars `ts` (in `[start, end]`, after their equity points), all in position or all not, with
    /// the equity of bar `ts[j]` given by `equity(j)`: the same as `on_bar` for each bar in turn,
    /// with the per-bar work cut to the drawdown between two day boundaries. For the spans of
    /// bars in which only the marks change.
    #[inline]
    pub fn on_bars(&mut self, ts: &[i64], in_position: bool, equity: impl Fn(usize) -> f64) {
        let mut j = 0;
        while j < ts.len() {
            if ts[j] >= self.day_end {
                // A new day (or the first bar): the full step.
                self.on_bar(ts[j], equity(j), in_position);
                j += 1;
                continue;
            }
            // Bars j..d lie in the current day (a linear scan: spans are short next to a day).
            let mut dd = self.dd;
            let mut d = j;
            while d < ts.len() && ts[d] < self.day_end {
                dd.update(equity(d));
                d += 1;
            }
            self.dd = dd;
            let n = (d - j) as u64;
            self.bars += n;
            if in_position {
                self.bars_in_position += n;
            }
            self.last_ts = ts[d - 1];
            self.last_equity = equity(d - 1);
            j = d;
        }
    }

    /// One closed trade, in closing order.
    #[inline]
    pub fn on_trade(&mut self, t: &ClosedPosition) {
        self.trades += 1;
        match t.direction {
            omega_exec_core::Direction::Long => self.long_trades += 1,
            omega_exec_core::Direction::Short => self.short_trades += 1,
        }
        let net = t.net_pnl;
        self.net_profit += net;
        self.swap_total += t.swap;
        if net > 0.0 {
            self.wins += 1;
            self.gross_profit += net;
            // NaN (no win yet) or smaller: take the new value.
            if self.largest_win.is_nan() || net > self.largest_win {
                self.largest_win = net;
            }
        } else {
            self.losses += 1;
            self.gross_loss_sum += net;
            if self.largest_loss.is_nan() || net < self.largest_loss {
                self.largest_loss = net;
            }
        }
        if t.r_multiple.is_finite() {
            self.r.push(t.r_multiple);
        }
        self.ambiguous += t.ambiguous as u64;
    }

    /// Number of bars seen so far.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// Of those, bars fed with `in_position` set.
    pub fn bars_in_position(&self) -> u64 {
        self.bars_in_position
    }

    /// Final metrics from the engine's run counters.
    pub fn finish(self, stats: &crate::engine::RunStats) -> Metrics {
        self.finish_with(&stats.totals())
    }

    /// Final metrics from the run-level totals (see [`RunTotals`]).
    pub fn finish_with(mut self, totals: &RunTotals) -> Metrics {
        if self.bars > 0 {
            self.close_day();
        }
        let init = self.initial_balance;
        let trades = self.trades;
        let gross_loss = -self.gross_loss_sum;
        let profit_factor = if gross_loss == 0.0 {
            if self.gross_profit > 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        } else {
            self.gross_profit / gross_loss
        };
        let r_mean = self.r.mean();
        let r_std = self.r.std();
        let sharpe_r = ratio(r_mean, r_std);
        let sqn = (self.r.n as f64).sqrt() * sharpe_r;
        let ann = ANNUALIZATION_DAYS.sqrt();
        let d_mean = self.daily.mean();
        let sharpe = ratio(d_mean, self.daily.std()) * ann;
        let downside = if self.daily.n == 0 {
            f64::NAN
        } else {
            (self.downside_sq / self.daily.n as f64).sqrt()
        };
        let sortino = ratio(d_mean, downside) * ann;
        let final_equity = if self.bars > 0 {
            self.last_equity
        } else {
            f64::NAN
        };
        // i128: timestamps anywhere in the i64 range are valid data, their difference may not
        // fit an i64 (found by fuzzing: it overflowed).
        let years = (i128::from(self.last_ts) - i128::from(self.first_ts)) as f64 / YEAR_US;
        let cagr = if self.bars > 1 && years > 0.0 && init > 0.0 {
            (final_equity / init).powf(1.0 / years) - 1.0
        } else {
            f64::NAN
        };
        let max_dd_pct = if self.bars > 0 {
            100.0 * self.dd.max_frac
        } else {
            f64::NAN
        };
        Metrics {
            trades,
            wins: self.wins,
            losses: self.losses,
            long_trades: self.long_trades,
            short_trades: self.short_trades,
            win_rate: ratio(self.wins as f64, trades as f64),
            gross_profit: self.gross_profit,
            gross_loss,
            profit_factor,
            net_profit: self.net_profit,
            fees_total: totals.fees_total,
            swap_total: self.swap_total,
            initial_balance: init,
            final_balance: totals.final_balance,
            final_equity,
            return_pct: 100.0 * ratio(self.net_profit, init),
            avg_trade: ratio(self.net_profit, trades as f64),
            expectancy_r: r_mean,
            avg_win: ratio(self.gross_profit, self.wins as f64),
            avg_loss: ratio(self.gross_loss_sum, self.losses as f64),
            largest_win: self.largest_win,
            largest_loss: self.largest_loss,
            max_drawdown_abs: if self.bars > 0 {
                self.dd.max_abs
            } else {
                f64::NAN
            },
            max_drawdown_pct: max_dd_pct,
            max_drawdown_duration_bars: self.dd.max_run(),
            sharpe,
            sortino,
            sharpe_r,
            cagr,
            calmar: ratio(cagr, self.dd.max_frac),
            exposure_pct: 100.0 * ratio(self.bars_in_position as f64, self.bars as f64),
            sqn,
            ambiguous_exits: self.ambiguous,
            bars: self.bars,
            bars_in_position: self.bars_in_position,
            signals: totals.signals,
            signals_rejected: totals.rejected,
            orders_expired: totals.orders_expired,
            orders_cancelled: totals.orders_cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omega_exec_core::{Direction, ExitReason, OrderType};

    const H: i64 = 3_600_000_000;

    fn trade(net: f64, r: f64, dir: Direction, ambiguous: bool) -> ClosedPosition {
        ClosedPosition {
            id: 0,
            symbol: 0,
            direction: dir,
            order_type: OrderType::Market,
            placement_time: 0,
            entry_time: 0,
            trigger_time: Some(0),
            exit_time: H,
            entry_price: 1.1,
            exit_price: 1.2,
            lots: 1.0,
            initial_stop_loss: 1.0,
            initial_take_profit: 1.3,
            stop_loss: 1.0,
            take_profit: 1.3,
            reason: ExitReason::TakeProfit,
            entry_fee: 1.0,
            exit_fee: 2.0,
            swap: 0.5,
            gross_pnl: net + 3.0,
            net_pnl: net,
            r_multiple: r,
            in_entry_candle: false,
            ambiguous,
            meta: 0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn hand_checked_run() {
        let mut acc = MetricsAccumulator::new(10_000.0);
        let bars = [
            (0, 10_000.0, true),
            (H, 10_100.0, true),
            (2 * H, 9_900.0, false),
            (DAY_US, 9_800.0, false),
            (DAY_US + H, 10_200.0, true),
            (2 * DAY_US, 10_150.0, false),
        ];
        for &(ts, eq, pos) in &bars {
            acc.on_bar(ts, eq, pos);
        }
        acc.on_trade(&trade(150.0, 1.5, Direction::Long, true));
        acc.on_trade(&trade(-100.0, -1.0, Direction::Short, false));
        acc.on_trade(&trade(50.0, 0.5, Direction::Long, false));
        acc.on_trade(&trade(0.0, 0.0, Direction::Long, true));
        let totals = RunTotals {
            signals: 9,
            rejected: [1, 2, 3, 4],
            orders_expired: 5,
            orders_cancelled: 6,
            fees_total: 12.0,
            final_balance: 10_100.0,
        };
        let m = acc.finish_with(&totals);
        assert_eq!((m.trades, m.wins, m.losses), (4, 2, 2));
        assert_eq!(
            (m.long_trades, m.short_trades, m.ambiguous_exits),
            (3, 1, 2)
        );
        assert_eq!(m.win_rate, 0.5);
        assert_eq!(
            (m.gross_profit, m.gross_loss, m.profit_factor),
            (200.0, 100.0, 2.0)
        );
        assert_eq!(
            (m.net_profit, m.avg_trade, m.avg_win, m.avg_loss),
            (100.0, 25.0, 100.0, -50.0)
        );
        assert_eq!((m.largest_win, m.largest_loss), (150.0, -100.0));
        assert_eq!(m.return_pct, 1.0);
        assert_eq!(m.swap_total, 2.0);
        assert_eq!(
            (m.fees_total, m.final_balance, m.final_equity),
            (12.0, 10_100.0, 10_150.0)
        );
        // R: 1.5, -1, 0.5, 0 → mean 0.25, sample variance 3.25 / 3.
        let r_std = (3.25f64 / 3.0).sqrt();
        assert!(close(m.expectancy_r, 0.25));
        assert!(close(m.sharpe_r, 0.25 / r_std));
        assert!(close(m.sqn, 2.0 * 0.25 / r_std));
        // Drawdown: peak 10100 → trough 9800 (300, 2.970297 %); longest run below the peak = 2 bars.
        assert_eq!(m.max_drawdown_abs, 300.0);
        assert!(close(m.max_drawdown_pct, 100.0 * 300.0 / 10_100.0));
        assert_eq!(m.max_drawdown_duration_bars, 2);
        // End-of-day equity 9900, 10200, 10150 against the initial 10000.
        let rets = [
            9_900.0 / 10_000.0 - 1.0,
            10_200.0 / 9_900.0 - 1.0,
            10_150.0 / 10_200.0 - 1.0,
        ];
        let mean = rets.iter().sum::<f64>() / 3.0;
        let std = (rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        let down = (rets.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!(close(m.sharpe, mean / std * 252f64.sqrt()));
        assert!(close(m.sortino, mean / down * 252f64.sqrt()));
        let years = 2.0 / 365.25;
        let cagr = 1.015f64.powf(1.0 / years) - 1.0;
        assert!(close(m.cagr, cagr));
        assert!(close(m.calmar, cagr / (300.0 / 10_100.0)));
        assert_eq!((m.bars, m.bars_in_position, m.exposure_pct), (6, 3, 50.0));
        assert_eq!(
            (
                m.signals,
                m.signals_rejected,
                m.orders_expired,
                m.orders_cancelled
            ),
            (9, [1, 2, 3, 4], 5, 6)
        );
    }

    /// `on_bars` against `on_bar` bar by bar: random walks of the equity over several days
    /// (new peaks, long drawdowns, day boundaries inside and at the edges of spans).
    #[test]
    fn on_bars_equals_on_bar_for_each_bar() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..20 {
            let n = 5_000;
            // 7-minute steps with the odd gap of hours: days hold spans of many lengths.
            let mut t = -3 * H + case * 60_000_000;
            let mut ts = Vec::with_capacity(n);
            let mut eq = Vec::with_capacity(n);
            let mut e = 1_000.0;
            for _ in 0..n {
                t += if rand() < 0.01 { 5 * H } else { 7 * 60_000_000 };
                e += (rand() - 0.5 - 0.002 * (case % 3) as f64) * 10.0;
                ts.push(t);
                eq.push(e);
            }
            let (mut one, mut spans) = (
                MetricsAccumulator::new(1_000.0),
                MetricsAccumulator::new(1_000.0),
            );
            let mut j = 0;
            while j < n {
                let k = (j + 1 + (rand() * 300.0) as usize).min(n);
                let in_position = rand() < 0.5;
                for i in j..k {
                    one.on_bar(ts[i], eq[i], in_position);
                }
                spans.on_bars(&ts[j..k], in_position, |i| eq[j + i]);
                j = k;
            }
            let totals = RunTotals::default();
            assert_eq!(
                format!("{:?}", one.finish_with(&totals)),
                format!("{:?}", spans.finish_with(&totals)),
                "case {case}"
            );
        }
    }

    #[test]
    fn undefined_ratios_are_nan_and_no_loss_is_infinite() {
        let m = MetricsAccumulator::new(1_000.0).finish_with(&RunTotals::default());
        assert_eq!(m.trades, 0);
        for (name, _, get) in Metrics::F64_COLUMNS {
            let v = get(&m);
            let defined = matches!(
                *name,
                "net_profit"
                    | "return_pct"
                    | "gross_profit"
                    | "gross_loss"
                    | "fees_total"
                    | "swap_total"
                    | "initial_balance"
                    | "final_balance"
            );
            assert_eq!(v.is_nan(), !defined, "{name} = {v}");
        }

        let mut acc = MetricsAccumulator::new(1_000.0);
        acc.on_bar(0, 1_000.0, false);
        acc.on_trade(&trade(10.0, f64::INFINITY, Direction::Long, false));
        let m = acc.finish_with(&RunTotals::default());
        assert_eq!(m.profit_factor, f64::INFINITY);
        assert!(
            m.expectancy_r.is_nan(),
            "non-finite R values are left out of the R statistics"
        );
        assert!(m.largest_loss.is_nan() && m.avg_loss.is_nan());
        assert!(
            m.sharpe.is_nan(),
            "one daily return has no standard deviation"
        );
        assert!(m.cagr.is_nan(), "one bar spans no time");
        assert_eq!(
            (
                m.max_drawdown_abs,
                m.max_drawdown_pct,
                m.max_drawdown_duration_bars
            ),
            (0.0, 0.0, 0)
        );
        assert!(m.calmar.is_nan(), "no drawdown");
    }

    #[test]
    fn days_are_utc_calendar_days_including_negative_timestamps() {
        // Bars before 1970 must still split at UTC midnight (div_euclid, not truncation).
        let mut acc = MetricsAccumulator::new(100.0);
        acc.on_bar(-2 * H, 100.0, false);
        acc.on_bar(-H, 110.0, false); // end of day −1: +10 %
        acc.on_bar(0, 99.0, false); // day 0: −10 %
        let m = acc.finish_with(&RunTotals::default());
        // Two daily returns of +10 % and −10 %: mean ~0 → Sharpe ~0 (one truncated "day" would
        // give a single return and a NaN Sharpe).
        assert!(
            m.sharpe.is_finite() && m.sharpe.abs() < 1e-9,
            "{}",
            m.sharpe
        );
        assert_eq!(m.max_drawdown_duration_bars, 1);
        assert_eq!(m.max_drawdown_abs, 11.0);
    }
}
