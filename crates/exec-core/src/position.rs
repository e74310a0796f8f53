//! Position lifecycle: pending order -> open position -> closed record, and trade accounting
//! (gross PnL, R multiple; SEMANTICS §7).

use crate::types::{
    ClosedPosition, Direction, ExitReason, Position, PositionStatus, Signal, StopKind, TimestampUs,
    Variant,
};

/// R multiple: `(exit − entry) * dir / |entry − initial_SL|`; 0 when the initial risk distance is
/// zero (possible only in v1, which does not check pending orders), so it is never NaN.
#[inline]
pub fn r_multiple(direction: Direction, entry: f64, exit: f64, initial_stop_loss: f64) -> f64 {
    let d = (entry - initial_stop_loss).abs();
    if d > 0.0 {
        (exit - entry) * direction.sign() / d
    } else {
        0.0
    }
}

/// Gross PnL in the account currency. v2: `(exit − entry) * dir * lots * value_per_price`;
/// v1: `R * risk_amount`, independent of the size.
#[inline]
pub fn gross_pnl(variant: Variant, p: &Position, exit: f64) -> f64 {
    match variant {
        Variant::V2 => (exit - p.entry_price) * p.direction.sign() * p.lots * p.value_per_price,
        Variant::V1Parity => {
            r_multiple(p.direction, p.entry_price, exit, p.initial_stop_loss) * p.risk_amount
        }
    }
}

/// A new pending order (or a `next_open` market order waiting for the next bar).
pub fn new_pending(id: u64, s: &Signal, order_price: f64) -> Position {
    Position {
        id,
        symbol: s.symbol,
        direction: s.direction,
        order_type: s.order_type,
        status: PositionStatus::Pending,
        placement_time: s.ts,
        entry_time: s.ts,
        trigger_time: None,
        entry_price: order_price,
        stop_loss: s.stop_loss,
        take_profit: s.take_profit,
        initial_stop_loss: s.stop_loss,
        initial_take_profit: s.take_profit,
        stop_kind: StopKind::Initial,
        lots: 0.0,
        value_per_price: 0.0,
        risk_amount: 0.0,
        entry_fee: 0.0,
        swap: 0.0,
        bars_held: 0,
        bars_pending: 0,
        best_price: order_price,
        meta: s.meta,
    }
}

/// What a fill sets on a position.
#[derive(Clone, Copy, Debug)]
pub struct Fill {
    pub time: TimestampUs,
    /// `None` for v1 tick-mode market orders (SEMANTICS §4).
    pub trigger_time: Option<TimestampUs>,
    pub price: f64,
    pub lots: f64,
    pub value_per_price: f64,
    pub risk_amount: f64,
    pub entry_fee: f64,
}

/// Opens a position (a pending order that triggered, or a market order): `initial_*` are taken
/// from the current SL/TP at the fill.
pub fn open(p: &mut Position, f: &Fill) {
    p.status = PositionStatus::Open;
    p.entry_time = f.time;
    p.trigger_time = f.trigger_time;
    p.entry_price = f.price;
    p.initial_stop_loss = p.stop_loss;
    p.initial_take_profit = p.take_profit;
    p.lots = f.lots;
    p.value_per_price = f.value_per_price;
    p.risk_amount = f.risk_amount;
    p.entry_fee = f.entry_fee;
    p.swap = 0.0;
    p.bars_held = 0;
    p.best_price = f.price;
}

