//! Result tables (DESIGN §4): the Arrow schemas of `summary`, `trades` and `equity`, declared once
//! here as column tables (name, type, nullability, documentation), and the builders the runner
//! appends finished runs to.
//!
//! ## Columns
//!
//! Every table starts with `config_index` (u64: position of the config in the batch) and
//! `config_id` (utf8: 16 lower-case hex digits of the config's stable 64-bit hash, see
//! `RunConfig::config_id`). Times are `timestamp[us, tz=UTC]`. Money is in the account currency at
//! full `f64` precision.
//!
//! * `summary` — one row per config, in config order: [`SUMMARY_KEY_COLUMNS`], then one nullable
//!   `f64` column per strategy/config parameter (the union over the batch's configs, in order of
//!   first appearance; a config without that parameter has null; a parameter whose name clashes
//!   with a fixed column is renamed `param_<name>`), then the metrics ([`Metrics::F64_COLUMNS`]
//!   then [`Metrics::U64_COLUMNS`], all nullable: null on a failed config), then
//!   [`SUMMARY_ERROR_COLUMNS`] (`error_code` int32 and `error` utf8, null on success).
//! * `trades` — one row per closed position, configs in order, trades in closing order:
//!   [`TRADES_COLUMNS`].
//! * `equity` — one row per config and bar in `[start, end]`: [`EQUITY_COLUMNS`].
//!
//! [`schemas`] lists every Arrow schema that crosses the Rust/Python boundary (inputs and
//! results), for the schema fingerprint test.

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, StringBuilder, TimestampMicrosecondBuilder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use omega_exec_core::ClosedPosition;

use crate::error::{LoopError, Result};
use crate::metrics::Metrics;
use crate::signals::SignalTable;

/// The Arrow type of a declared column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    UInt64,
    Int32,
    Float64,
    Utf8,
    Boolean,
    /// `timestamp[us, tz=UTC]`
    TimestampUs,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::TimestampUs => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        }
    }
}

/// One documented column of a result table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::{Boolean, Float64, Int32, TimestampUs, UInt64, Utf8};

/// The identifying columns every summary row starts with.
pub const SUMMARY_KEY_COLUMNS: &[ColumnSpec] = &[
    col(
        "config_index",
        UInt64,
        false,
        "position of the config in the batch (0-based)",
    ),
    col(
        "config_id",
        Utf8,
        false,
        "stable config hash, 16 lower-case hex digits",
    ),
    col("symbol", Utf8, false, "symbol the config ran on"),
    col("strategy", Utf8, false, "strategy name"),
    col("variant", Utf8, false, "execution variant: v2 or v1_parity"),
];

/// The columns every summary row ends with.
pub const SUMMARY_ERROR_COLUMNS: &[ColumnSpec] = &[
    col(
        "error_code",
        Int32,
        true,
        "error code of a failed config (null on success)",
    ),
    col(
        "error",
        Utf8,
        true,
        "error message of a failed config, `[NNNN] NAME: ...` (null on success)",
    ),
];

