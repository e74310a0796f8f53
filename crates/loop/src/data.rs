//! Market data: bars and ticks as struct-of-arrays on Arrow buffers, and the [`DataSet`] a run
//! reads from.
//!
//! Columns are `arrow_buffer::ScalarBuffer`s: built zero-copy from Arrow arrays (the buffer is
//! reference-counted, not copied) or from `Vec`s (the allocation is taken over). Construction
//! validates everything once so the bar loop can trust the data: prices finite (2001) and
//! positive (2002), timestamps strictly increasing (2003 decreasing, 2004 equal), OHLC consistent
//! (2005), sides aligned (2006), one-sided data only with an explicit spread (2007), not empty
//! (2008). Errors name the column and the row.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use omega_exec_core::codes;
use omega_exec_core::{Candle, CandleColumns, Tick};

use crate::error::{LoopError, Result};
use crate::signals::SignalTable;

/// Column names of the bid and ask OHLC columns, in schema order.
pub const BID_COLUMNS: [&str; 4] = ["bid_open", "bid_high", "bid_low", "bid_close"];
pub const ASK_COLUMNS: [&str; 4] = ["ask_open", "ask_high", "ask_low", "ask_close"];

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Schema of a bars table: `timestamp` (timestamp[us, UTC], bar open time), `bid_open`,
/// `bid_high`, `bid_low`, `bid_close`, `ask_open`, `ask_high`, `ask_low`, `ask_close` (f64), and
/// `volume` (f64, nullable).
pub fn bars_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut fields = vec![Field::new("timestamp", ts_type(), false)];
        for c in BID_COLUMNS.iter().chain(ASK_COLUMNS.iter()) {
            fields.push(Field::new(*c, DataType::Float64, false));
        }
        fields.push(Field::new("volume", DataType::Float64, true));
        Arc::new(Schema::new(fields))
    })
    .clone()
}

/// Schema of a ticks table: `timestamp` (timestamp[us, UTC]), `bid`, `ask` (f64).
pub fn ticks_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("timestamp", ts_type(), false),
            Field::new("bid", DataType::Float64, false),
            Field::new("ask", DataType::Float64, false),
        ]))
    })
    .clone()
}

/// Bars of one symbol: bid and ask OHLC on one timestamp axis (µs UTC, bar open times).
#[derive(Clone, Debug)]
pub struct Bars {
    symbol: String,
    ts: ScalarBuffer<i64>,
    bid: [ScalarBuffer<f64>; 4],
    ask: [ScalarBuffer<f64>; 4],
    volume: Option<ScalarBuffer<f64>>,
    /// True when the ask side was derived from the bid side with a fixed spread.
    derived_ask: bool,
}

fn check_len(column: &str, len: usize, expected: usize) -> Result<()> {
    if len != expected {
        return Err(LoopError::data(
            codes::BID_ASK_MISMATCH,
            column,
            None,
            format!("has {len} rows, the timestamp column has {expected}"),
        ));
    }
    Ok(())
}

/// 2008 for a table without rows (`what`: "bars" or "ticks").
fn check_not_empty(what: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(LoopError::data(
            codes::EMPTY_DATA,
            "timestamp",
            None,
            format!("{what} hold no rows"),
        ));
    }
    Ok(())
}

/// [`check_prices`] over the four price columns of one side.
fn check_side_prices(names: [&str; 4], cols: &[ScalarBuffer<f64>; 4]) -> Result<()> {
    cols.iter()
        .zip(names)
        .try_for_each(|(c, name)| check_prices(name, c))
}

fn check_prices(column: &str, values: &[f64]) -> Result<()> {
    for (row, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(LoopError::data(
                codes::NON_FINITE_PRICE,
                column,
                Some(row),
                format!("price {v} is not finite"),
            ));
        }
        if v <= 0.0 {
            return Err(LoopError::data(
                codes::NON_POSITIVE_PRICE,
                column,
                Some(row),
                format!("price {v} is not positive"),
            ));
        }
    }
    Ok(())
}

