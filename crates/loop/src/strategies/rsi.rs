//! `rsi_reversion(period, lower, upper)`: RSI (Wilder) of bid closes. Long when the RSI crosses
//! below `lower` (it was >= lower at the previous bar), short when it crosses above `upper`;
//! market entries.

use omega_exec_core::Direction;

use super::{Stops, StrategySignal};
use crate::data::BarView;
use crate::indicators::Rsi;

#[derive(Clone, Debug)]
pub struct RsiReversion {
    rsi: Rsi,
    lower: f64,
    upper: f64,
    stops: Stops,
    prev: Option<f64>,
}

impl RsiReversion {
    pub fn new(period: usize, lower: f64, upper: f64, stops: Stops) -> Self {
        RsiReversion {
            rsi: Rsi::new(period),
            lower,
            upper,
            stops,
            prev: None,
        }
    }

    #[inline]
    pub fn on_bar(&mut self, bars: &BarView<'_>, i: usize, out: &mut Vec<StrategySignal>) {
        self.stops.update(bars, i);
        let r = self.rsi.update(bars.bid_close[i]);
        let prev = self.prev;
        self.prev = r;
        let (Some(r), Some(prev)) = (r, prev) else {
            return;
        };
        let dir = if r < self.lower && prev >= self.lower {
            Direction::Long
        } else if r > self.upper && prev <= self.upper {
            Direction::Short
        } else {
            return;
        };
        if let Some(s) = self.stops.market(dir) {
            out.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::Strategy;
    use super::*;

    #[test]
    fn crosses_hand_checked() {
        // period 2. changes: +0.1, -0.1 → i=2: avg_gain 0.05, avg_loss 0.05 → RSI 50.
        // i=3: change -0.2: gain (0.05+0)/2=0.025, loss (0.05+0.2)/2=0.125 → RSI 16.67 → crosses below 30 → long
        // i=4: change +0.4: gain (0.025+0.4)/2=0.2125, loss 0.0625 → RSI 77.27 → crosses above 70 → short
        // i=5: change +0.1: gain 0.15625, loss 0.03125 → RSI 83.3 → still above: nothing
        let closes = [1.0, 1.1, 1.0, 0.8, 1.2, 1.3];
        let bars = bars_from_closes(&closes);
        let mut s = Strategy::RsiReversion(RsiReversion::new(
            2,
            30.0,
            70.0,
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig: Vec<(usize, Direction)> = collect(&mut s, &bars)
            .iter()
            .map(|(i, x)| (*i, x.direction))
            .collect();
        assert_eq!(sig, vec![(3, Direction::Long), (4, Direction::Short)]);
    }
}
