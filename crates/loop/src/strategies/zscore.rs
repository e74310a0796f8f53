//! `zscore_reversion(window, z_entry, limit_offset_pips)`: z = (close − mean) / std of the last
//! `window` bid closes (population std, this bar included). When z enters the zone z <= −z_entry
//! (it was above it at the previous bar) → long; z >= z_entry → short. Market entries, or,
//! with an offset > 0, limit orders `limit_offset_pips` better than the close on the trade side
//! (long: ask close − offset; short: bid close + offset).

use omega_exec_core::{Direction, OrderType};

use super::{Stops, StrategySignal};
use crate::data::BarView;
use crate::indicators::RollingStats;

#[derive(Clone, Debug)]
pub struct ZScoreReversion {
    stats: RollingStats,
    z_entry: f64,
    offset: f64,
    stops: Stops,
    prev_z: Option<f64>,
}

impl ZScoreReversion {
    /// `offset` is the limit offset as a price distance (pips × pip size).
    pub fn new(window: usize, z_entry: f64, offset: f64, stops: Stops) -> Self {
        ZScoreReversion {
            stats: RollingStats::new(window),
            z_entry,
            offset,
            stops,
            prev_z: None,
        }
    }

    #[inline]
    pub fn on_bar(&mut self, bars: &BarView<'_>, i: usize, out: &mut Vec<StrategySignal>) {
        self.stops.update(bars, i);
        let z = self.stats.zscore(bars.bid_close[i]);
        let prev = self.prev_z;
        self.prev_z = z;
        let (Some(z), Some(prev)) = (z, prev) else {
            return;
        };
        let dir = if z <= -self.z_entry && prev > -self.z_entry {
            Direction::Long
        } else if z >= self.z_entry && prev < self.z_entry {
            Direction::Short
        } else {
            return;
        };
        let sig = if self.offset > 0.0 {
            let price = match dir {
                Direction::Long => bars.ask_close[i] - self.offset,
                Direction::Short => bars.bid_close[i] + self.offset,
            };
            self.stops.pending(dir, OrderType::Limit, price)
        } else {
            self.stops.market(dir)
        };
        if let Some(s) = sig {
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
    fn enters_on_zone_entry_market_and_limit() {
        // window 3: [1,1.1,1] z(1.0) = (1-1.0333)/0.04714 = -0.707; then 1.3: window [1.1,1,1.3]
        // mean 1.1333 std 0.1247 z=1.336 → short with z_entry 1.2 (prev -0.707 < 1.2).
        // then 0.9: window [1,1.3,0.9] mean 1.0667 std 0.1700 z=-0.980 → nothing;
        // then 0.6: window [1.3,0.9,0.6] mean 0.9333 std 0.2867 z=-1.163 → nothing (> -1.2)
        // then 0.2: window [0.9,0.6,0.2] mean 0.5667 std 0.2867 z=-1.279 → long.
        let closes = [1.0, 1.1, 1.0, 1.3, 0.9, 0.6, 0.2];
        let bars = bars_from_closes(&closes);
        let mut s = Strategy::ZScoreReversion(ZScoreReversion::new(
            3,
            1.2,
            0.0,
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig = collect(&mut s, &bars);
        let got: Vec<(usize, Direction, OrderType)> = sig
            .iter()
            .map(|(i, x)| (*i, x.direction, x.order_type))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, Direction::Short, OrderType::Market),
                (6, Direction::Long, OrderType::Market)
            ]
        );
        let mut s = Strategy::ZScoreReversion(ZScoreReversion::new(
            3,
            1.2,
            0.0005,
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig = collect(&mut s, &bars);
        assert_eq!(sig[0].1.order_type, OrderType::Limit);
        assert!(
            (sig[0].1.entry_price.unwrap() - (1.3 + 0.0005)).abs() < 1e-12,
            "short limit above the bid close"
        );
        let (sl, _) = sig[0].1.stops(f64::NAN, f64::NAN);
        assert!((sl - (1.3005 + 0.001)).abs() < 1e-12);
        assert!((sig[1].1.entry_price.unwrap() - (bars.ask_close()[6] - 0.0005)).abs() < 1e-12);
    }
}