fn check_timestamps(column: &str, ts: &[i64]) -> Result<()> {
    for row in 1..ts.len() {
        let (a, b) = (ts[row - 1], ts[row]);
        if b < a {
            return Err(LoopError::data(
                codes::UNSORTED_TIMESTAMPS,
                column,
                Some(row),
                format!("timestamp {b} is before the previous one ({a})"),
            ));
        }
        if b == a {
            return Err(LoopError::data(
                codes::DUPLICATE_TIMESTAMP,
                column,
                Some(row),
                format!("timestamp {b} repeats the previous row"),
            ));
        }
    }
    Ok(())
}

fn check_ohlc(side: &str, cols: &[ScalarBuffer<f64>; 4]) -> Result<()> {
    let (o, h, l, c) = (&cols[0], &cols[1], &cols[2], &cols[3]);
    for row in 0..o.len() {
        if h[row] < o[row].max(c[row]) {
            return Err(LoopError::data(
                codes::OHLC_INCONSISTENT,
                format!("{side}_high"),
                Some(row),
                format!(
                    "high {} is below max(open {}, close {})",
                    h[row], o[row], c[row]
                ),
            ));
        }
        if l[row] > o[row].min(c[row]) {
            return Err(LoopError::data(
                codes::OHLC_INCONSISTENT,
                format!("{side}_low"),
                Some(row),
                format!(
                    "low {} is above min(open {}, close {})",
                    l[row], o[row], c[row]
                ),
            ));
        }
    }
    Ok(())
}

/// Validates `spread_pips`/`pip_size` for deriving a missing side and returns the price offset.
fn derive_offset(what: &str, spread_pips: Option<f64>, pip_size: Option<f64>) -> Result<f64> {
    let (Some(spread), Some(pip)) = (spread_pips, pip_size) else {
        return Err(LoopError::data(
            codes::MISSING_SIDE,
            what,
            None,
            "one-sided data needs an explicit spread_pips (and pip_size) to derive the other side",
        ));
    };
    if !spread.is_finite() || spread < 0.0 {
        return Err(LoopError::param(
            "spread_pips",
            format!("must be finite and >= 0, got {spread}"),
        ));
    }
    if !pip.is_finite() || pip <= 0.0 {
        return Err(LoopError::param(
            "pip_size",
            format!("must be finite and > 0, got {pip}"),
        ));
    }
    Ok(spread * pip)
}

fn shifted(col: &ScalarBuffer<f64>, offset: f64) -> ScalarBuffer<f64> {
    col.iter().map(|v| v + offset).collect::<Vec<f64>>().into()
}