/// The trades table.
pub const TRADES_COLUMNS: &[ColumnSpec] = &[
    col("config_index", UInt64, false, "position of the config in the batch"),
    col("config_id", Utf8, false, "stable config hash, 16 hex digits"),
    col("symbol", Utf8, false, "symbol"),
    col("direction", Utf8, false, "long or short"),
    col("order_type", Utf8, false, "market, limit or stop"),
    col("placement_time", TimestampUs, false, "signal bar (placement of a pending order)"),
    col("entry_time", TimestampUs, false, "signal bar for market orders, trigger bar for pending"),
    col("trigger_time", TimestampUs, true, "bar or tick where the order filled"),
    col("exit_time", TimestampUs, false, "bar or tick of the exit"),
    col("entry_price", Float64, false, "fill price, slippage included"),
    col("exit_price", Float64, false, "exit price, slippage included"),
    col("lots", Float64, false, "size in lots"),
    col("initial_stop_loss", Float64, false, "stop loss at the fill"),
    col("initial_take_profit", Float64, false, "take profit at the fill"),
    col("stop_loss", Float64, false, "stop loss at the exit"),
    col("take_profit", Float64, false, "take profit at the exit"),
    col("reason", Utf8, false, "stop_loss, take_profit, break_even_stop_loss, trailing_stop, timeout, end_of_data or signal_exit"),
    col("gross_pnl", Float64, false, "(exit - entry) * dir * lots * value_per_price"),
    col("fees", Float64, false, "entry_fee + exit_fee"),
    col("entry_fee", Float64, false, "commission booked at entry"),
    col("exit_fee", Float64, false, "commission booked at exit"),
    col("swap", Float64, false, "financing booked while held"),
    col("net_pnl", Float64, false, "gross_pnl - fees (+ swap)"),
    col("r_multiple", Float64, false, "(exit - entry) * dir / |entry - initial_stop_loss|"),
    col("in_entry_candle", Boolean, false, "exited in the bar where the pending order triggered"),
    col("ambiguous", Boolean, false, "SL and TP were both inside the exit bar's range"),
    col("signal_reason", Utf8, true, "reason of the signal (signals strategy)"),
    col("signal_scenario", Utf8, true, "scenario of the signal (signals strategy)"),
    col("signal_tags", Utf8, true, "tags of the signal (signals strategy)"),
];

/// The equity table.
pub const EQUITY_COLUMNS: &[ColumnSpec] = &[
    col(
        "config_index",
        UInt64,
        false,
        "position of the config in the batch",
    ),
    col(
        "config_id",
        Utf8,
        false,
        "stable config hash, 16 hex digits",
    ),
    col("timestamp", TimestampUs, false, "bar open time"),
    col("balance", Float64, false, "realized balance after the bar"),
    col(
        "equity",
        Float64,
        false,
        "balance + unrealized PnL at the bar close",
    ),
];

fn field(c: &ColumnSpec) -> Field {
    Field::new(c.name, c.ty.data_type(), c.nullable)
}

fn schema_of(cols: &[ColumnSpec]) -> SchemaRef {
    Arc::new(Schema::new(cols.iter().map(field).collect::<Vec<_>>()))
}

/// Schema of the trades table.
pub fn trades_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| schema_of(TRADES_COLUMNS)).clone()
}

/// Schema of the equity table.
pub fn equity_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| schema_of(EQUITY_COLUMNS)).clone()
}

/// Is `name` one of the summary's fixed column names?
fn is_fixed_summary_column(name: &str) -> bool {
    SUMMARY_KEY_COLUMNS
        .iter()
        .chain(SUMMARY_ERROR_COLUMNS)
        .any(|c| c.name == name)
        || Metrics::F64_COLUMNS.iter().any(|c| c.0 == name)
        || Metrics::U64_COLUMNS.iter().any(|c| c.0 == name)
}

/// The column name a parameter gets in the summary (`param_<name>` on a clash with a fixed column).
pub fn param_column_name(name: &str) -> String {
    if is_fixed_summary_column(name) {
        format!("param_{name}")
    } else {
        name.to_string()
    }
}

/// Schema of the summary table for the given parameter names (in column order, as the config
/// reports them; clashing names are renamed by [`param_column_name`]).
pub fn summary_schema(param_names: &[String]) -> SchemaRef {
    let mut fields: Vec<Field> = SUMMARY_KEY_COLUMNS.iter().map(field).collect();
    fields.extend(
        param_names
            .iter()
            .map(|p| Field::new(param_column_name(p), DataType::Float64, true)),
    );
    fields.extend(
        Metrics::F64_COLUMNS
            .iter()
            .map(|c| Field::new(c.0, DataType::Float64, true)),
    );
    fields.extend(
        Metrics::U64_COLUMNS
            .iter()
            .map(|c| Field::new(c.0, DataType::UInt64, true)),
    );
    fields.extend(SUMMARY_ERROR_COLUMNS.iter().map(field));
    Arc::new(Schema::new(fields))
}

