//! Signal validation (SEMANTICS §1): input errors versus geometric rejections.
//!
//! Input errors (non-finite prices, a missing order price on a pending order, an unknown symbol)
//! are `Err` and change nothing. Geometrically impossible signals are rejections: counted per
//! [`RejectReason`], nothing opened, nothing paid.

use crate::error::{ExecError, Result};
use crate::types::{Direction, OrderType, RejectReason, Signal, Variant};

/// The default minimum stop distance in pips when a symbol spec gives none.
pub const DEFAULT_MIN_SL_DISTANCE_PIPS: f64 = 0.1;

/// v1's absolute minimum |entry − SL| for market orders.
pub const V1_MIN_SL_DISTANCE: f64 = 1e-5;

/// Checks the signal's own fields; errors name the field.
pub fn validate_input(s: &Signal) -> Result<()> {
    if let Some(e) = s.entry_price {
        if !e.is_finite() {
            return Err(ExecError::invalid(
                "signal.entry_price",
                format!("must be finite, got {e}"),
            ));
        }
        if e <= 0.0 {
            return Err(ExecError::invalid(
                "signal.entry_price",
                format!("must be > 0, got {e}"),
            ));
        }
    } else if s.order_type.is_pending() {
        return Err(ExecError::invalid(
            "signal.entry_price",
            format!("a {} order needs an order price", s.order_type.as_str()),
        ));
    }
    if !s.stop_loss.is_finite() {
        return Err(ExecError::invalid(
            "signal.stop_loss",
            format!("must be finite, got {}", s.stop_loss),
        ));
    }
    if !s.take_profit.is_finite() {
        return Err(ExecError::invalid(
            "signal.take_profit",
            format!("must be finite, got {}", s.take_profit),
        ));
    }
    Ok(())
}

/// The v2 geometry checks against the fill (or order) price: SL side, TP side, SL distance.
#[inline]
pub fn check_geometry_v2(
    direction: Direction,
    price: f64,
    stop_loss: f64,
    take_profit: f64,
    min_distance: f64,
) -> Option<RejectReason> {
    let (sl_ok, tp_ok) = match direction {
        Direction::Long => (stop_loss < price, take_profit > price),
        Direction::Short => (stop_loss > price, take_profit < price),
    };
    if !sl_ok {
        return Some(RejectReason::SlWrongSide);
    }
    if !tp_ok {
        return Some(RejectReason::TpWrongSide);
    }
    if (price - stop_loss).abs() < min_distance {
        return Some(RejectReason::SlTooClose);
    }
    None
}

/// The v1 check: market orders only, `|entry − SL| < 1e-5` (absolute) is too close.
#[inline]
pub fn check_geometry_v1(
    order_type: OrderType,
    entry: f64,
    stop_loss: f64,
) -> Option<RejectReason> {
    if order_type == OrderType::Market && (entry - stop_loss).abs() < V1_MIN_SL_DISTANCE {
        return Some(RejectReason::SlTooClose);
    }
    None
}

/// The variant's geometry check; `min_distance` (price units) is used by v2 only.
#[inline]
pub fn check_geometry(
    variant: Variant,
    direction: Direction,
    order_type: OrderType,
    price: f64,
    stop_loss: f64,
    take_profit: f64,
    min_distance: f64,
) -> Option<RejectReason> {
    match variant {
        Variant::V2 => check_geometry_v2(direction, price, stop_loss, take_profit, min_distance),
        Variant::V1Parity => check_geometry_v1(order_type, price, stop_loss),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;
    use RejectReason::*;

    fn sig() -> Signal {
        Signal {
            ts: 0,
            symbol: 0,
            direction: Long,
            order_type: OrderType::Market,
            entry_price: None,
            stop_loss: 1.0,
            take_profit: 1.2,
            meta: 0,
        }
    }

    #[test]
    fn input_errors_name_the_field() {
        assert!(validate_input(&sig()).is_ok());
        for (s, field) in [
            (
                Signal {
                    entry_price: Some(f64::NAN),
                    ..sig()
                },
                "signal.entry_price",
            ),
            (
                Signal {
                    entry_price: Some(0.0),
                    ..sig()
                },
                "signal.entry_price",
            ),
            (
                Signal {
                    stop_loss: f64::INFINITY,
                    ..sig()
                },
                "signal.stop_loss",
            ),
            (
                Signal {
                    take_profit: f64::NAN,
                    ..sig()
                },
                "signal.take_profit",
            ),
            (
                Signal {
                    order_type: OrderType::Limit,
                    ..sig()
                },
                "signal.entry_price",
            ),
        ] {
            let e = validate_input(&s).unwrap_err();
            assert_eq!(e.code().code, 1001);
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn v2_sides_and_distance() {
        let d = 0.1 * 0.0001;
        assert_eq!(check_geometry_v2(Long, 1.1, 1.09, 1.12, d), None);
        assert_eq!(
            check_geometry_v2(Long, 1.1, 1.11, 1.12, d),
            Some(SlWrongSide)
        );
        assert_eq!(
            check_geometry_v2(Long, 1.1, 1.1, 1.12, d),
            Some(SlWrongSide)
        );
        assert_eq!(
            check_geometry_v2(Long, 1.1, 1.09, 1.08, d),
            Some(TpWrongSide)
        );
        assert_eq!(check_geometry_v2(Short, 1.1, 1.11, 1.08, d), None);
        assert_eq!(
            check_geometry_v2(Short, 1.1, 1.09, 1.08, d),
            Some(SlWrongSide)
        );
        assert_eq!(
            check_geometry_v2(Short, 1.1, 1.11, 1.12, d),
            Some(TpWrongSide)
        );
        assert_eq!(
            check_geometry_v2(Long, 1.1, 1.1 - 0.000_005, 1.2, d),
            Some(SlTooClose)
        );
        assert_eq!(
            check_geometry_v2(Short, 1.1, 1.1 + 0.000_005, 1.0, d),
            Some(SlTooClose)
        );
        // exactly at the minimum is accepted (strict <)
        assert_eq!(check_geometry_v2(Long, 2.0, 1.5, 3.0, 0.5), None);
    }

    #[test]
    fn v1_checks_market_distance_only() {
        // wrong sides pass in v1
        assert_eq!(
            check_geometry(
                Variant::V1Parity,
                Long,
                OrderType::Market,
                1.1,
                1.2,
                1.0,
                1.0
            ),
            None
        );
        assert_eq!(
            check_geometry(
                Variant::V1Parity,
                Long,
                OrderType::Market,
                1.1,
                1.1 + 5e-6,
                1.2,
                0.0
            ),
            Some(SlTooClose)
        );
        // pending orders are not checked at all in v1
        assert_eq!(
            check_geometry(
                Variant::V1Parity,
                Long,
                OrderType::Limit,
                1.1,
                1.1,
                1.2,
                0.0
            ),
            None
        );
        assert_eq!(
            check_geometry(Variant::V2, Long, OrderType::Market, 1.1, 1.2, 1.3, 0.0),
            Some(SlWrongSide)
        );
    }
}
