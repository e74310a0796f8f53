//! Precomputed signal tables (DESIGN §3): strategies computed outside the engine hand their
//! signals over as an Arrow RecordBatch; the `signals` strategy executes them.

use std::sync::{Arc, OnceLock};

use arrow_array::{
    Array, ArrayRef, Float64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use omega_exec_core::{Direction, OrderType};

use crate::error::{LoopError, Result};

/// One signal as plain values (for building tables in Rust and for tests).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRow {
    pub ts: i64,
    pub symbol: String,
    pub direction: Direction,
    pub order_type: OrderType,
    /// `None`: a market order filling at the signal bar's close (or the tick's price).
    pub entry_price: Option<f64>,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub reason: Option<String>,
    pub scenario: Option<String>,
    pub tags: Option<String>,
}

/// A decoded signals table. Numeric columns are plain vectors (decoded once); the optional string
/// columns stay Arrow arrays and are looked up by row only when results are built.
#[derive(Clone, Debug)]
pub struct SignalTable {
    pub(crate) ts: Vec<i64>,
    /// Index into `symbols` per row.
    pub(crate) symbol_idx: Vec<u32>,
    pub(crate) symbols: Vec<String>,
    pub(crate) direction: Vec<Direction>,
    pub(crate) order_type: Vec<OrderType>,
    /// NaN where the entry price is absent (market at the signal bar's close).
    pub(crate) entry_price: Vec<f64>,
    pub(crate) stop_loss: Vec<f64>,
    pub(crate) take_profit: Vec<f64>,
    pub(crate) reason: Option<StringArray>,
    pub(crate) scenario: Option<StringArray>,
    pub(crate) tags: Option<StringArray>,
    /// Per symbol (same index as `symbols`): its rows in time order (stable for equal times).
    pub(crate) by_symbol: Vec<Vec<u32>>,
}