/// Every Arrow schema that crosses the Rust/Python boundary, by name, in a fixed order: the inputs
/// (`bars`, `ticks`, `signals`) and the results (`summary` without parameter columns, `trades`,
/// `equity`). The schema fingerprint test hashes this list.
pub fn schemas() -> Vec<(&'static str, SchemaRef)> {
    vec![
        ("bars", crate::data::bars_schema()),
        ("ticks", crate::data::ticks_schema()),
        ("signals", SignalTable::schema()),
        ("summary", summary_schema(&[])),
        ("trades", trades_schema()),
        ("equity", equity_schema()),
    ]
}

/// `(table, column, documentation)` for every fixed column of the result tables, in column order
/// (the summary's parameter columns, which depend on the batch, are described by one entry named
/// `<param>`). The README's column reference is generated from this.
pub fn column_docs() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str, &'static str)> = Vec::new();
    out.extend(
        SUMMARY_KEY_COLUMNS
            .iter()
            .map(|c| ("summary", c.name, c.doc)),
    );
    out.push((
        "summary",
        "<param>",
        "one nullable f64 column per numeric strategy parameter (union over the batch, order of first appearance)",
    ));
    out.extend(Metrics::F64_COLUMNS.iter().map(|c| ("summary", c.0, c.1)));
    out.extend(Metrics::U64_COLUMNS.iter().map(|c| ("summary", c.0, c.1)));
    out.extend(
        SUMMARY_ERROR_COLUMNS
            .iter()
            .map(|c| ("summary", c.name, c.doc)),
    );
    out.extend(TRADES_COLUMNS.iter().map(|c| ("trades", c.name, c.doc)));
    out.extend(EQUITY_COLUMNS.iter().map(|c| ("equity", c.name, c.doc)));
    out
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, columns).map_err(|e| LoopError::Internal {
        message: format!("result batch does not match its schema: {e}"),
    })
}

/// What identifies a config in the result tables.
#[derive(Clone, Copy, Debug)]
pub struct ConfigKey<'a> {
    pub index: u64,
    /// 16 lower-case hex digits.
    pub config_id: &'a str,
    pub symbol: &'a str,
    pub strategy: &'a str,
    pub variant: &'a str,
}

/// Builds the summary table row by row.
pub struct SummaryBuilder {
    param_names: Vec<String>,
    config_index: UInt64Builder,
    config_id: StringBuilder,
    symbol: StringBuilder,
    strategy: StringBuilder,
    variant: StringBuilder,
    params: Vec<Float64Builder>,
    /// Per-row parameter values by column, reused between rows.
    param_row: Vec<Option<f64>>,
    f64s: Vec<Float64Builder>,
    u64s: Vec<UInt64Builder>,
    error_code: Int32Builder,
    error: StringBuilder,
    rows: usize,
    capacity: usize,
}

impl SummaryBuilder {
    /// An empty builder; parameter columns are added as configs bring new parameter names (in
    /// order of first appearance; earlier rows get null there).
    pub fn new(capacity: usize) -> Self {
        SummaryBuilder {
            param_names: Vec::new(),
            config_index: UInt64Builder::with_capacity(capacity),
            config_id: StringBuilder::with_capacity(capacity, capacity * 16),
            symbol: StringBuilder::with_capacity(capacity, capacity * 8),
            strategy: StringBuilder::with_capacity(capacity, capacity * 12),
            variant: StringBuilder::with_capacity(capacity, capacity * 2),
            params: Vec::new(),
            param_row: Vec::new(),
            f64s: Metrics::F64_COLUMNS
                .iter()
                .map(|_| Float64Builder::with_capacity(capacity))
                .collect(),
            u64s: Metrics::U64_COLUMNS
                .iter()
                .map(|_| UInt64Builder::with_capacity(capacity))
                .collect(),
            error_code: Int32Builder::with_capacity(capacity),
            error: StringBuilder::new(),
            rows: 0,
            capacity,
        }
    }