impl Bars {
    /// Builds and validates bars. `ask = None` derives the ask side as `bid + spread_pips *
    /// pip_size` (both required, else 2007).
    pub fn new(
        symbol: impl Into<String>,
        ts: ScalarBuffer<i64>,
        bid: [ScalarBuffer<f64>; 4],
        ask: Option<[ScalarBuffer<f64>; 4]>,
        volume: Option<ScalarBuffer<f64>>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Bars> {
        let n = ts.len();
        check_not_empty("bars", n)?;
        for (c, name) in bid.iter().zip(BID_COLUMNS) {
            check_len(name, c.len(), n)?;
        }
        if let Some(a) = &ask {
            for (c, name) in a.iter().zip(ASK_COLUMNS) {
                check_len(name, c.len(), n)?;
            }
        }
        if let Some(v) = &volume {
            check_len("volume", v.len(), n)?;
        }
        check_side_prices(BID_COLUMNS, &bid)?;
        check_ohlc("bid", &bid)?;
        let (ask, derived_ask) = match ask {
            Some(a) => {
                check_side_prices(ASK_COLUMNS, &a)?;
                check_ohlc("ask", &a)?;
                (a, false)
            }
            None => {
                let off = derive_offset("ask", spread_pips, pip_size)?;
                let derived = bid.each_ref().map(|c| shifted(c, off));
                // A finite spread and pip can still overflow (spread × pip, or bid + offset):
                // the derived side must obey the same price rules as a given one.
                check_side_prices(ASK_COLUMNS, &derived)?;
                (derived, true)
            }
        };
        check_timestamps("timestamp", &ts)?;
        Ok(Bars {
            symbol: symbol.into(),
            ts,
            bid,
            ask,
            volume,
            derived_ask,
        })
    }

    /// Builds bars from `Vec`s (takes the allocations over).
    pub fn from_vecs(
        symbol: impl Into<String>,
        ts: Vec<i64>,
        bid: [Vec<f64>; 4],
        ask: Option<[Vec<f64>; 4]>,
        volume: Option<Vec<f64>>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Bars> {
        let [bo, bh, bl, bc] = bid;
        let ask = ask.map(|[ao, ah, al, ac]| [ao.into(), ah.into(), al.into(), ac.into()]);
        Bars::new(
            symbol,
            ts.into(),
            [bo.into(), bh.into(), bl.into(), bc.into()],
            ask,
            volume.map(Into::into),
            spread_pips,
            pip_size,
        )
    }

    /// Builds bars from a separate bid and (optional) ask table, each with the columns
    /// `timestamp`, `open`, `high`, `low`, `close` and optionally `volume` (taken from the bid
    /// table). The two timestamp axes must be identical (2006 names the first differing row).
    pub fn from_side_batches(
        symbol: impl Into<String>,
        bid: &RecordBatch,
        ask: Option<&RecordBatch>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Bars> {
        let bid_ts = ts_column(bid, "timestamp")?;
        let bid_cols = [
            f64_column(bid, "open", "bid_open")?,
            f64_column(bid, "high", "bid_high")?,
            f64_column(bid, "low", "bid_low")?,
            f64_column(bid, "close", "bid_close")?,
        ];
        let volume = optional_f64_column(bid, "volume")?;
        let ask_cols = match ask {
            None => None,
            Some(a) => {
                let ask_ts = ts_column(a, "timestamp")?;
                if ask_ts.len() != bid_ts.len() {
                    return Err(LoopError::data(
                        codes::BID_ASK_MISMATCH,
                        "ask.timestamp",
                        None,
                        format!("ask has {} rows, bid has {}", ask_ts.len(), bid_ts.len()),
                    ));
                }
                if let Some(row) = bid_ts.iter().zip(ask_ts.iter()).position(|(b, a)| b != a) {
                    return Err(LoopError::data(
                        codes::BID_ASK_MISMATCH,
                        "ask.timestamp",
                        Some(row),
                        format!(
                            "ask timestamp {} differs from bid timestamp {}",
                            ask_ts[row], bid_ts[row]
                        ),
                    ));
                }
                Some([
                    f64_column(a, "open", "ask_open")?,
                    f64_column(a, "high", "ask_high")?,
                    f64_column(a, "low", "ask_low")?,
                    f64_column(a, "close", "ask_close")?,
                ])
            }
        };
        Bars::new(
            symbol,
            bid_ts,
            bid_cols,
            ask_cols,
            volume,
            spread_pips,
            pip_size,
        )
    }

    /// Builds bars from one table in [`bars_schema`] layout (the ask columns may be absent, then
    /// `spread_pips`/`pip_size` derive them). Zero-copy.
    pub fn from_record_batch(
        symbol: impl Into<String>,
        batch: &RecordBatch,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Bars> {
        let ts = ts_column(batch, "timestamp")?;
        let bid = [
            f64_column(batch, "bid_open", "bid_open")?,
            f64_column(batch, "bid_high", "bid_high")?,
            f64_column(batch, "bid_low", "bid_low")?,
            f64_column(batch, "bid_close", "bid_close")?,
        ];
        let has_ask = ASK_COLUMNS
            .iter()
            .filter(|c| batch.schema().column_with_name(c).is_some())
            .count();
        let ask = match has_ask {
            0 => None,
            4 => Some([
                f64_column(batch, "ask_open", "ask_open")?,
                f64_column(batch, "ask_high", "ask_high")?,
                f64_column(batch, "ask_low", "ask_low")?,
                f64_column(batch, "ask_close", "ask_close")?,
            ]),
            _ => {
                let missing = ASK_COLUMNS
                    .iter()
                    .find(|c| batch.schema().column_with_name(c).is_none())
                    .copied()
                    .unwrap_or("ask");
                return Err(LoopError::schema(
                    missing,
                    "some ask columns are present but this one is missing",
                ));
            }
        };
        let volume = optional_f64_column(batch, "volume")?;
        Bars::new(symbol, ts, bid, ask, volume, spread_pips, pip_size)
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// True when the ask side was derived from the bid side with a fixed spread.
    pub fn ask_is_derived(&self) -> bool {
        self.derived_ask
    }

    pub fn ts(&self) -> &[i64] {
        &self.ts
    }
    pub fn bid_open(&self) -> &[f64] {
        &self.bid[0]
    }
    pub fn bid_high(&self) -> &[f64] {
        &self.bid[1]
    }
    pub fn bid_low(&self) -> &[f64] {
        &self.bid[2]
    }
    pub fn bid_close(&self) -> &[f64] {
        &self.bid[3]
    }
    pub fn ask_open(&self) -> &[f64] {
        &self.ask[0]
    }
    pub fn ask_high(&self) -> &[f64] {
        &self.ask[1]
    }
    pub fn ask_low(&self) -> &[f64] {
        &self.ask[2]
    }
    pub fn ask_close(&self) -> &[f64] {
        &self.ask[3]
    }
    pub fn volume(&self) -> Option<&[f64]> {
        self.volume.as_deref()
    }

    /// Plain slices of all columns, for hot loops: dereferencing an Arrow buffer costs a few
    /// instructions per access, a slice costs none.
    #[inline]
    pub fn view(&self) -> BarView<'_> {
        BarView {
            ts: &self.ts,
            bid_open: &self.bid[0],
            bid_high: &self.bid[1],
            bid_low: &self.bid[2],
            bid_close: &self.bid[3],
            ask_open: &self.ask[0],
            ask_high: &self.ask[1],
            ask_low: &self.ask[2],
            ask_close: &self.ask[3],
        }
    }

    /// The underlying buffers (cheap clones: reference counted).
    pub fn ts_buffer(&self) -> &ScalarBuffer<i64> {
        &self.ts
    }

    /// The bid candle of row `i`. Panics when `i >= len()` (the loop indexes within bounds).
    #[inline]
    pub fn bid_candle(&self, i: usize) -> Candle {
        self.view().bid_candle(i)
    }

    /// The ask candle of row `i`.
    #[inline]
    pub fn ask_candle(&self, i: usize) -> Candle {
        self.view().ask_candle(i)
    }

    /// Rows `start..end` as new bars sharing the same buffers (zero-copy). Bounds are clamped.
    pub fn slice(&self, start: usize, end: usize) -> Bars {
        let end = end.min(self.len());
        let start = start.min(end);
        let len = end - start;
        let s = |b: &ScalarBuffer<f64>| b.slice(start, len);
        Bars {
            symbol: self.symbol.clone(),
            ts: self.ts.slice(start, len),
            bid: [
                s(&self.bid[0]),
                s(&self.bid[1]),
                s(&self.bid[2]),
                s(&self.bid[3]),
            ],
            ask: [
                s(&self.ask[0]),
                s(&self.ask[1]),
                s(&self.ask[2]),
                s(&self.ask[3]),
            ],
            volume: self.volume.as_ref().map(s),
            derived_ask: self.derived_ask,
        }
    }

    /// First row with `ts >= t` (binary search); `len()` when none.
    pub fn lower_bound(&self, t: i64) -> usize {
        self.ts.partition_point(|&x| x < t)
    }

    /// The bars as a [`bars_schema`] table (zero-copy: the arrays share the buffers).
    pub fn to_arrow(&self) -> RecordBatch {
        let f =
            |b: &ScalarBuffer<f64>| -> ArrayRef { Arc::new(Float64Array::new(b.clone(), None)) };
        let volume: ArrayRef = match &self.volume {
            Some(v) => Arc::new(Float64Array::new(v.clone(), None)),
            None => Arc::new(Float64Array::new_null(self.len())),
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::new(self.ts.clone(), None).with_timezone("UTC")),
            f(&self.bid[0]),
            f(&self.bid[1]),
            f(&self.bid[2]),
            f(&self.bid[3]),
            f(&self.ask[0]),
            f(&self.ask[1]),
            f(&self.ask[2]),
            f(&self.ask[3]),
            volume,
        ];
        // The columns match the schema by construction (types, lengths, nullability).
        RecordBatch::try_new(bars_schema(), columns)
            .unwrap_or_else(|e| unreachable!("bars_schema mismatch: {e}"))
    }
}

/// Borrowed column slices of [`Bars`] (see [`Bars::view`]): exec-core's [`CandleColumns`], which
/// the simulator's span API (`advance_quiet`) takes as it is.
pub type BarView<'a> = CandleColumns<'a>;

/// Asks the CPU to start loading row `i` of every column of `view` into the cache without
/// waiting for it (a hint: no effect on results; nothing for rows out of range, and nothing on
/// targets other than x86-64). The span loop reads whole rows only at sparse bars (exits,
/// entries), whose columns the hardware prefetcher has not been streaming; prefetching such a
/// row as soon as it is known overlaps its cache misses with the work before it.
#[inline(always)]
pub fn prefetch_row(view: &BarView<'_>, i: usize) {
    for col in [
        view.bid_open,
        view.bid_high,
        view.bid_low,
        view.bid_close,
        view.ask_open,
        view.ask_high,
        view.ask_low,
        view.ask_close,
    ] {
        prefetch(col, i);
    }
    prefetch(view.ts, i);
}

/// Prefetches the cache line of `col[i]`, if `i` is in range.
#[inline(always)]
fn prefetch<T>(col: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = col.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is only a hint: it never faults and changes nothing the program
        // can observe; the address is a valid element anyway. SSE, which provides the
        // instruction, is part of the x86-64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (col, i);
}

/// Ticks of one symbol: timestamp, bid, ask.
#[derive(Clone, Debug)]
pub struct Ticks {
    symbol: String,
    ts: ScalarBuffer<i64>,
    bid: ScalarBuffer<f64>,
    ask: ScalarBuffer<f64>,
}

impl Ticks {
    /// Builds and validates ticks; `ask = None` derives it as `bid + spread_pips * pip_size`.
    pub fn new(
        symbol: impl Into<String>,
        ts: ScalarBuffer<i64>,
        bid: ScalarBuffer<f64>,
        ask: Option<ScalarBuffer<f64>>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Ticks> {
        let n = ts.len();
        check_not_empty("ticks", n)?;
        check_len("bid", bid.len(), n)?;
        if let Some(a) = &ask {
            check_len("ask", a.len(), n)?;
        }
        check_prices("bid", &bid)?;
        let ask = match ask {
            Some(a) => {
                check_prices("ask", &a)?;
                a
            }
            None => {
                let derived = shifted(&bid, derive_offset("ask", spread_pips, pip_size)?);
                // As for bars: a derived side that overflowed is not a valid price.
                check_prices("ask", &derived)?;
                derived
            }
        };
        check_timestamps("timestamp", &ts)?;
        Ok(Ticks {
            symbol: symbol.into(),
            ts,
            bid,
            ask,
        })
    }

    /// Builds ticks from `Vec`s.
    pub fn from_vecs(
        symbol: impl Into<String>,
        ts: Vec<i64>,
        bid: Vec<f64>,
        ask: Option<Vec<f64>>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Ticks> {
        Ticks::new(
            symbol,
            ts.into(),
            bid.into(),
            ask.map(Into::into),
            spread_pips,
            pip_size,
        )
    }

    /// Builds ticks from a [`ticks_schema`] table (the ask column may be absent). Zero-copy.
    pub fn from_record_batch(
        symbol: impl Into<String>,
        batch: &RecordBatch,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> Result<Ticks> {
        let ts = ts_column(batch, "timestamp")?;
        let bid = f64_column(batch, "bid", "bid")?;
        let ask = optional_f64_column(batch, "ask")?;
        Ticks::new(symbol, ts, bid, ask, spread_pips, pip_size)
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    pub fn ts(&self) -> &[i64] {
        &self.ts
    }
    pub fn bid(&self) -> &[f64] {
        &self.bid
    }
    pub fn ask(&self) -> &[f64] {
        &self.ask
    }

    #[inline]
    pub fn tick(&self, i: usize) -> Tick {
        Tick {
            ts: self.ts[i],
            bid: self.bid[i],
            ask: self.ask[i],
        }
    }

    /// The ticks as a [`ticks_schema`] table (zero-copy).
    pub fn to_arrow(&self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::new(self.ts.clone(), None).with_timezone("UTC")),
            Arc::new(Float64Array::new(self.bid.clone(), None)),
            Arc::new(Float64Array::new(self.ask.clone(), None)),
        ];
        RecordBatch::try_new(ticks_schema(), columns)
            .unwrap_or_else(|e| unreachable!("ticks_schema mismatch: {e}"))
    }
}

/// Everything a batch of runs reads: bars and/or ticks per symbol and named signal tables.
#[derive(Clone, Debug, Default)]
pub struct DataSet {
    pub bars: BTreeMap<String, Arc<Bars>>,
    pub ticks: BTreeMap<String, Arc<Ticks>>,
    pub signals: BTreeMap<String, Arc<SignalTable>>,
}

impl DataSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A data set holding one symbol's bars.
    pub fn from_bars(bars: Bars) -> Self {
        let mut d = Self::default();
        d.add_bars(bars);
        d
    }

    pub fn add_bars(&mut self, bars: Bars) -> &mut Self {
        self.bars.insert(bars.symbol().to_string(), Arc::new(bars));
        self
    }

    pub fn add_ticks(&mut self, ticks: Ticks) -> &mut Self {
        self.ticks
            .insert(ticks.symbol().to_string(), Arc::new(ticks));
        self
    }

    pub fn add_signals(&mut self, name: impl Into<String>, table: SignalTable) -> &mut Self {
        self.signals.insert(name.into(), Arc::new(table));
        self
    }
}

// ---- Arrow column extraction (zero-copy) ----

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| LoopError::schema(name, "column is missing"))
}

/// Reads a timestamp column: timestamp[us] (any time zone) or int64 microseconds; no nulls.
pub(crate) fn ts_column(batch: &RecordBatch, name: &str) -> Result<ScalarBuffer<i64>> {
    let col = column(batch, name)?;
    if col.null_count() > 0 {
        return Err(LoopError::schema(name, "timestamps must not be null"));
    }
    if let Some(a) = col.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        return Ok(a.values().clone());
    }
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return Ok(a.values().clone());
    }
    Err(LoopError::schema(
        name,
        format!(
            "expected timestamp[us, UTC] or int64 microseconds, got {}",
            col.data_type()
        ),
    ))
}

