//! `sma_cross` / `ema_cross`: long when the fast average crosses above the slow one, short when
//! it crosses below (both on bid closes); market entries.

use omega_exec_core::Direction;

use super::{Stops, StrategySignal};
use crate::data::BarView;
use crate::indicators::{Ema, Sma, SmaState};

/// A moving average the cross strategy can use (static dispatch through generics). Split into a
/// `Copy` state and a buffer so that a block of bars runs with the state in locals: the
/// recurrences (running sums, positions) then stay in registers instead of going through memory
/// every bar.
pub trait MovingAverage {
    type State: Copy;
    fn update(&mut self, x: f64) -> Option<f64>;
    /// The state and the buffer (empty for averages without one).
    fn parts(&mut self) -> (&mut Self::State, &mut [f64]);
    /// `update` on the parts.
    fn step(state: &mut Self::State, buf: &mut [f64], x: f64) -> Option<f64>;
    /// How many of the next updates `step_plain` may do (see `Sma::plain_run`).
    fn plain_run(state: &Self::State, buf: &[f64]) -> usize;
    /// `step` on a warm average within its plain run: the same value, fewer tests.
    fn step_plain(state: &mut Self::State, buf: &mut [f64], x: f64) -> f64;
}

impl MovingAverage for Sma {
    type State = SmaState;
    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Sma::update(self, x)
    }
    #[inline(always)]
    fn parts(&mut self) -> (&mut SmaState, &mut [f64]) {
        Sma::parts(self)
    }
    #[inline(always)]
    fn step(state: &mut SmaState, buf: &mut [f64], x: f64) -> Option<f64> {
        Sma::step(state, buf, x)
    }
    #[inline(always)]
    fn plain_run(state: &SmaState, buf: &[f64]) -> usize {
        Sma::plain_run(state, buf)
    }
    #[inline(always)]
    fn step_plain(state: &mut SmaState, buf: &mut [f64], x: f64) -> f64 {
        Sma::step_plain(state, buf, x)
    }
}

impl MovingAverage for Ema {
    type State = Ema;
    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Ema::update(self, x)
    }
    #[inline(always)]
    fn parts(&mut self) -> (&mut Ema, &mut [f64]) {
        (self, &mut [])
    }
    #[inline(always)]
    fn step(state: &mut Ema, _buf: &mut [f64], x: f64) -> Option<f64> {
        state.update(x)
    }
    #[inline(always)]
    fn plain_run(state: &Ema, _buf: &[f64]) -> usize {
        state.plain_run()
    }
    #[inline(always)]
    fn step_plain(state: &mut Ema, _buf: &mut [f64], x: f64) -> f64 {
        state.step_plain(x)
    }
}

#[derive(Clone, Debug)]
pub struct MaCross<M> {
    fast: M,
    slow: M,
    stops: Stops,
    /// fast − slow at the previous bar; NaN until both are warm. A NaN fails both cross tests
    /// (every comparison with it is false), exactly as "no previous bar" did, so the per-bar test
    /// needs no `Option`.
    prev_diff: f64,
}

/// The direction of a cross from `prev` to `diff` (fast − slow), if any.
#[inline(always)]
fn cross(prev: f64, diff: f64) -> Option<Direction> {
    // Both tests without short-circuit branches; at most one holds (a cross is rare).
    let up = (prev <= 0.0) & (diff > 0.0);
    let down = (prev >= 0.0) & (diff < 0.0);
    if up | down {
        Some(if up {
            Direction::Long
        } else {
            Direction::Short
        })
    } else {
        None
    }
}

impl<M: MovingAverage> MaCross<M> {
    pub fn new(fast: M, slow: M, stops: Stops) -> Self {
        MaCross {
            fast,
            slow,
            stops,
            prev_diff: f64::NAN,
        }
    }

    #[inline(always)]
    pub fn on_bar(&mut self, bars: &BarView<'_>, i: usize, out: &mut Vec<StrategySignal>) {
        self.stops.update(bars, i);
        let c = bars.bid_close[i];
        let f = self.fast.update(c);
        let s = self.slow.update(c);
        let (Some(f), Some(s)) = (f, s) else { return };
        let diff = f - s;
        let prev = self.prev_diff;
        self.prev_diff = diff;
        if let Some(d) = cross(prev, diff) {
            if let Some(sig) = self.stops.market(d) {
                out.push(sig);
            }
        }
    }