    /// The parameter columns so far, in order.
    pub fn param_names(&self) -> &[String] {
        &self.param_names
    }

    /// The schema the finished batch will have (with the parameter columns seen so far).
    pub fn schema(&self) -> SchemaRef {
        summary_schema(&self.param_names)
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn append_key(&mut self, key: &ConfigKey<'_>, params: &[(String, f64)]) {
        self.config_index.append_value(key.index);
        self.config_id.append_value(key.config_id);
        self.symbol.append_value(key.symbol);
        self.strategy.append_value(key.strategy);
        self.variant.append_value(key.variant);
        self.param_row.iter_mut().for_each(|v| *v = None);
        for (name, v) in params {
            // Parameter lists are short (a handful), so a linear scan beats hashing.
            let i = match self.param_names.iter().position(|p| p == name) {
                Some(i) => i,
                None => {
                    let mut b = Float64Builder::with_capacity(self.capacity);
                    b.append_nulls(self.rows);
                    self.params.push(b);
                    self.param_names.push(name.clone());
                    self.param_row.push(None);
                    self.param_names.len() - 1
                }
            };
            // NaN marks an absent optional parameter: null in the table.
            self.param_row[i] = (!v.is_nan()).then_some(*v);
        }
        for (b, v) in self.params.iter_mut().zip(&self.param_row) {
            b.append_option(*v);
        }
        self.rows += 1;
    }

    /// A successful run.
    pub fn append_ok(&mut self, key: &ConfigKey<'_>, params: &[(String, f64)], m: &Metrics) {
        self.append_key(key, params);
        for (b, c) in self.f64s.iter_mut().zip(Metrics::F64_COLUMNS) {
            b.append_value((c.2)(m));
        }
        for (b, c) in self.u64s.iter_mut().zip(Metrics::U64_COLUMNS) {
            b.append_value((c.2)(m));
        }
        self.error_code.append_null();
        self.error.append_null();
    }

    /// A failed run: metrics null, `error_code`/`error` set.
    pub fn append_err(&mut self, key: &ConfigKey<'_>, params: &[(String, f64)], err: &LoopError) {
        self.append_key(key, params);
        self.f64s.iter_mut().for_each(|b| b.append_null());
        self.u64s.iter_mut().for_each(|b| b.append_null());
        self.error_code.append_value(i32::from(err.code().code));
        self.error.append_value(err.to_string());
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.config_index.finish()),
            Arc::new(self.config_id.finish()),
            Arc::new(self.symbol.finish()),
            Arc::new(self.strategy.finish()),
            Arc::new(self.variant.finish()),
        ];
        cols.extend(
            self.params
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.extend(
            self.f64s
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.extend(
            self.u64s
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.push(Arc::new(self.error_code.finish()));
        cols.push(Arc::new(self.error.finish()));
        batch(summary_schema(&self.param_names), cols)
    }
}

fn ts_builder(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

/// Declares a result-table builder from one list of columns, in the table's column order (the
/// order of its `*_COLUMNS` declaration): the struct with one Arrow builder per column, `new`
/// (each builder from its expression, with `$cap` the row capacity), `Default`, `len`,
/// `is_empty` and `finish`, which hands the columns over in the listed order.
macro_rules! table_builder {
    (
        $(#[$meta:meta])*
        $name:ident => $schema:ident, |$cap:ident| { $($col:ident: $ty:ty = $init:expr,)* }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($col: $ty,)*
            rows: usize,
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }

        impl $name {
            pub fn new($cap: usize) -> Self {
                $name {
                    $($col: $init,)*
                    rows: 0,
                }
            }

            pub fn len(&self) -> usize {
                self.rows
            }

            pub fn is_empty(&self) -> bool {
                self.rows == 0
            }

            pub fn finish(mut self) -> Result<RecordBatch> {
                let cols: Vec<ArrayRef> = vec![$(Arc::new(self.$col.finish()),)*];
                batch($schema(), cols)
            }
        }
    };
}

fn str_builder(capacity: usize, bytes_per_row: usize) -> StringBuilder {
    StringBuilder::with_capacity(capacity, capacity * bytes_per_row)
}

table_builder! {
    /// Builds the trades table from whole runs.
    TradesBuilder => trades_schema, |cap| {
        // Same order as TRADES_COLUMNS (a unit test checks every column by name).
        config_index: UInt64Builder = UInt64Builder::with_capacity(cap),
        config_id: StringBuilder = str_builder(cap, 16),
        symbol: StringBuilder = str_builder(cap, 8),
        direction: StringBuilder = str_builder(cap, 8),
        order_type: StringBuilder = str_builder(cap, 8),
        placement_time: TimestampMicrosecondBuilder = ts_builder(cap),
        entry_time: TimestampMicrosecondBuilder = ts_builder(cap),
        trigger_time: TimestampMicrosecondBuilder = ts_builder(cap),
        exit_time: TimestampMicrosecondBuilder = ts_builder(cap),
        entry_price: Float64Builder = Float64Builder::with_capacity(cap),
        exit_price: Float64Builder = Float64Builder::with_capacity(cap),
        lots: Float64Builder = Float64Builder::with_capacity(cap),
        initial_stop_loss: Float64Builder = Float64Builder::with_capacity(cap),
        initial_take_profit: Float64Builder = Float64Builder::with_capacity(cap),
        stop_loss: Float64Builder = Float64Builder::with_capacity(cap),
        take_profit: Float64Builder = Float64Builder::with_capacity(cap),
        reason: StringBuilder = str_builder(cap, 8),
        gross_pnl: Float64Builder = Float64Builder::with_capacity(cap),
        fees: Float64Builder = Float64Builder::with_capacity(cap),
        entry_fee: Float64Builder = Float64Builder::with_capacity(cap),
        exit_fee: Float64Builder = Float64Builder::with_capacity(cap),
        swap: Float64Builder = Float64Builder::with_capacity(cap),
        net_pnl: Float64Builder = Float64Builder::with_capacity(cap),
        r_multiple: Float64Builder = Float64Builder::with_capacity(cap),
        in_entry_candle: BooleanBuilder = BooleanBuilder::with_capacity(cap),
        ambiguous: BooleanBuilder = BooleanBuilder::with_capacity(cap),
        signal_reason: StringBuilder = StringBuilder::new(),
        signal_scenario: StringBuilder = StringBuilder::new(),
        signal_tags: StringBuilder = StringBuilder::new(),
    }
}

impl TradesBuilder {
    /// Appends one run's trades. `meta` resolves `ClosedPosition::meta` to the signal's
    /// reason/scenario/tags (the `signals` strategy); without it those columns are null.
    pub fn append_run(
        &mut self,
        index: u64,
        config_id: &str,
        symbol: &str,
        trades: &[ClosedPosition],
        meta: Option<&SignalTable>,
    ) {
        for t in trades {
            self.config_index.append_value(index);
            self.config_id.append_value(config_id);
            self.symbol.append_value(symbol);
            self.direction.append_value(t.direction.as_str());
            self.order_type.append_value(t.order_type.as_str());
            self.placement_time.append_value(t.placement_time);
            self.entry_time.append_value(t.entry_time);
            self.trigger_time.append_option(t.trigger_time);
            self.exit_time.append_value(t.exit_time);
            self.entry_price.append_value(t.entry_price);
            self.exit_price.append_value(t.exit_price);
            self.lots.append_value(t.lots);
            self.initial_stop_loss.append_value(t.initial_stop_loss);
            self.initial_take_profit.append_value(t.initial_take_profit);
            self.stop_loss.append_value(t.stop_loss);
            self.take_profit.append_value(t.take_profit);
            self.reason.append_value(t.reason.as_str());
            self.gross_pnl.append_value(t.gross_pnl);
            self.fees.append_value(t.entry_fee + t.exit_fee);
            self.entry_fee.append_value(t.entry_fee);
            self.exit_fee.append_value(t.exit_fee);
            self.swap.append_value(t.swap);
            self.net_pnl.append_value(t.net_pnl);
            self.r_multiple.append_value(t.r_multiple);
            self.in_entry_candle.append_value(t.in_entry_candle);
            self.ambiguous.append_value(t.ambiguous);
            self.signal_reason
                .append_option(meta.and_then(|m| m.reason(t.meta)));
            self.signal_scenario
                .append_option(meta.and_then(|m| m.scenario(t.meta)));
            self.signal_tags
                .append_option(meta.and_then(|m| m.tags(t.meta)));
        }
        self.rows += trades.len();
    }
}

table_builder! {
    /// Builds the equity table from whole runs.
    EquityBuilder => equity_schema, |cap| {
        // Same order as EQUITY_COLUMNS.
        config_index: UInt64Builder = UInt64Builder::with_capacity(cap),
        config_id: StringBuilder = str_builder(cap, 16),
        timestamp: TimestampMicrosecondBuilder = ts_builder(cap),
        balance: Float64Builder = Float64Builder::with_capacity(cap),
        equity: Float64Builder = Float64Builder::with_capacity(cap),
    }
}

impl EquityBuilder {
    /// Appends one run's equity series (three equally long slices; 5001 otherwise).
    pub fn append_run(
        &mut self,
        index: u64,
        config_id: &str,
        ts: &[i64],
        balance: &[f64],
        equity: &[f64],
    ) -> Result<()> {
        let n = ts.len();
        if balance.len() != n || equity.len() != n {
            return Err(LoopError::Internal {
                message: format!(
                    "equity series of config {index}: {n} timestamps, {} balances, {} equities",
                    balance.len(),
                    equity.len()
                ),
            });
        }
        self.config_index.append_value_n(index, n);
        for _ in 0..n {
            self.config_id.append_value(config_id);
        }
        self.timestamp.append_slice(ts);
        self.balance.append_slice(balance);
        self.equity.append_slice(equity);
        self.rows += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, TimestampMicrosecondType, UInt64Type};
    use arrow_array::Array;
    use omega_exec_core::{Direction, ExitReason, OrderType};

    type Getter = fn(&ClosedPosition) -> f64;

    fn trade(i: u32) -> ClosedPosition {
        let f = f64::from(i);
        let even = i.is_multiple_of(2);
        ClosedPosition {
            id: u64::from(i),
            symbol: 0,
            direction: if even {
                Direction::Long
            } else {
                Direction::Short
            },
            order_type: if even {
                OrderType::Market
            } else {
                OrderType::Limit
            },
            placement_time: 1_000 + i64::from(i),
            entry_time: 2_000 + i64::from(i),
            trigger_time: if even { None } else { Some(3_000) },
            exit_time: 4_000 + i64::from(i),
            entry_price: 1.1 + f,
            exit_price: 1.2 + f,
            lots: 0.5 + f,
            initial_stop_loss: 1.0 + f,
            initial_take_profit: 1.3 + f,
            stop_loss: 1.05 + f,
            take_profit: 1.35 + f,
            reason: ExitReason::TrailingStop,
            entry_fee: 1.5,
            exit_fee: 2.25,
            swap: -0.5,
            gross_pnl: 10.0 + f,
            net_pnl: 5.75 + f,
            r_multiple: 0.25 + f,
            in_entry_candle: !even,
            ambiguous: even,
            meta: i,
        }
    }

    fn f64_col(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        let a = b
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i)))
            .collect()
    }

