//! `signals`: replays a precomputed [`SignalTable`] (its rows of the run's symbol, in time
//! order). A row is executed at the bar that contains its timestamp (`ts_i <= row.ts <
//! ts_{i+1}`, i.e. at that bar's close); in tick mode at the first tick at or after it. Rows
//! before the first bar (tick) are never executed.

use std::sync::Arc;

use super::{StopLevels, StrategySignal};
use crate::data::BarView;
use crate::signals::SignalTable;

#[derive(Clone, Debug)]
pub struct SignalsStrategy {
    table: Arc<SignalTable>,
    /// Index into `rows` of the next row to emit.
    pos: usize,
    /// The table rows of this symbol, in time order (copied once: the table keeps one list per
    /// symbol, this keeps the strategy independent of the symbol lookup).
    rows: Vec<u32>,
}

impl SignalsStrategy {
    /// Rows of `symbol` with `ts < first_ts` are skipped.
    pub fn new(table: Arc<SignalTable>, symbol: &str, first_ts: i64) -> Self {
        let rows = table.rows_for_symbol(symbol).to_vec();
        let pos = rows.partition_point(|&r| table.ts(r) < first_ts);
        SignalsStrategy { table, pos, rows }
    }

    pub fn table(&self) -> &Arc<SignalTable> {
        &self.table
    }

    /// Rows skipped at construction (before the first bar or tick).
    pub fn skipped(&self) -> usize {
        self.pos
    }

    #[inline]
    fn emit(&mut self, out: &mut Vec<StrategySignal>) {
        let r = self.rows[self.pos];
        let t = &self.table;
        out.push(StrategySignal {
            direction: t.direction(r),
            order_type: t.order_type(r),
            entry_price: t.entry_price(r),
            levels: StopLevels::At {
                stop_loss: t.stop_loss(r),
                take_profit: t.take_profit(r),
            },
            meta: r,
        });
        self.pos += 1;
    }

    /// Bar `i` closed: emits the rows before the next bar's time (all the rest after the last
    /// bar).
    #[inline]
    pub fn on_bar(&mut self, bars: &BarView<'_>, i: usize, out: &mut Vec<StrategySignal>) {
        let next = bars.ts.get(i + 1).copied().unwrap_or(i64::MAX);
        self.rows_before(next, out)
    }

    /// Emits the rows with `ts < next_ts` (bar mode: `next_ts` is the next bar's timestamp).
    #[inline]
    pub fn rows_before(&mut self, next_ts: i64, out: &mut Vec<StrategySignal>) {
        while self.pos < self.rows.len() && self.table.ts(self.rows[self.pos]) < next_ts {
            self.emit(out);
        }
    }

    /// Emits the rows with `ts <= ts` (tick mode: rows execute at the first tick at or after
    /// their timestamp).
    #[inline]
    pub fn rows_until(&mut self, ts: i64, out: &mut Vec<StrategySignal>) {
        while self.pos < self.rows.len() && self.table.ts(self.rows[self.pos]) <= ts {
            self.emit(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::Strategy;
    use super::*;
    use crate::signals::SignalRow;
    use omega_exec_core::{Direction, OrderType};

    fn row(ts: i64, sym: &str) -> SignalRow {
        SignalRow {
            ts,
            symbol: sym.into(),
            direction: Direction::Long,
            order_type: OrderType::Market,
            entry_price: None,
            stop_loss: 1.0,
            take_profit: 1.3,
            reason: None,
            scenario: None,
            tags: None,
        }
    }

    #[test]
    fn rows_go_to_the_containing_bar_filtered_by_symbol() {
        let bars = bars_from_closes(&[1.1, 1.1, 1.1, 1.1]); // ts 0, 60s, 120s, 180s
        let m = 60_000_000;
        let rows = vec![
            row(-5, "EURUSD"),
            row(m, "EURUSD"),
            row(m + 30, "EURUSD"),
            row(m, "GBPUSD"),
            row(3 * m + 999, "EURUSD"),
        ];
        let table = Arc::new(SignalTable::from_rows(&rows).unwrap());
        let st = SignalsStrategy::new(table, "EURUSD", 0);
        assert_eq!(st.skipped(), 1);
        let mut s = Strategy::Signals(st);
        let got: Vec<(usize, u32)> = collect(&mut s, &bars)
            .iter()
            .map(|(i, x)| (*i, x.meta))
            .collect();
        assert_eq!(got, vec![(1, 1), (1, 2), (3, 4)]);
        // tick mode: first tick at or after
        let table = Arc::new(SignalTable::from_rows(&rows).unwrap());
        let mut st = SignalsStrategy::new(table, "EURUSD", 0);
        let mut out = Vec::new();
        st.rows_until(m, &mut out);
        assert_eq!(out.len(), 1);
        st.rows_until(m + 29, &mut out);
        assert_eq!(out.len(), 1);
        st.rows_until(m + 30, &mut out);
        assert_eq!(out.len(), 2);
    }
}
