//! Stop-loss / take-profit exits (SEMANTICS §3 candle mode, §4 tick mode) and exit reasons.
//!
//! Longs sell to exit, so they are tested on the bid; shorts on the ask. The functions here decide
//! whether and at which level (before slippage) a position exits; the simulator books it.

use crate::types::{Candle, Direction, ExitReason, OrderType, StopKind, Variant};

/// Which level was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitLevel {
    StopLoss,
    TakeProfit,
}

/// An exit decision: the level, its fill price before slippage, and whether SL and TP were both
/// inside the bar (so the SL-first rule decided).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitHit {
    pub level: ExitLevel,
    pub price: f64,
    pub ambiguous: bool,
}

/// Which rules apply to a position in the bar being evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarPhase {
    /// A bar after the entry bar: SL first, then TP, optional gap fills.
    Normal,
    /// The bar where a pending order triggered: SL may exit; TP only if the close is strictly
    /// beyond it (v1: limit orders only; stop orders take TP normally).
    TriggerBar,
    /// The bar a `next_open` market order filled at the open: the whole bar follows the fill, so SL
    /// then TP are tested without the close check (and no gap fill: the open is the entry).
    FillBar,
}

/// Whether SL or TP lies inside candle `c` for `direction`, i.e. exactly when [`candle_exit`]
/// returns `Some` (any phase, any variant): the same two comparisons, without building the hit.
/// The simulator's quiet-bar test uses it on every bar a position is open.
#[inline(always)]
pub fn touches(
    direction: Direction,
    stop_loss: f64,
    take_profit: f64,
    buf: f64,
    c: &Candle,
) -> bool {
    let (sl_hit, tp_hit) = match direction {
        Direction::Long => (c.low <= stop_loss + buf, c.high >= take_profit - buf),
        Direction::Short => (c.high >= stop_loss - buf, c.low <= take_profit + buf),
    };
    sl_hit | tp_hit
}

/// Evaluates one open position against its exit-side candle (`bid` for long, `ask` for short).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn candle_exit(
    variant: Variant,
    direction: Direction,
    order_type: OrderType,
    stop_loss: f64,
    take_profit: f64,
    buf: f64,
    c: &Candle,
    phase: BarPhase,
    gap_fills: bool,
) -> Option<ExitHit> {
    let (sl_hit, tp_hit) = match direction {
        Direction::Long => (c.low <= stop_loss + buf, c.high >= take_profit - buf),
        Direction::Short => (c.high >= stop_loss - buf, c.low <= take_profit + buf),
    };
    if !sl_hit && !tp_hit {
        return None;
    }
    let ambiguous = sl_hit && tp_hit;
    let sl = Some(ExitHit {
        level: ExitLevel::StopLoss,
        price: stop_loss,
        ambiguous,
    });
    let tp = Some(ExitHit {
        level: ExitLevel::TakeProfit,
        price: take_profit,
        ambiguous,
    });
    match phase {
        BarPhase::Normal => {
            if gap_fills {
                // The open is the first price of the bar: an open beyond a level decides the exit
                // at the open (worse than SL, better than TP) before anything else in the bar.
                let (beyond_sl, beyond_tp) = match direction {
                    Direction::Long => (c.open <= stop_loss, c.open >= take_profit),
                    Direction::Short => (c.open >= stop_loss, c.open <= take_profit),
                };
                if beyond_sl {
                    return Some(ExitHit {
                        level: ExitLevel::StopLoss,
                        price: c.open,
                        ambiguous,
                    });
                }
                if beyond_tp {
                    return Some(ExitHit {
                        level: ExitLevel::TakeProfit,
                        price: c.open,
                        ambiguous,
                    });
                }
            }
            if sl_hit {
                sl
            } else {
                tp
            }
        }
        BarPhase::FillBar => {
            if sl_hit {
                sl
            } else {
                tp
            }
        }
        BarPhase::TriggerBar => {
            if sl_hit {
                return sl;
            }
            let close_check = match variant {
                Variant::V2 => true,
                Variant::V1Parity => order_type == OrderType::Limit,
            };
            if !close_check {
                return tp;
            }
            let beyond = match direction {
                Direction::Long => c.close > take_profit,
                Direction::Short => c.close < take_profit,
            };
            if beyond {
                tp
            } else {
                None
            }
        }
    }
}