    fn str_col(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let a = b.column_by_name(name).unwrap().as_string::<i32>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
            .collect()
    }

    fn ts_col(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
        let a = b
            .column_by_name(name)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i)))
            .collect()
    }

    #[test]
    fn trades_columns_carry_the_right_fields() {
        let mut b = TradesBuilder::new(1);
        b.append_run(7, "00000000000000ab", "EURUSD", &[trade(0), trade(1)], None);
        b.append_run(9, "00000000000000cd", "GBPUSD", &[], None);
        assert_eq!(b.len(), 2);
        let t = b.finish().unwrap();
        assert_eq!(t.schema(), trades_schema());
        assert_eq!(t.num_rows(), 2);
        let idx = t
            .column_by_name("config_index")
            .unwrap()
            .as_primitive::<UInt64Type>();
        assert_eq!(idx.values().to_vec(), vec![7, 7]);
        assert_eq!(
            str_col(&t, "config_id")[1].as_deref(),
            Some("00000000000000ab")
        );
        assert_eq!(str_col(&t, "symbol")[0].as_deref(), Some("EURUSD"));
        assert_eq!(
            str_col(&t, "direction"),
            vec![Some("long".into()), Some("short".into())]
        );
        assert_eq!(
            str_col(&t, "order_type"),
            vec![Some("market".into()), Some("limit".into())]
        );
        assert_eq!(str_col(&t, "reason")[0].as_deref(), Some("trailing_stop"));
        assert_eq!(ts_col(&t, "placement_time"), vec![Some(1_000), Some(1_001)]);
        assert_eq!(ts_col(&t, "entry_time"), vec![Some(2_000), Some(2_001)]);
        assert_eq!(ts_col(&t, "trigger_time"), vec![None, Some(3_000)]);
        assert_eq!(ts_col(&t, "exit_time"), vec![Some(4_000), Some(4_001)]);
        let expect: &[(&str, Getter)] = &[
            ("entry_price", |t| t.entry_price),
            ("exit_price", |t| t.exit_price),
            ("lots", |t| t.lots),
            ("initial_stop_loss", |t| t.initial_stop_loss),
            ("initial_take_profit", |t| t.initial_take_profit),
            ("stop_loss", |t| t.stop_loss),
            ("take_profit", |t| t.take_profit),
            ("gross_pnl", |t| t.gross_pnl),
            ("fees", |t| t.entry_fee + t.exit_fee),
            ("entry_fee", |t| t.entry_fee),
            ("exit_fee", |t| t.exit_fee),
            ("swap", |t| t.swap),
            ("net_pnl", |t| t.net_pnl),
            ("r_multiple", |t| t.r_multiple),
        ];
        for (name, get) in expect {
            assert_eq!(
                f64_col(&t, name),
                vec![Some(get(&trade(0))), Some(get(&trade(1)))],
                "{name}"
            );
        }
        let b = t.column_by_name("in_entry_candle").unwrap().as_boolean();
        assert!(!b.value(0) && b.value(1));
        let b = t.column_by_name("ambiguous").unwrap().as_boolean();
        assert!(b.value(0) && !b.value(1));
        assert_eq!(str_col(&t, "signal_reason"), vec![None, None]);
        // Timestamps carry the UTC zone.
        assert_eq!(
            t.schema().field_with_name("exit_time").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn summary_rows_ok_and_failed() {
        let mut b = SummaryBuilder::new(2);
        let key = |i| ConfigKey {
            index: i,
            config_id: "0123456789abcdef",
            symbol: "EURUSD",
            strategy: "sma_cross",
            variant: "v2",
        };
        let m = crate::metrics::MetricsAccumulator::new(100.0).finish_with(&Default::default());
        b.append_ok(&key(0), &[("fast".into(), 5.0), ("slow".into(), 20.0)], &m);
        let err = LoopError::Panic {
            index: 1,
            message: "boom".into(),
        };
        b.append_err(
            &key(1),
            &[("fast".into(), 6.0), ("trades".into(), f64::NAN)],
            &err,
        );
        b.append_ok(&key(2), &[("trades".into(), 3.0), ("fast".into(), 7.0)], &m);
        assert_eq!(b.param_names(), ["fast", "slow", "trades"]);
        let s = b.finish().unwrap();
        let names: Vec<_> = s
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            &names[..8],
            [
                "config_index",
                "config_id",
                "symbol",
                "strategy",
                "variant",
                "fast",
                "slow",
                "param_trades"
            ]
        );
        assert_eq!(names[names.len() - 2..], ["error_code", "error"]);
        assert_eq!(f64_col(&s, "fast"), vec![Some(5.0), Some(6.0), Some(7.0)]);
        assert_eq!(f64_col(&s, "slow"), vec![Some(20.0), None, None]);
        // Added at row 1 (backfilled null at row 0); NaN is null.
        assert_eq!(f64_col(&s, "param_trades"), vec![None, None, Some(3.0)]);
        assert_eq!(
            f64_col(&s, "initial_balance"),
            vec![Some(100.0), None, Some(100.0)]
        );
        let trades = s
            .column_by_name("trades")
            .unwrap()
            .as_primitive::<UInt64Type>();
        assert!(trades.is_valid(0) && trades.is_null(1) && trades.is_valid(2));
        let code = s
            .column_by_name("error_code")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert!(code.is_null(0));
        assert_eq!(code.value(1), 5005);
        assert_eq!(
            str_col(&s, "error")[1].as_deref(),
            Some("[5005] FFI_PANIC_CAUGHT: config 1: boom")
        );
        assert_eq!(
            s.schema(),
            summary_schema(&["fast".into(), "slow".into(), "trades".into()])
        );
    }

    #[test]
    fn equity_rows_and_length_check() {
        let mut b = EquityBuilder::new(0);
        b.append_run(3, "00000000000000aa", &[10, 20], &[1.0, 2.0], &[1.5, 2.5])
            .unwrap();
        let e = b
            .append_run(4, "00000000000000bb", &[10], &[1.0, 2.0], &[1.5])
            .unwrap_err();
        assert_eq!(e.code().code, 5001);
        let t = b.finish().unwrap();
        assert_eq!(t.num_rows(), 2);
        assert_eq!(ts_col(&t, "timestamp"), vec![Some(10), Some(20)]);
        assert_eq!(f64_col(&t, "balance"), vec![Some(1.0), Some(2.0)]);
        assert_eq!(f64_col(&t, "equity"), vec![Some(1.5), Some(2.5)]);
        assert_eq!(
            str_col(&t, "config_id")[1].as_deref(),
            Some("00000000000000aa")
        );
    }

    #[test]
    fn column_names_are_unique_and_documented() {
        for (name, schema) in schemas() {
            let mut seen = std::collections::HashSet::new();
            for f in schema.fields() {
                assert!(
                    seen.insert(f.name().clone()),
                    "{name}: duplicate column {}",
                    f.name()
                );
            }
        }
        for c in TRADES_COLUMNS
            .iter()
            .chain(EQUITY_COLUMNS)
            .chain(SUMMARY_KEY_COLUMNS)
            .chain(SUMMARY_ERROR_COLUMNS)
        {
            assert!(!c.doc.is_empty(), "{} undocumented", c.name);
        }
        let docs = column_docs();
        for (table, schema) in schemas() {
            if !["summary", "trades", "equity"].contains(&table) {
                continue;
            }
            for f in schema.fields() {
                assert!(
                    docs.iter()
                        .any(|d| d.0 == table && d.1 == f.name() && !d.2.is_empty()),
                    "{table}.{} undocumented",
                    f.name()
                );
            }
        }
        let names: Vec<_> = schemas().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["bars", "ticks", "signals", "summary", "trades", "equity"]
        );
    }
}