    /// `on_bar` for the bars `from..to`, the signals appended to `out` with their bar index; the
    /// averages' states are copied into locals for the block and written back after it. Out of
    /// line: inlined into the engine's loop, its locals competed for registers with everything
    /// else there and went through the stack every bar.
    #[inline(never)]
    pub fn on_block(
        &mut self,
        bars: &BarView<'_>,
        from: usize,
        to: usize,
        out: &mut Vec<(usize, StrategySignal)>,
    ) {
        let (fast_state, fast_buf) = self.fast.parts();
        let (slow_state, slow_buf) = self.slow.parts();
        let (mut fast, mut slow, mut prev) = (*fast_state, *slow_state, self.prev_diff);
        let stops = &mut self.stops;
        // Bar i's averages (fast, slow) to a signal, as in `on_bar`.
        #[inline(always)]
        fn emit(
            stops: &Stops,
            out: &mut Vec<(usize, StrategySignal)>,
            i: usize,
            (f, s): (f64, f64),
            prev: &mut f64,
        ) {
            let diff = f - s;
            let d = cross(*prev, diff);
            *prev = diff;
            if let Some(d) = d {
                if let Some(sig) = stops.market(d) {
                    out.push((i, sig));
                }
            }
        }
        let closes = &bars.bid_close[..to];
        let mut i = from;
        while i < to {
            // Runs of plain updates (no warm-up, ring wrap or exact re-sum in either average)
            // go without those tests; the bar after a run takes the full step.
            let run = M::plain_run(&fast, fast_buf)
                .min(M::plain_run(&slow, slow_buf))
                .min(to - i);
            for (k, &c) in closes[i..i + run].iter().enumerate() {
                stops.update(bars, i + k);
                let f = M::step_plain(&mut fast, fast_buf, c);
                let s = M::step_plain(&mut slow, slow_buf, c);
                emit(stops, out, i + k, (f, s), &mut prev);
            }
            i += run;
            if i == to {
                break;
            }
            stops.update(bars, i);
            let f = M::step(&mut fast, fast_buf, closes[i]);
            let s = M::step(&mut slow, slow_buf, closes[i]);
            if let (Some(f), Some(s)) = (f, s) {
                emit(stops, out, i, (f, s), &mut prev);
            }
            i += 1;
        }
        *fast_state = fast;
        *slow_state = slow;
        self.prev_diff = prev;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::Strategy;
    use super::*;
    use omega_exec_core::OrderType;

    #[test]
    fn sma_cross_hand_checked() {
        // fast = SMA(2), slow = SMA(3) on closes.
        let closes = [1.0, 1.0, 1.0, 1.1, 1.2, 1.1, 0.9, 0.8];
        // i=2: f=1.0 s=1.0 diff 0 (first warm bar, no prev)
        // i=3: f=1.05 s=1.0333 diff>0, prev 0 → long
        // i=4: f=1.15 s=1.1 → no
        // i=5: f=1.15 s=1.1333 → no
        // i=6: f=1.0 s=1.0667 → short
        // i=7: f=0.85 s=0.9333 → no
        let bars = bars_from_closes(&closes);
        let mut s = Strategy::SmaCross(MaCross::new(
            Sma::new(2),
            Sma::new(3),
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig = collect(&mut s, &bars);
        assert_eq!(sig.len(), 2, "{sig:?}");
        assert_eq!(sig[0].0, 3);
        assert_eq!(sig[0].1.direction, Direction::Long);
        assert_eq!(sig[0].1.order_type, OrderType::Market);
        let ask = bars.ask_close()[3];
        let (sl, tp) = sig[0].1.stops(bars.bid_close()[3], ask);
        assert!((sl - (ask - 0.001)).abs() < 1e-12);
        assert!((tp - (ask + 0.002)).abs() < 1e-12);
        assert_eq!(sig[1].0, 6);
        assert_eq!(sig[1].1.direction, Direction::Short);
        let bid = bars.bid_close()[6];
        let (sl, _) = sig[1].1.stops(bid, bars.ask_close()[6]);
        assert!((sl - (bid + 0.001)).abs() < 1e-12);
    }

    #[test]
    fn ema_cross_hand_checked() {
        // fast = EMA(1) = the close itself, slow = EMA(2) (alpha 2/3, seeded with SMA of 2).
        let closes = [1.0, 1.0, 0.9, 1.2, 1.3];
        // i=1: f=1.0 s=1.0 diff 0
        // i=2: f=0.9 s=1.0+2/3*(0.9-1.0)=0.9333 → diff<0, prev 0 → short
        // i=3: f=1.2 s=0.9333+2/3*(0.2667)=1.1111 → diff>0 → long
        // i=4: f=1.3 s=1.1111+2/3*0.1889=1.2370 → no
        let bars = bars_from_closes(&closes);
        let mut s = Strategy::EmaCross(MaCross::new(
            Ema::new(1),
            Ema::new(2),
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig: Vec<(usize, Direction)> = collect(&mut s, &bars)
            .iter()
            .map(|(i, x)| (*i, x.direction))
            .collect();
        assert_eq!(sig, vec![(2, Direction::Short), (3, Direction::Long)]);
    }
}