impl SignalTable {
    /// Schema of a signals table.
    pub fn schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    false,
                ),
                Field::new("symbol", DataType::Utf8, false),
                Field::new("direction", DataType::Utf8, false),
                Field::new("order_type", DataType::Utf8, true),
                Field::new("entry_price", DataType::Float64, true),
                Field::new("stop_loss", DataType::Float64, false),
                Field::new("take_profit", DataType::Float64, false),
                Field::new("reason", DataType::Utf8, true),
                Field::new("scenario", DataType::Utf8, true),
                Field::new("tags", DataType::Utf8, true),
            ]))
        })
        .clone()
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    fn string_at(col: &Option<StringArray>, row: u32) -> Option<&str> {
        let c = col.as_ref()?;
        let r = row as usize;
        if r >= c.len() || c.is_null(r) {
            None
        } else {
            Some(c.value(r))
        }
    }

    pub fn reason(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.reason, row)
    }

    pub fn scenario(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.scenario, row)
    }

    pub fn tags(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.tags, row)
    }

    /// Rows of `symbol` in time order (empty when the table has none).
    pub fn rows_for_symbol(&self, symbol: &str) -> &[u32] {
        match self.symbols.iter().position(|s| s == symbol) {
            Some(i) => &self.by_symbol[i],
            None => &[],
        }
    }

    /// The symbols of the table, in order of first appearance.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    #[inline]
    pub fn ts(&self, row: u32) -> i64 {
        self.ts[row as usize]
    }

    #[inline]
    pub fn direction(&self, row: u32) -> Direction {
        self.direction[row as usize]
    }

    #[inline]
    pub fn order_type(&self, row: u32) -> OrderType {
        self.order_type[row as usize]
    }

    #[inline]
    pub fn entry_price(&self, row: u32) -> Option<f64> {
        let e = self.entry_price[row as usize];
        if e.is_nan() {
            None
        } else {
            Some(e)
        }
    }

    #[inline]
    pub fn stop_loss(&self, row: u32) -> f64 {
        self.stop_loss[row as usize]
    }

    #[inline]
    pub fn take_profit(&self, row: u32) -> f64 {
        self.take_profit[row as usize]
    }

    pub fn symbol(&self, row: u32) -> &str {
        &self.symbols[self.symbol_idx[row as usize] as usize]
    }

    /// Row `row` as plain values.
    pub fn row(&self, row: u32) -> SignalRow {
        SignalRow {
            ts: self.ts(row),
            symbol: self.symbol(row).to_string(),
            direction: self.direction(row),
            order_type: self.order_type(row),
            entry_price: self.entry_price(row),
            stop_loss: self.stop_loss(row),
            take_profit: self.take_profit(row),
            reason: self.reason(row).map(str::to_string),
            scenario: self.scenario(row).map(str::to_string),
            tags: self.tags(row).map(str::to_string),
        }
    }

    /// Builds a table from rows, with the same checks as [`SignalTable::from_record_batch`].
    pub fn from_rows(rows: &[SignalRow]) -> Result<Self> {
        let n = rows.len();
        let mut b = Builder::with_capacity(n);
        for (i, r) in rows.iter().enumerate() {
            b.push(
                i,
                r.ts,
                &r.symbol,
                r.direction,
                r.order_type,
                r.entry_price,
                r.stop_loss,
                r.take_profit,
            )?;
        }
        let strings = |f: fn(&SignalRow) -> Option<&str>| -> Option<StringArray> {
            if rows.iter().any(|r| f(r).is_some()) {
                Some(rows.iter().map(f).collect())
            } else {
                None
            }
        };
        let reason = strings(|r| r.reason.as_deref());
        let scenario = strings(|r| r.scenario.as_deref());
        let tags = strings(|r| r.tags.as_deref());
        Ok(b.finish(reason, scenario, tags))
    }

    /// Decodes a RecordBatch in [`SignalTable::schema`] layout. Required columns: `timestamp`
    /// (timestamp[us] or int64 µs), `symbol`, `direction` (`long`/`short`), `stop_loss`,
    /// `take_profit`; optional: `order_type` (`market`/`limit`/`stop`, null = market),
    /// `entry_price` (null = market at the close; required for limit/stop), `reason`,
    /// `scenario`, `tags`. Strings may be utf8, large_utf8 or utf8_view. A missing column or a
    /// wrong type is 3001; a bad value is 1001 naming the column and the signal row.
    pub fn from_record_batch(batch: &RecordBatch) -> Result<Self> {
        let n = batch.num_rows();
        let ts = crate::data::ts_column(batch, "timestamp")?;
        let symbol = StrCol::required(batch, "symbol")?;
        let direction = StrCol::required(batch, "direction")?;
        let order_type = StrCol::optional(batch, "order_type")?;
        let entry = f64_col(batch, "entry_price", false)?;
        let sl = f64_col(batch, "stop_loss", true)?;
        let tp = f64_col(batch, "take_profit", true)?;
        let mut b = Builder::with_capacity(n);
        for i in 0..n {
            let sym = symbol
                .get(i)
                .ok_or_else(|| bad("symbol", i, "must not be null"))?;
            let dir = match direction.get(i) {
                Some("long") => Direction::Long,
                Some("short") => Direction::Short,
                Some(other) => {
                    return Err(bad(
                        "direction",
                        i,
                        &format!("unknown value {other:?} (expected long or short)"),
                    ))
                }
                None => return Err(bad("direction", i, "must not be null")),
            };
            let ot = match order_type.as_ref().and_then(|c| c.get(i)) {
                None | Some("market") => OrderType::Market,
                Some("limit") => OrderType::Limit,
                Some("stop") => OrderType::Stop,
                Some(other) => {
                    return Err(bad(
                        "order_type",
                        i,
                        &format!("unknown value {other:?} (expected market, limit or stop)"),
                    ))
                }
            };
            let e = entry
                .as_ref()
                .and_then(|c| if c.is_null(i) { None } else { Some(c.value(i)) });
            let s = sl.as_ref().map_or(
                f64::NAN,
                |c| if c.is_null(i) { f64::NAN } else { c.value(i) },
            );
            let t = tp.as_ref().map_or(
                f64::NAN,
                |c| if c.is_null(i) { f64::NAN } else { c.value(i) },
            );
            b.push(i, ts[i], sym, dir, ot, e, s, t)?;
        }
        Ok(b.finish(
            StrCol::optional(batch, "reason")?.map(StrCol::into_string_array),
            StrCol::optional(batch, "scenario")?.map(StrCol::into_string_array),
            StrCol::optional(batch, "tags")?.map(StrCol::into_string_array),
        ))
    }

    /// The table as a RecordBatch in [`SignalTable::schema`] layout (rows in input order).
    pub fn to_record_batch(&self) -> RecordBatch {
        let n = self.len();
        let null_strings = || StringArray::new_null(n);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(self.ts.clone()).with_timezone("UTC")),
            Arc::new(
                (0..n as u32)
                    .map(|r| Some(self.symbol(r)))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                (0..n)
                    .map(|r| Some(self.direction[r].as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                (0..n)
                    .map(|r| Some(self.order_type[r].as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                self.entry_price
                    .iter()
                    .map(|&e| if e.is_nan() { None } else { Some(e) })
                    .collect::<Float64Array>(),
            ),
            Arc::new(Float64Array::from(self.stop_loss.clone())),
            Arc::new(Float64Array::from(self.take_profit.clone())),
            Arc::new(self.reason.clone().unwrap_or_else(null_strings)),
            Arc::new(self.scenario.clone().unwrap_or_else(null_strings)),
            Arc::new(self.tags.clone().unwrap_or_else(null_strings)),
        ];
        RecordBatch::try_new(Self::schema(), columns)
            .unwrap_or_else(|e| unreachable!("signal schema mismatch: {e}"))
    }
}

fn bad(column: &str, row: usize, message: &str) -> LoopError {
    LoopError::param(column, format!("{message} (signal row {row})"))
}

/// Accumulates decoded rows with the value checks of SEMANTICS §1 (input errors, 1001).
struct Builder {
    t: SignalTable,
}

impl Builder {
    fn with_capacity(n: usize) -> Self {
        Builder {
            t: SignalTable {
                ts: Vec::with_capacity(n),
                symbol_idx: Vec::with_capacity(n),
                symbols: Vec::new(),
                direction: Vec::with_capacity(n),
                order_type: Vec::with_capacity(n),
                entry_price: Vec::with_capacity(n),
                stop_loss: Vec::with_capacity(n),
                take_profit: Vec::with_capacity(n),
                reason: None,
                scenario: None,
                tags: None,
                by_symbol: Vec::new(),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        row: usize,
        ts: i64,
        symbol: &str,
        direction: Direction,
        order_type: OrderType,
        entry: Option<f64>,
        sl: f64,
        tp: f64,
    ) -> Result<()> {
        if symbol.is_empty() {
            return Err(bad("symbol", row, "must not be empty"));
        }
        if row > u32::MAX as usize - 1 {
            return Err(LoopError::ResourceLimit {
                message: "a signal table holds at most 2^32 - 1 rows".into(),
            });
        }
        if let Some(e) = entry {
            if !e.is_finite() {
                return Err(bad("entry_price", row, "entry_price must be finite"));
            }
        } else if order_type.is_pending() {
            return Err(bad(
                "entry_price",
                row,
                &format!("a {} order needs an entry_price", order_type.as_str()),
            ));
        }
        if !sl.is_finite() {
            return Err(bad("stop_loss", row, "stop_loss must be finite"));
        }
        if !tp.is_finite() {
            return Err(bad("take_profit", row, "take_profit must be finite"));
        }
        let idx = match self.t.symbols.iter().position(|s| s == symbol) {
            Some(i) => i,
            None => {
                self.t.symbols.push(symbol.to_string());
                self.t.by_symbol.push(Vec::new());
                self.t.symbols.len() - 1
            }
        };
        self.t.ts.push(ts);
        self.t.symbol_idx.push(idx as u32);
        self.t.direction.push(direction);
        self.t.order_type.push(order_type);
        self.t.entry_price.push(entry.unwrap_or(f64::NAN));
        self.t.stop_loss.push(sl);
        self.t.take_profit.push(tp);
        self.t.by_symbol[idx].push(row as u32);
        Ok(())
    }

    fn finish(
        mut self,
        reason: Option<StringArray>,
        scenario: Option<StringArray>,
        tags: Option<StringArray>,
    ) -> SignalTable {
        let ts = &self.t.ts;
        for rows in &mut self.t.by_symbol {
            // Stable: signals with equal timestamps keep their table order.
            rows.sort_by_key(|&r| ts[r as usize]);
        }
        self.t.reason = reason;
        self.t.scenario = scenario;
        self.t.tags = tags;
        self.t
    }
}

/// A string column of any of Arrow's string layouts.
enum StrCol<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> StrCol<'a> {
    fn optional(batch: &'a RecordBatch, name: &str) -> Result<Option<StrCol<'a>>> {
        let Some(col) = batch.column_by_name(name) else {
            return Ok(None);
        };
        let any = col.as_any();
        if let Some(a) = any.downcast_ref::<StringArray>() {
            Ok(Some(StrCol::Utf8(a)))
        } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
            Ok(Some(StrCol::Large(a)))
        } else if let Some(a) = any.downcast_ref::<StringViewArray>() {
            Ok(Some(StrCol::View(a)))
        } else if col.data_type() == &DataType::Null {
            Ok(None)
        } else {
            Err(LoopError::schema(
                name,
                format!("expected a string column, got {}", col.data_type()),
            ))
        }
    }

    fn required(batch: &'a RecordBatch, name: &str) -> Result<StrCol<'a>> {
        Self::optional(batch, name)?.ok_or_else(|| LoopError::schema(name, "column is missing"))
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrCol::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrCol::View(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }

    fn len(&self) -> usize {
        match self {
            StrCol::Utf8(a) => a.len(),
            StrCol::Large(a) => a.len(),
            StrCol::View(a) => a.len(),
        }
    }

    /// As a utf8 array (zero-copy when it already is one).
    fn into_string_array(self) -> StringArray {
        match self {
            StrCol::Utf8(a) => a.clone(),
            other => (0..other.len()).map(|i| other.get(i)).collect(),
        }
    }
}

fn f64_col<'a>(
    batch: &'a RecordBatch,
    name: &str,
    required: bool,
) -> Result<Option<&'a Float64Array>> {
    match batch.column_by_name(name) {
        None if required => Err(LoopError::schema(name, "column is missing")),
        None => Ok(None),
        Some(col) if !required && col.data_type() == &DataType::Null => Ok(None),
        Some(col) => col
            .as_any()
            .downcast_ref::<Float64Array>()
            .map(Some)
            .ok_or_else(|| {
                LoopError::schema(name, format!("expected float64, got {}", col.data_type()))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, sym: &str, dir: Direction) -> SignalRow {
        SignalRow {
            ts,
            symbol: sym.into(),
            direction: dir,
            order_type: OrderType::Market,
            entry_price: None,
            stop_loss: if dir == Direction::Long { 1.0 } else { 1.2 },
            take_profit: if dir == Direction::Long { 1.2 } else { 1.0 },
            reason: None,
            scenario: None,
            tags: None,
        }
    }

    #[test]
    fn rows_round_trip_through_arrow_and_sort_per_symbol() {
        let mut rows = vec![
            row(30, "EURUSD", Direction::Long),
            row(10, "GBPUSD", Direction::Short),
            row(20, "EURUSD", Direction::Short),
        ];
        rows[0].reason = Some("cross".into());
        rows[2].order_type = OrderType::Limit;
        rows[2].entry_price = Some(1.1);
        let t = SignalTable::from_rows(&rows).unwrap();
        assert_eq!(t.rows_for_symbol("EURUSD"), &[2, 0]);
        assert_eq!(t.rows_for_symbol("GBPUSD"), &[1]);
        assert!(t.rows_for_symbol("USDJPY").is_empty());
        assert_eq!(t.reason(0), Some("cross"));
        assert_eq!(t.reason(1), None);
        assert_eq!(t.scenario(0), None);
        let rb = t.to_record_batch();
        assert_eq!(rb.schema(), SignalTable::schema());
        let back = SignalTable::from_record_batch(&rb).unwrap();
        for r in 0..3 {
            assert_eq!(back.row(r), rows[r as usize]);
        }
    }

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(cols).unwrap()
    }

    fn base_cols() -> Vec<(&'static str, ArrayRef)> {
        vec![
            (
                "timestamp",
                Arc::new(arrow_array::Int64Array::from(vec![1i64, 2])) as ArrayRef,
            ),
            (
                "symbol",
                Arc::new(LargeStringArray::from(vec!["EURUSD", "EURUSD"])) as ArrayRef,
            ),
            (
                "direction",
                Arc::new(StringArray::from(vec!["long", "short"])) as ArrayRef,
            ),
            (
                "stop_loss",
                Arc::new(Float64Array::from(vec![1.0, 1.3])) as ArrayRef,
            ),
            (
                "take_profit",
                Arc::new(Float64Array::from(vec![1.3, 1.0])) as ArrayRef,
            ),
        ]
    }

    #[test]
    fn minimal_columns_decode() {
        let t = SignalTable::from_record_batch(&batch(base_cols())).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.order_type(1), OrderType::Market);
        assert_eq!(t.entry_price(1), None);
        assert_eq!(t.direction(1), Direction::Short);
    }

    #[test]
    fn schema_violations_3001_name_the_column() {
        let mut cols = base_cols();
        cols.remove(3);
        let e = SignalTable::from_record_batch(&batch(cols)).unwrap_err();
        assert_eq!(e.code().code, 3001);
        assert!(e.to_string().contains("stop_loss"), "{e}");
        let mut cols = base_cols();
        cols[2].1 = Arc::new(Float64Array::from(vec![1.0, 2.0]));
        let e = SignalTable::from_record_batch(&batch(cols)).unwrap_err();
        assert_eq!(e.code().code, 3001);
        assert!(e.to_string().contains("direction"), "{e}");
    }

    #[test]
    fn bad_values_1001_name_the_row() {
        let mut cols = base_cols();
        cols[2].1 = Arc::new(StringArray::from(vec!["long", "up"]));
        let e = SignalTable::from_record_batch(&batch(cols)).unwrap_err();
        assert_eq!(e.code().code, 1001);
        assert!(e.to_string().contains("signal row 1"), "{e}");
        let mut cols = base_cols();
        cols[3].1 = Arc::new(Float64Array::from(vec![Some(1.0), None]));
        let e = SignalTable::from_record_batch(&batch(cols)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[1001] INVALID_PARAMETER: stop_loss: stop_loss must be finite (signal row 1)"
        );
        let mut cols = base_cols();
        cols.push((
            "order_type",
            Arc::new(StringArray::from(vec![Some("stop"), None])),
        ));
        let e = SignalTable::from_record_batch(&batch(cols)).unwrap_err();
        assert_eq!(e.code().code, 1001);
        assert!(
            e.to_string()
                .contains("needs an entry_price (signal row 0)"),
            "{e}"
        );
        let mut r = row(1, "X", Direction::Long);
        r.take_profit = f64::INFINITY;
        assert_eq!(SignalTable::from_rows(&[r]).unwrap_err().code().code, 1001);
    }
}
