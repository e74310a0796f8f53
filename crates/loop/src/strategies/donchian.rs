//! `donchian_breakout(lookback)`: at each bar's close, when no order of the run is pending, place
//! a stop order at the channel of the last `lookback` bars (bid highs/lows, this bar included):
//! a buy stop at the upper band when the close is in the upper half of the channel, else a sell
//! stop at the lower band. The order triggers only on a later bar that breaks the channel and
//! expires after `execution.pending_ttl_bars` bars (set it: without a TTL an untriggered order
//! stays until the end).

use omega_exec_core::{Direction, OrderType};

use super::{Stops, StrategyContext, StrategySignal};
use crate::data::BarView;
use crate::indicators::Donchian;

#[derive(Clone, Debug)]
pub struct DonchianBreakout {
    channel: Donchian,
    stops: Stops,
}

impl DonchianBreakout {
    pub fn new(lookback: usize, stops: Stops) -> Self {
        DonchianBreakout {
            channel: Donchian::new(lookback),
            stops,
        }
    }

    #[inline]
    pub fn on_bar(
        &mut self,
        bars: &BarView<'_>,
        i: usize,
        ctx: &StrategyContext,
        out: &mut Vec<StrategySignal>,
    ) {
        self.stops.update(bars, i);
        let Some((upper, lower)) = self.channel.update(bars.bid_high[i], bars.bid_low[i]) else {
            return;
        };
        if ctx.pending_orders > 0 || upper <= lower {
            return;
        }
        let close = bars.bid_close[i];
        let (dir, price) = if close - lower >= upper - close {
            (Direction::Long, upper)
        } else {
            (Direction::Short, lower)
        };
        if let Some(s) = self.stops.pending(dir, OrderType::Stop, price) {
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
    fn places_stop_at_the_nearer_band_only_without_pending_orders() {
        // highs = max(open, close) + 0.0002, lows = min(open, close) - 0.0002
        let closes = [1.10, 1.12, 1.11, 1.09, 1.08];
        let bars = bars_from_closes(&closes);
        let mut s = Strategy::DonchianBreakout(DonchianBreakout::new(
            3,
            Stops::new(pips(10.0, 20.0), 0.0001),
        ));
        let sig = collect(&mut s, &bars);
        // i=2: window bars 0..=2: upper = 1.1202, lower = 1.0998; close 1.11 is nearer the top? 1.11-1.0998=0.0102 >= 1.1202-1.11=0.0102 → long at upper
        assert_eq!(sig[0].0, 2);
        assert_eq!(sig[0].1.direction, Direction::Long);
        assert_eq!(sig[0].1.order_type, OrderType::Stop);
        assert!((sig[0].1.entry_price.unwrap() - 1.1202).abs() < 1e-12);
        // Pending: the levels are prices (the closes passed to `stops` play no part).
        let (sl, tp) = sig[0].1.stops(f64::NAN, f64::NAN);
        assert!((sl - 1.1192).abs() < 1e-12);
        assert!((tp - 1.1222).abs() < 1e-12);
        // i=3: bars 1..=3: upper 1.1202, lower = min(1.10,1.12,1.11,1.09...) lows: bar1 1.0998, bar2 1.1098, bar3 1.0898 → 1.0898; close 1.09 → short at 1.0898
        assert_eq!(sig[1].0, 3);
        assert_eq!(sig[1].1.direction, Direction::Short);
        assert!((sig[1].1.entry_price.unwrap() - 1.0898).abs() < 1e-12);
        assert_eq!(sig.len(), 3);
        // With an order pending nothing new is placed.
        let mut out = Vec::new();
        let mut d = DonchianBreakout::new(3, Stops::new(pips(10.0, 20.0), 0.0001));
        for i in 0..bars.len() {
            d.on_bar(
                &bars.view(),
                i,
                &StrategyContext {
                    pending_orders: 1,
                    open_positions: 0,
                },
                &mut out,
            );
        }
        assert!(out.is_empty());
    }
}