/// Evaluates one open position on a tick (no buffer). v2: SL fills at the tick price on the exit
/// side (worse than or equal to SL), TP at TP. v1: both fill at the level, and a level of exactly
/// 0.0 never exits.
#[inline]
pub fn tick_exit(
    variant: Variant,
    direction: Direction,
    stop_loss: f64,
    take_profit: f64,
    bid: f64,
    ask: f64,
) -> Option<(ExitLevel, f64)> {
    let px = match direction {
        Direction::Long => bid,
        Direction::Short => ask,
    };
    let (sl_hit, tp_hit) = match direction {
        Direction::Long => (px <= stop_loss, px >= take_profit),
        Direction::Short => (px >= stop_loss, px <= take_profit),
    };
    match variant {
        Variant::V2 => {
            if sl_hit {
                Some((ExitLevel::StopLoss, px))
            } else if tp_hit {
                Some((ExitLevel::TakeProfit, take_profit))
            } else {
                None
            }
        }
        Variant::V1Parity => {
            if sl_hit && stop_loss != 0.0 {
                Some((ExitLevel::StopLoss, stop_loss))
            } else if tp_hit && take_profit != 0.0 {
                Some((ExitLevel::TakeProfit, take_profit))
            } else {
                None
            }
        }
    }
}

/// The reason of a stop-loss exit (SEMANTICS §3). v2: `stop_loss` when the SL equals the initial
/// SL, else by what moved it (break-even or trailing). v1: any moved SL is `break_even_stop_loss`.
#[inline]
pub fn stop_reason(
    variant: Variant,
    stop_loss: f64,
    initial_stop_loss: f64,
    kind: StopKind,
) -> ExitReason {
    if stop_loss == initial_stop_loss {
        return ExitReason::StopLoss;
    }
    match variant {
        Variant::V1Parity => ExitReason::BreakEvenStopLoss,
        Variant::V2 => match kind {
            StopKind::Initial => ExitReason::StopLoss,
            StopKind::BreakEven => ExitReason::BreakEvenStopLoss,
            StopKind::Trailing => ExitReason::TrailingStop,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BarPhase::*;
    use Direction::*;
    use ExitLevel::*;
    use OrderType::*;
    use Variant::*;

    fn c(open: f64, high: f64, low: f64, close: f64) -> Candle {
        Candle {
            ts: 10,
            open,
            high,
            low,
            close,
        }
    }

    const BUF: f64 = 0.00005;

    #[test]
    fn buffer_edges_long() {
        // SL 1.0950: hit when bid.low <= 1.09505
        let at = c(1.1, 1.1, 1.0950 + BUF, 1.1);
        let hit = candle_exit(V2, Long, Market, 1.0950, 1.2, BUF, &at, Normal, false).unwrap();
        assert_eq!((hit.level, hit.price), (StopLoss, 1.0950));
        let above = c(1.1, 1.1, 1.0950 + BUF + 1e-9, 1.1);
        assert_eq!(
            candle_exit(V2, Long, Market, 1.0950, 1.2, BUF, &above, Normal, false),
            None
        );
        // TP 1.1100: hit when bid.high >= 1.10995
        let tp_at = c(1.1, 1.1100 - BUF, 1.0990, 1.1);
        let hit =
            candle_exit(V2, Long, Market, 1.0950, 1.1100, BUF, &tp_at, Normal, false).unwrap();
        assert_eq!((hit.level, hit.price), (TakeProfit, 1.1100));
        let tp_below = c(1.1, 1.1100 - BUF - 1e-9, 1.0990, 1.1);
        assert_eq!(
            candle_exit(V2, Long, Market, 1.0950, 1.1100, BUF, &tp_below, Normal, false),
            None
        );
    }

    #[test]
    fn buffer_edges_short() {
        // short SL 1.1050: hit when ask.high >= 1.10495; TP 1.0900 hit when ask.low <= 1.09005
        let at = c(1.1, 1.1050 - BUF, 1.0990, 1.1);
        assert_eq!(
            candle_exit(V2, Short, Market, 1.1050, 1.09, BUF, &at, Normal, false)
                .unwrap()
                .level,
            StopLoss
        );
        let below = c(1.1, 1.1050 - BUF - 1e-9, 1.0990, 1.1);
        assert_eq!(
            candle_exit(V2, Short, Market, 1.1050, 1.09, BUF, &below, Normal, false),
            None
        );
        let tp = c(1.1, 1.1010, 1.0900 + BUF, 1.1);
        assert_eq!(
            candle_exit(V2, Short, Market, 1.1050, 1.09, BUF, &tp, Normal, false)
                .unwrap()
                .level,
            TakeProfit
        );
        let tp_no = c(1.1, 1.1010, 1.0900 + BUF + 1e-9, 1.1);
        assert_eq!(
            candle_exit(V2, Short, Market, 1.1050, 1.09, BUF, &tp_no, Normal, false),
            None
        );
    }

    #[test]
    fn sl_wins_the_tie_and_flags_ambiguity() {
        let wide = c(1.1, 1.2, 1.0, 1.1);
        let hit = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &wide, Normal, false).unwrap();
        assert_eq!(
            hit,
            ExitHit {
                level: StopLoss,
                price: 1.09,
                ambiguous: true
            }
        );
        let hit = candle_exit(V2, Short, Market, 1.11, 1.09, 0.0, &wide, Normal, false).unwrap();
        assert_eq!(
            hit,
            ExitHit {
                level: StopLoss,
                price: 1.11,
                ambiguous: true
            }
        );
        let only_tp = c(1.1, 1.2, 1.095, 1.1);
        assert!(
            !candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &only_tp, Normal, false)
                .unwrap()
                .ambiguous
        );
    }

    #[test]
    fn gap_fills_on_and_off() {
        // long SL 1.09, TP 1.11; bar opens at 1.08 (below SL)
        let gap_down = c(1.08, 1.085, 1.07, 1.08);
        let off = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &gap_down, Normal, false).unwrap();
        let on = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &gap_down, Normal, true).unwrap();
        assert_eq!((off.level, off.price), (StopLoss, 1.09));
        assert_eq!((on.level, on.price), (StopLoss, 1.08));
        // opens above TP: fills at the (better) open
        let gap_up = c(1.12, 1.13, 1.115, 1.12);
        let on = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &gap_up, Normal, true).unwrap();
        assert_eq!((on.level, on.price), (TakeProfit, 1.12));
        let off = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &gap_up, Normal, false).unwrap();
        assert_eq!((off.level, off.price), (TakeProfit, 1.11));
        // short: opens above SL
        let s = candle_exit(V2, Short, Market, 1.11, 1.09, 0.0, &gap_up, Normal, true).unwrap();
        assert_eq!((s.level, s.price), (StopLoss, 1.12));
        let s = candle_exit(V2, Short, Market, 1.11, 1.09, 0.0, &gap_down, Normal, true).unwrap();
        assert_eq!((s.level, s.price), (TakeProfit, 1.08));
        // no gap fills in the trigger bar or the fill bar
        let t = candle_exit(V2, Long, Stop, 1.09, 1.11, 0.0, &gap_down, TriggerBar, true).unwrap();
        assert_eq!(t.price, 1.09);
    }

    #[test]
    fn entry_candle_rules_limit_vs_stop_both_variants() {
        // TP 1.11 touched (high 1.115) but close 1.105 not beyond; close 1.112 beyond
        let touch = c(1.10, 1.115, 1.099, 1.105);
        let beyond = c(1.10, 1.115, 1.099, 1.112);
        for ot in [Limit, Stop] {
            assert_eq!(
                candle_exit(V2, Long, ot, 1.09, 1.11, 0.0, &touch, TriggerBar, false),
                None,
                "{ot:?}"
            );
            assert_eq!(
                candle_exit(V2, Long, ot, 1.09, 1.11, 0.0, &beyond, TriggerBar, false)
                    .unwrap()
                    .level,
                TakeProfit
            );
        }
        // v1: limit has the close check, stop takes TP
        assert_eq!(
            candle_exit(V1Parity, Long, Limit, 1.09, 1.11, 0.0, &touch, TriggerBar, false),
            None
        );
        assert_eq!(
            candle_exit(V1Parity, Long, Stop, 1.09, 1.11, 0.0, &touch, TriggerBar, false)
                .unwrap()
                .level,
            TakeProfit
        );
        // short mirror: TP 1.09, low 1.085, close 1.095 (not beyond) / 1.088 (beyond)
        let s_touch = c(1.10, 1.101, 1.085, 1.095);
        let s_beyond = c(1.10, 1.101, 1.085, 1.088);
        assert_eq!(
            candle_exit(V2, Short, Stop, 1.11, 1.09, 0.0, &s_touch, TriggerBar, false),
            None
        );
        assert_eq!(
            candle_exit(V2, Short, Stop, 1.11, 1.09, 0.0, &s_beyond, TriggerBar, false)
                .unwrap()
                .level,
            TakeProfit
        );
        assert_eq!(
            candle_exit(V1Parity, Short, Stop, 1.11, 1.09, 0.0, &s_touch, TriggerBar, false)
                .unwrap()
                .level,
            TakeProfit
        );
        assert_eq!(
            candle_exit(V1Parity, Short, Limit, 1.11, 1.09, 0.0, &s_touch, TriggerBar, false),
            None
        );
        // SL may always exit in the trigger bar
        let sl = c(1.10, 1.101, 1.085, 1.095);
        for v in [V2, V1Parity] {
            for ot in [Limit, Stop] {
                assert_eq!(
                    candle_exit(v, Long, ot, 1.09, 1.2, 0.0, &sl, TriggerBar, false)
                        .unwrap()
                        .level,
                    StopLoss
                );
            }
        }
        // exactly at TP is not strictly beyond
        let eq = c(1.10, 1.115, 1.099, 1.11);
        assert_eq!(
            candle_exit(V2, Long, Limit, 1.09, 1.11, 0.0, &eq, TriggerBar, false),
            None
        );
    }

    #[test]
    fn fill_bar_tests_both_without_close_check() {
        let touch = c(1.10, 1.115, 1.099, 1.105);
        assert_eq!(
            candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &touch, FillBar, false)
                .unwrap()
                .level,
            TakeProfit
        );
        let both = c(1.10, 1.115, 1.085, 1.105);
        let h = candle_exit(V2, Long, Market, 1.09, 1.11, 0.0, &both, FillBar, true).unwrap();
        assert_eq!((h.level, h.price, h.ambiguous), (StopLoss, 1.09, true));
    }

    #[test]
    fn tick_rules() {
        // v2 long: SL at the bid (worse), TP at TP
        assert_eq!(
            tick_exit(V2, Long, 1.09, 1.11, 1.0895, 1.0897),
            Some((StopLoss, 1.0895))
        );
        assert_eq!(
            tick_exit(V2, Long, 1.09, 1.11, 1.1105, 1.1107),
            Some((TakeProfit, 1.11))
        );
        assert_eq!(tick_exit(V2, Long, 1.09, 1.11, 1.1, 1.1002), None);
        // short on the ask
        assert_eq!(
            tick_exit(V2, Short, 1.11, 1.09, 1.1099, 1.1101),
            Some((StopLoss, 1.1101))
        );
        assert_eq!(
            tick_exit(V2, Short, 1.11, 1.09, 1.0895, 1.0899),
            Some((TakeProfit, 1.09))
        );
        assert_eq!(tick_exit(V2, Short, 1.11, 1.09, 1.0899, 1.0901), None);
        // v1: fills at the level; level 0.0 never exits
        assert_eq!(
            tick_exit(V1Parity, Long, 1.09, 1.11, 1.0895, 1.0897),
            Some((StopLoss, 1.09))
        );
        assert_eq!(tick_exit(V1Parity, Short, 0.0, 1.09, 1.2, 1.2), None);
        assert_eq!(tick_exit(V1Parity, Long, 1.09, 0.0, 1.2, 1.2), None);
        assert_eq!(
            tick_exit(V2, Short, 0.0, 1.09, 1.2, 1.2).unwrap().0,
            StopLoss
        );
    }

    #[test]
    fn reason_mapping() {
        assert_eq!(
            stop_reason(V2, 1.09, 1.09, StopKind::Initial),
            ExitReason::StopLoss
        );
        assert_eq!(
            stop_reason(V2, 1.10, 1.09, StopKind::BreakEven),
            ExitReason::BreakEvenStopLoss
        );
        assert_eq!(
            stop_reason(V2, 1.10, 1.09, StopKind::Trailing),
            ExitReason::TrailingStop
        );
        // unchanged SL is stop_loss whatever the kind says
        assert_eq!(
            stop_reason(V2, 1.09, 1.09, StopKind::Trailing),
            ExitReason::StopLoss
        );
        assert_eq!(
            stop_reason(V1Parity, 1.10, 1.09, StopKind::Trailing),
            ExitReason::BreakEvenStopLoss
        );
        assert_eq!(
            stop_reason(V1Parity, 1.10, 1.09, StopKind::BreakEven),
            ExitReason::BreakEvenStopLoss
        );
        assert_eq!(
            stop_reason(V1Parity, 1.09, 1.09, StopKind::Initial),
            ExitReason::StopLoss
        );
    }
}
