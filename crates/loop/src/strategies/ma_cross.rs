//! `sma_cross` / `ema_cross`: long when the fast average crosses above the slow one, short when
//! it crosses below (both on bid closes); market entries.

use omega_exec_core::Direction;

use super::{Stops, StrategySignal};
use crate::data::BarView;
use crate::indicators::{Ema, Sma};

/// A moving average the cross strategy can use (static dispatch through generics).
pub trait MovingAverage {
    fn update(&mut self, x: f64) -> Option<f64>;
}

impl MovingAverage for Sma {
    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Sma::update(self, x)
    }
}

impl MovingAverage for Ema {
    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Ema::update(self, x)
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
        // Both tests without short-circuit branches; at most one holds (a cross is rare).
        let up = (prev <= 0.0) & (diff > 0.0);
        let down = (prev >= 0.0) & (diff < 0.0);
        if up | down {
            let d = if up {
                Direction::Long
            } else {
                Direction::Short
            };
            if let Some(sig) = self.stops.market(d) {
                out.push(sig);
            }
        }
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