/// The closed record of `p`.
pub fn close(
    variant: Variant,
    p: &Position,
    exit_time: TimestampUs,
    exit_price: f64,
    reason: ExitReason,
    exit_fee: f64,
    ambiguous: bool,
) -> ClosedPosition {
    let gross = gross_pnl(variant, p, exit_price);
    ClosedPosition {
        id: p.id,
        symbol: p.symbol,
        direction: p.direction,
        order_type: p.order_type,
        placement_time: p.placement_time,
        entry_time: p.entry_time,
        trigger_time: p.trigger_time,
        exit_time,
        entry_price: p.entry_price,
        exit_price,
        lots: p.lots,
        initial_stop_loss: p.initial_stop_loss,
        initial_take_profit: p.initial_take_profit,
        stop_loss: p.stop_loss,
        take_profit: p.take_profit,
        reason,
        entry_fee: p.entry_fee,
        exit_fee,
        swap: p.swap,
        gross_pnl: gross,
        net_pnl: gross - p.entry_fee - exit_fee + p.swap,
        r_multiple: r_multiple(p.direction, p.entry_price, exit_price, p.initial_stop_loss),
        in_entry_candle: p.trigger_time == Some(exit_time) && p.placement_time < exit_time,
        ambiguous,
        meta: p.meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OrderType;

    fn sig(direction: Direction) -> Signal {
        Signal {
            ts: 100,
            symbol: 0,
            direction,
            order_type: OrderType::Limit,
            entry_price: Some(1.1),
            stop_loss: 1.09,
            take_profit: 1.12,
            meta: 7,
        }
    }

    #[test]
    fn lifecycle_and_accounting() {
        let mut p = new_pending(3, &sig(Direction::Long), 1.1);
        assert_eq!(p.status, PositionStatus::Pending);
        assert_eq!((p.lots, p.placement_time, p.trigger_time), (0.0, 100, None));
        p.stop_loss = 1.095; // moved while pending: becomes the initial SL at the fill
        open(
            &mut p,
            &Fill {
                time: 200,
                trigger_time: Some(200),
                price: 1.1,
                lots: 2.0,
                value_per_price: 100_000.0,
                risk_amount: 1000.0,
                entry_fee: 3.0,
            },
        );
        assert_eq!(
            (p.status, p.initial_stop_loss, p.entry_time),
            (PositionStatus::Open, 1.095, 200)
        );
        let c = close(
            Variant::V2,
            &p,
            300,
            1.11,
            ExitReason::TakeProfit,
            4.0,
            false,
        );
        assert!((c.gross_pnl - 2000.0).abs() < 1e-6);
        assert!((c.net_pnl - (c.gross_pnl - 7.0)).abs() < 1e-12);
        assert!((c.r_multiple - 2.0).abs() < 1e-9);
        assert!(!c.in_entry_candle);
        assert_eq!((c.meta, c.swap, c.id), (7, 0.0, 3));
        let in_bar = close(Variant::V2, &p, 200, 1.095, ExitReason::StopLoss, 0.0, true);
        assert!(in_bar.in_entry_candle && in_bar.ambiguous);
        // v1: R * risk, size-independent
        let v1 = close(
            Variant::V1Parity,
            &p,
            300,
            1.11,
            ExitReason::TakeProfit,
            4.0,
            false,
        );
        assert!((v1.gross_pnl - 2000.0).abs() < 1e-6);
        p.lots = 5.0;
        let v1b = close(
            Variant::V1Parity,
            &p,
            300,
            1.11,
            ExitReason::TakeProfit,
            0.0,
            false,
        );
        assert_eq!(v1b.gross_pnl, v1.gross_pnl);
        let v2b = close(
            Variant::V2,
            &p,
            300,
            1.11,
            ExitReason::TakeProfit,
            0.0,
            false,
        );
        assert!(v2b.gross_pnl > v1.gross_pnl);
    }

    #[test]
    fn r_is_never_nan() {
        assert_eq!(r_multiple(Direction::Long, 1.1, 1.1, 1.1), 0.0);
        assert!((r_multiple(Direction::Short, 1.1, 1.0, 1.2) - 1.0).abs() < 1e-12);
        assert!((r_multiple(Direction::Short, 1.1, 1.2, 1.2) + 1.0).abs() < 1e-12);
        assert_eq!(r_multiple(Direction::Long, 2.0, 3.0, 1.5), 2.0);
    }
}
