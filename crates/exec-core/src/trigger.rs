//! Pending-order triggers (SEMANTICS §2 candle mode, §4 tick mode) and their fill prices.
//!
//! Longs buy, so they are tested on the ask; shorts sell and are tested on the bid.

use crate::types::{Candle, Direction, OrderType, Variant};

/// Whether a pending order at `price` triggers in a bar (`bid`/`ask` are that bar's candles).
///
/// | order | long (ask)          | short (bid)          |
/// |-------|---------------------|----------------------|
/// | limit | `ask.low <= price`  | `bid.high >= price`  |
/// | stop  | `ask.high >= price` | `bid.low <= price`   |
#[inline]
pub fn triggered_candle(
    direction: Direction,
    order_type: OrderType,
    price: f64,
    bid: &Candle,
    ask: &Candle,
) -> bool {
    match (order_type, direction) {
        (OrderType::Limit, Direction::Long) => ask.low <= price,
        (OrderType::Limit, Direction::Short) => bid.high >= price,
        (OrderType::Stop, Direction::Long) => ask.high >= price,
        (OrderType::Stop, Direction::Short) => bid.low <= price,
        (OrderType::Market, _) => false,
    }
}

/// Whether a pending order triggers on a tick (long on the ask, short on the bid).
#[inline]
pub fn triggered_tick(
    direction: Direction,
    order_type: OrderType,
    price: f64,
    bid: f64,
    ask: f64,
) -> bool {
    match (order_type, direction) {
        (OrderType::Limit, Direction::Long) => ask <= price,
        (OrderType::Limit, Direction::Short) => bid >= price,
        (OrderType::Stop, Direction::Long) => ask >= price,
        (OrderType::Stop, Direction::Short) => bid <= price,
        (OrderType::Market, _) => false,
    }
}

/// The fill price (before slippage) of a triggered pending order, given the price the market was
/// at when the order became live in this bar or tick (`market`: the trade-side open of the bar, or
/// the trade-side tick price).
///
/// v2 (SEMANTICS §2, normative): every pending order fills at the worse of its price and
/// `market` on the trade side — long `max(E, open)`, short `min(E, open)`. For stop orders this is
/// the gap-through fill; for limit orders it is the engine's conservative assumption that the
/// bar's path between open and trigger is unknown, so the open (when worse) is taken. v1: always
/// exactly at the order price.
#[inline]
pub fn pending_fill(
    variant: Variant,
    direction: Direction,
    order_type: OrderType,
    price: f64,
    market: f64,
) -> f64 {
    match (variant, order_type) {
        (Variant::V1Parity, _) | (Variant::V2, OrderType::Market) => price,
        (Variant::V2, OrderType::Limit | OrderType::Stop) => match direction {
            Direction::Long => price.max(market),
            Direction::Short => price.min(market),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;
    use OrderType::*;

    fn c(open: f64, high: f64, low: f64, close: f64) -> Candle {
        Candle {
            ts: 1,
            open,
            high,
            low,
            close,
        }
    }

    #[test]
    fn trigger_matrix_candle() {
        // bid 1.1000-1.1010, ask 2 pips above
        let bid = c(1.1005, 1.1010, 1.1000, 1.1005);
        let ask = c(1.1007, 1.1012, 1.1002, 1.1007);
        // limit long on ASK low
        assert!(triggered_candle(Long, Limit, 1.1002, &bid, &ask));
        assert!(!triggered_candle(Long, Limit, 1.1001, &bid, &ask)); // bid.low would have triggered
                                                                     // limit short on BID high
        assert!(triggered_candle(Short, Limit, 1.1010, &bid, &ask));
        assert!(!triggered_candle(Short, Limit, 1.1011, &bid, &ask)); // ask.high would have triggered
                                                                      // stop long on ASK high
        assert!(triggered_candle(Long, Stop, 1.1012, &bid, &ask));
        assert!(!triggered_candle(Long, Stop, 1.1013, &bid, &ask));
        // stop short on BID low
        assert!(triggered_candle(Short, Stop, 1.1000, &bid, &ask));
        assert!(!triggered_candle(Short, Stop, 1.0999, &bid, &ask));
        assert!(!triggered_candle(Long, Market, 1.1005, &bid, &ask));
    }

    #[test]
    fn trigger_matrix_tick() {
        assert!(triggered_tick(Long, Limit, 1.1, 1.0998, 1.1));
        assert!(!triggered_tick(Long, Limit, 1.1, 1.0998, 1.1001));
        assert!(triggered_tick(Short, Limit, 1.1, 1.1, 1.1002));
        assert!(!triggered_tick(Short, Limit, 1.1, 1.0999, 1.1));
        assert!(triggered_tick(Long, Stop, 1.1, 1.0998, 1.1));
        assert!(!triggered_tick(Long, Stop, 1.1, 1.1, 1.0999 + 0.00005));
        assert!(triggered_tick(Short, Stop, 1.1, 1.1, 1.1002));
        assert!(!triggered_tick(Short, Stop, 1.1, 1.1001, 1.1002));
        assert!(!triggered_tick(Short, Market, 1.1, 1.1, 1.1));
    }

    #[test]
    fn fills_v2_vs_v1() {
        // stop long gapped above: open 1.1020 > E 1.1010
        assert_eq!(
            pending_fill(Variant::V2, Long, Stop, 1.1010, 1.1020),
            1.1020
        );
        assert_eq!(
            pending_fill(Variant::V2, Long, Stop, 1.1010, 1.1000),
            1.1010
        );
        assert_eq!(
            pending_fill(Variant::V2, Short, Stop, 1.1010, 1.1000),
            1.1000
        );
        assert_eq!(
            pending_fill(Variant::V2, Short, Stop, 1.1010, 1.1020),
            1.1010
        );
        // limits take the worse of E and the open too (SEMANTICS §2)
        assert_eq!(
            pending_fill(Variant::V2, Long, Limit, 1.1010, 1.1000),
            1.1010
        );
        assert_eq!(
            pending_fill(Variant::V2, Long, Limit, 1.1010, 1.1020),
            1.1020
        );
        assert_eq!(
            pending_fill(Variant::V2, Short, Limit, 1.1010, 1.1020),
            1.1010
        );
        assert_eq!(
            pending_fill(Variant::V2, Short, Limit, 1.1010, 1.1000),
            1.1000
        );
        // v1: always at E
        assert_eq!(
            pending_fill(Variant::V1Parity, Long, Stop, 1.1010, 1.1020),
            1.1010
        );
        assert_eq!(
            pending_fill(Variant::V1Parity, Short, Stop, 1.1010, 1.1000),
            1.1010
        );
    }
}