/// Reads a non-null f64 column; a null counts as a non-finite price (2001) naming `label`.
pub(crate) fn f64_column(
    batch: &RecordBatch,
    name: &str,
    label: &str,
) -> Result<ScalarBuffer<f64>> {
    let col = column(batch, name)?;
    let a = col.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
        LoopError::schema(name, format!("expected float64, got {}", col.data_type()))
    })?;
    if let Some(nulls) = a.nulls() {
        if let Some(row) = (0..a.len()).find(|&i| nulls.is_null(i)) {
            return Err(LoopError::data(
                codes::NON_FINITE_PRICE,
                label,
                Some(row),
                "value is null",
            ));
        }
    }
    Ok(a.values().clone())
}

fn optional_f64_column(batch: &RecordBatch, name: &str) -> Result<Option<ScalarBuffer<f64>>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(col) if col.null_count() == col.len() => Ok(None),
        Some(_) => f64_column(batch, name, name).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_bars() -> ([Vec<f64>; 4], Vec<i64>) {
        (
            [
                vec![1.10, 1.11, 1.12],
                vec![1.12, 1.13, 1.14],
                vec![1.09, 1.10, 1.11],
                vec![1.11, 1.12, 1.13],
            ],
            vec![0, 60_000_000, 120_000_000],
        )
    }

    fn code_of(r: Result<Bars>) -> (u16, String) {
        let e = r.unwrap_err();
        (e.code().code, e.to_string())
    }

    #[test]
    fn valid_bars_and_derived_ask() {
        let (bid, ts) = ok_bars();
        let b = Bars::from_vecs("EURUSD", ts, bid, None, None, Some(1.0), Some(0.0001)).unwrap();
        assert_eq!(b.len(), 3);
        assert!(b.ask_is_derived());
        assert!((b.ask_close()[0] - (1.11 + 0.0001)).abs() < 1e-12);
        let c = b.ask_candle(2);
        assert_eq!(c.ts, 120_000_000);
        assert!((c.high - 1.1401).abs() < 1e-12);
        let s = b.slice(1, 3);
        assert_eq!(s.ts(), &[60_000_000, 120_000_000]);
        assert_eq!(s.bid_close(), &[1.12, 1.13]);
        // round trip through Arrow, zero-copy
        let rb = b.to_arrow();
        assert_eq!(rb.schema(), bars_schema());
        let back = Bars::from_record_batch("EURUSD", &rb, None, None).unwrap();
        assert_eq!(back.ask_close(), b.ask_close());
        assert_eq!(back.bid_close().as_ptr(), b.bid_close().as_ptr());
        assert_eq!(b.lower_bound(60_000_000), 1);
        assert_eq!(b.lower_bound(60_000_001), 2);
    }

    #[test]
    fn non_finite_2001() {
        let (mut bid, ts) = ok_bars();
        bid[3][1] = f64::NAN;
        let (c, m) = code_of(Bars::from_vecs(
            "X",
            ts,
            bid,
            None,
            None,
            Some(1.0),
            Some(0.0001),
        ));
        assert_eq!(c, 2001);
        assert!(m.contains("bid_close row 1"), "{m}");
    }

    #[test]
    fn non_positive_2002() {
        let (bid, ts) = ok_bars();
        let mut ask = bid.clone();
        ask[2][2] = 0.0;
        let (c, m) = code_of(Bars::from_vecs("X", ts, bid, Some(ask), None, None, None));
        assert_eq!(c, 2002);
        assert!(m.contains("ask_low row 2"), "{m}");
    }

    #[test]
    fn unsorted_2003_and_duplicate_2004() {
        let (bid, _) = ok_bars();
        let (c, m) = code_of(Bars::from_vecs(
            "X",
            vec![0, 120, 60],
            bid.clone(),
            None,
            None,
            Some(1.0),
            Some(0.0001),
        ));
        assert_eq!(c, 2003);
        assert!(m.contains("timestamp row 2"), "{m}");
        let (c, m) = code_of(Bars::from_vecs(
            "X",
            vec![0, 60, 60],
            bid,
            None,
            None,
            Some(1.0),
            Some(0.0001),
        ));
        assert_eq!(c, 2004);
        assert!(m.contains("row 2"), "{m}");
    }

    #[test]
    fn ohlc_2005() {
        let (mut bid, ts) = ok_bars();
        bid[1][0] = 1.105; // high below close 1.11
        let (c, m) = code_of(Bars::from_vecs(
            "X",
            ts.clone(),
            bid,
            None,
            None,
            Some(1.0),
            Some(0.0001),
        ));
        assert_eq!(c, 2005);
        assert!(m.contains("bid_high row 0"), "{m}");
        let (bid, _) = ok_bars();
        let mut ask = bid.clone();
        ask[2][1] = 1.115; // low above open 1.11
        let (c, m) = code_of(Bars::from_vecs("X", ts, bid, Some(ask), None, None, None));
        assert_eq!(c, 2005);
        assert!(m.contains("ask_low row 1"), "{m}");
    }

    #[test]
    fn mismatch_2006() {
        let (bid, ts) = ok_bars();
        let mut ask = bid.clone();
        ask[0].pop();
        let (c, m) = code_of(Bars::from_vecs(
            "X",
            ts.clone(),
            bid.clone(),
            Some(ask),
            None,
            None,
            None,
        ));
        assert_eq!(c, 2006);
        assert!(m.contains("ask_open"), "{m}");
        // separate tables with different timestamps
        let side = |ts: Vec<i64>, v: &[Vec<f64>; 4]| {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
                Arc::new(Float64Array::from(v[0].clone())),
                Arc::new(Float64Array::from(v[1].clone())),
                Arc::new(Float64Array::from(v[2].clone())),
                Arc::new(Float64Array::from(v[3].clone())),
            ];
            RecordBatch::try_from_iter(
                ["timestamp", "open", "high", "low", "close"]
                    .into_iter()
                    .zip(cols),
            )
            .unwrap()
        };
        let b = side(ts.clone(), &bid);
        let a = side(vec![0, 60_000_000, 180_000_000], &bid);
        let (c, m) = code_of(Bars::from_side_batches("X", &b, Some(&a), None, None));
        assert_eq!(c, 2006);
        assert!(m.contains("row 2"), "{m}");
        let a = side(ts, &bid);
        let ok = Bars::from_side_batches("X", &b, Some(&a), None, None).unwrap();
        assert!(!ok.ask_is_derived());
    }

    #[test]
    fn missing_side_2007_and_empty_2008() {
        let (bid, ts) = ok_bars();
        let (c, _) = code_of(Bars::from_vecs(
            "X",
            ts.clone(),
            bid.clone(),
            None,
            None,
            None,
            Some(0.0001),
        ));
        assert_eq!(c, 2007);
        let e =
            Ticks::from_vecs("X", ts.clone(), vec![1.0, 1.1, 1.2], None, None, None).unwrap_err();
        assert_eq!(e.code().code, 2007);
        let (c, _) = code_of(Bars::from_vecs(
            "X",
            vec![],
            [vec![], vec![], vec![], vec![]],
            None,
            None,
            Some(1.0),
            Some(0.0001),
        ));
        assert_eq!(c, 2008);
        let e = Ticks::from_vecs("X", vec![], vec![], None, Some(1.0), Some(0.0001)).unwrap_err();
        assert_eq!(e.code().code, 2008);
        let e = Bars::from_vecs("X", ts, bid, None, None, Some(-1.0), Some(0.0001)).unwrap_err();
        assert_eq!(e.code().code, 1001);
    }

    #[test]
    fn ticks_validation_and_arrow() {
        let t = Ticks::from_vecs(
            "X",
            vec![1, 2, 3],
            vec![1.0, 1.1, 1.2],
            None,
            Some(2.0),
            Some(0.0001),
        )
        .unwrap();
        assert!((t.ask()[1] - 1.1002).abs() < 1e-12);
        assert_eq!(t.tick(2).ts, 3);
        let rb = t.to_arrow();
        let back = Ticks::from_record_batch("X", &rb, None, None).unwrap();
        assert_eq!(back.ask(), t.ask());
        let e = Ticks::from_vecs(
            "X",
            vec![1, 1],
            vec![1.0, 1.1],
            Some(vec![1.0, 1.1]),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.code().code, 2004);
        let e = Ticks::from_vecs(
            "X",
            vec![1, 2],
            vec![1.0, f64::INFINITY],
            Some(vec![1.0, 1.1]),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.code().code, 2001);
        assert!(e.to_string().contains("column bid row 1"));
        let e = Ticks::from_vecs("X", vec![1, 2], vec![1.0, 1.1], Some(vec![1.0]), None, None)
            .unwrap_err();
        assert_eq!(e.code().code, 2006);
    }

    #[test]
    fn schema_3001_and_null_prices() {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(vec![0i64, 1]).with_timezone("UTC")),
            Arc::new(Float64Array::from(vec![Some(1.0), None])),
        ];
        let rb = RecordBatch::try_from_iter(["timestamp", "bid"].into_iter().zip(cols)).unwrap();
        let e = Ticks::from_record_batch("X", &rb, Some(1.0), Some(0.0001)).unwrap_err();
        assert_eq!(e.code().code, 2001);
        let e = Bars::from_record_batch("X", &rb, Some(1.0), Some(0.0001)).unwrap_err();
        assert_eq!(e.code().code, 3001);
        assert!(e.to_string().contains("bid_open"));
    }
}
