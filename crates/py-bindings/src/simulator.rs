//! `ExecutionSimulator`: the seed document's simulator API over `omega_exec_core`.
//!
//! The options arrive as one JSON object using the run config's sections (`execution`,
//! `account`, `costs`, `seed`) plus `symbol_specs`; they are validated and converted by the same
//! code as a run config (`omega_loop::config`), so both paths accept the same values and report
//! the same dotted field names. Every mutating call is atomic: on error the simulator is
//! restored to its state before the call (nothing of a failed batch is kept).

use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use omega_exec_core::{
    codes, BarQuote, Candle, ClosedPosition, Direction, ExecutionSimulator, OrderType,
    PositionStatus, Signal, SignalOutcome, SymbolId, SymbolSpec, Tick,
};
use omega_loop::{RunConfig, SignalTable};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::convert::{f64_column, record_batch, timestamp_column, to_pyarrow_table, utf8_column};
use crate::errors::{coded, guard, to_py};

/// Caller strings of one signal, carried by index (`Signal::meta`).
#[derive(Clone, Debug, Default)]
struct Meta {
    reason: Option<String>,
    scenario: Option<String>,
    tags: Option<String>,
}

const NO_META: u32 = u32::MAX;

struct State {
    sim: ExecutionSimulator,
    closed: Vec<ClosedPosition>,
    meta: Vec<Meta>,
}

/// The execution simulator (candle and tick mode).
#[pyclass(name = "ExecutionSimulator", module = "omega_engine._core")]
pub struct PySimulator {
    state: State,
}

fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        nullable,
    )
}

/// Schema of `process_signals_batch` results: one row per signal.
pub fn outcomes_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("row", DataType::UInt32, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("position_id", DataType::UInt64, true),
            Field::new("reject_reason", DataType::Utf8, true),
        ]))
    })
    .clone()
}

/// Schema of `active_positions()`.
pub fn positions_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("position_id", DataType::UInt64, false),
            Field::new("symbol", DataType::Utf8, false),
            Field::new("direction", DataType::Utf8, false),
            Field::new("order_type", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
            ts_field("placement_time", false),
            ts_field("entry_time", false),
            ts_field("trigger_time", true),
            Field::new("entry_price", DataType::Float64, false),
            Field::new("stop_loss", DataType::Float64, false),
            Field::new("take_profit", DataType::Float64, false),
            Field::new("initial_stop_loss", DataType::Float64, false),
            Field::new("initial_take_profit", DataType::Float64, false),
            Field::new("lots", DataType::Float64, false),
            Field::new("entry_fee", DataType::Float64, false),
            Field::new("reason", DataType::Utf8, true),
            Field::new("scenario", DataType::Utf8, true),
            Field::new("tags", DataType::Utf8, true),
        ]))
    })
    .clone()
}

/// Schema of `closed_positions()`.
pub fn closed_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("position_id", DataType::UInt64, false),
            Field::new("symbol", DataType::Utf8, false),
            Field::new("direction", DataType::Utf8, false),
            Field::new("order_type", DataType::Utf8, false),
            ts_field("placement_time", false),
            ts_field("entry_time", false),
            ts_field("trigger_time", true),
            ts_field("exit_time", false),
            Field::new("entry_price", DataType::Float64, false),
            Field::new("exit_price", DataType::Float64, false),
            Field::new("lots", DataType::Float64, false),
            Field::new("initial_stop_loss", DataType::Float64, false),
            Field::new("initial_take_profit", DataType::Float64, false),
            Field::new("stop_loss", DataType::Float64, false),
            Field::new("take_profit", DataType::Float64, false),
            Field::new("exit_reason", DataType::Utf8, false),
            Field::new("gross_pnl", DataType::Float64, false),
            Field::new("entry_fee", DataType::Float64, false),
            Field::new("exit_fee", DataType::Float64, false),
            Field::new("net_pnl", DataType::Float64, false),
            Field::new("r_multiple", DataType::Float64, false),
            Field::new("in_entry_candle", DataType::Boolean, false),
            Field::new("ambiguous", DataType::Boolean, false),
            Field::new("reason", DataType::Utf8, true),
            Field::new("scenario", DataType::Utf8, true),
            Field::new("tags", DataType::Utf8, true),
        ]))
    })
    .clone()
}

/// The simulator's result schemas, for the schema registry (`_core.schemas()`).
pub fn schemas() -> Vec<(&'static str, SchemaRef)> {
    vec![
        ("simulator_outcomes", outcomes_schema()),
        ("simulator_positions", positions_schema()),
        ("simulator_closed", closed_schema()),
    ]
}

fn bad_option(detail: impl std::fmt::Display) -> PyErr {
    coded(codes::INVALID_PARAMETER, detail)
}

/// Builds the simulator from the options JSON (see the module doc).
fn build(options_json: &str) -> PyResult<ExecutionSimulator> {
    let opts: Value = serde_json::from_str(options_json)
        .map_err(|e| bad_option(format!("simulator options are not valid JSON: {e}")))?;
    let Value::Object(mut obj) = opts else {
        return Err(bad_option("simulator options must be a JSON object"));
    };
    let specs = match obj.remove("symbol_specs") {
        Some(Value::Array(a)) => a,
        None => Vec::new(),
        Some(_) => return Err(bad_option("symbol_specs: must be a list of symbol specs")),
    };
    let skip_unroutable = matches!(obj.remove("skip_unroutable"), Some(Value::Bool(true)));
    for key in obj.keys() {
        if !["execution", "account", "costs", "seed"].contains(&key.as_str()) {
            return Err(coded(
                codes::UNKNOWN_CONFIG_FIELD,
                format!("{key}: unknown simulator option (execution, account, costs, seed)"),
            ));
        }
    }
    // Each spec is validated and converted through a run config of that symbol (a placeholder
    // `signals` strategy, never run), so the sections mean exactly what they mean in a run.
    let real_specs = !specs.is_empty();
    let mut spec_list: Vec<(String, Value)> = Vec::with_capacity(specs.len().max(1));
    for (i, s) in specs.into_iter().enumerate() {
        let Value::Object(mut m) = s else {
            return Err(bad_option(format!("symbol_specs[{i}]: must be a mapping")));
        };
        let Some(Value::String(sym)) = m.remove("symbol") else {
            return Err(bad_option(format!(
                "symbol_specs[{i}].symbol: a string is required"
            )));
        };
        m.remove("tick_value_currency");
        spec_list.push((sym, Value::Object(m)));
    }
    if !real_specs {
        // No symbols: the shared sections are still validated.
        spec_list.push((
            "EURUSD".to_string(),
            serde_json::json!({"pip_size": 0.0001, "contract_size": 100000.0}),
        ));
    }
    let mut parsed: Vec<RunConfig> = Vec::with_capacity(spec_list.len());
    for (sym, spec) in spec_list {
        let mut cfg = obj.clone();
        cfg.insert("symbol".into(), Value::String(sym.clone()));
        cfg.insert("symbol_spec".into(), spec);
        cfg.insert(
            "strategy".into(),
            serde_json::json!({"name": "signals", "params": {"table": "simulator"}}),
        );
        let rc = omega_loop::config::parse_config_value(&Value::Object(cfg)).map_err(|e| {
            let code = e.code();
            let msg = e.to_string();
            if real_specs && msg.contains("symbol_spec") {
                coded(code, format!("{} (symbol_specs[{sym}])", strip_code(&msg)))
            } else {
                to_py(e)
            }
        })?;
        parsed.push(rc);
    }
    let mut config = parsed[0].simulator_config();
    // The standalone simulator is not one run of a batch: no config id in the RNG seeds.
    config.run_key = 0;
    // Per-symbol commission overrides of every symbol (a run config keeps only its own).
    if let Some(set) = config.commission.as_mut() {
        set.overrides = parsed
            .iter()
            .filter_map(|rc| rc.simulator_config().commission.map(|c| c.overrides))
            .flatten()
            .collect();
    }
    let fx = config.fx.compile();
    let mut exec_specs: Vec<SymbolSpec> = Vec::with_capacity(parsed.len());
    if real_specs {
        for rc in &parsed {
            let spec = rc.symbol_spec();
            if skip_unroutable
                && fx
                    .path(
                        &spec.quote_currency,
                        &config.account_currency,
                        "quote_currency",
                    )
                    .is_err()
            {
                continue;
            }
            exec_specs.push(spec);
        }
    }
    // Cost model trees (commission trees, slippage models, swaps) of the simulated symbols.
    let mut costs = omega_exec_core::CostModels::default();
    for rc in &parsed {
        if !exec_specs.iter().any(|s| s.symbol == rc.symbol) {
            continue;
        }
        let m = rc.cost_models().map_err(to_py)?;
        merge_per_symbol(&mut costs.fees, m.fees);
        merge_per_symbol(&mut costs.slippage, m.slippage);
        merge_per_symbol(&mut costs.swap, m.swap);
    }
    ExecutionSimulator::with_costs(config, exec_specs, costs).map_err(to_py)
}

/// Appends one run config's per-symbol cost entries (each holds only its own symbol's).
fn merge_per_symbol<T>(
    into: &mut Option<omega_exec_core::PerSymbol<T>>,
    from: Option<omega_exec_core::PerSymbol<T>>,
) {
    if let Some(f) = from {
        into.get_or_insert_with(omega_exec_core::PerSymbol::default)
            .per_symbol
            .extend(f.per_symbol);
    }
}

fn status_str(s: PositionStatus) -> &'static str {
    match s {
        PositionStatus::Pending => "pending",
        PositionStatus::Open => "open",
    }
}

fn candle(ts: i64, ohlc: (f64, f64, f64, f64)) -> Candle {
    Candle {
        ts,
        open: ohlc.0,
        high: ohlc.1,
        low: ohlc.2,
        close: ohlc.3,
    }
}

fn parse_direction(s: &str) -> PyResult<Direction> {
    match s {
        "long" => Ok(Direction::Long),
        "short" => Ok(Direction::Short),
        other => Err(coded(
            codes::INVALID_PARAMETER,
            format!("signal.direction: unknown value {other:?} (expected long or short)"),
        )),
    }
}

fn parse_order_type(s: Option<&str>) -> PyResult<OrderType> {
    match s {
        None | Some("market") => Ok(OrderType::Market),
        Some("limit") => Ok(OrderType::Limit),
        Some("stop") => Ok(OrderType::Stop),
        Some(other) => Err(coded(
            codes::INVALID_PARAMETER,
            format!("signal.order_type: unknown value {other:?} (expected market, limit or stop)"),
        )),
    }
}

impl State {
    fn push_meta(
        &mut self,
        reason: Option<String>,
        scenario: Option<String>,
        tags: Option<String>,
    ) -> u32 {
        if reason.is_none() && scenario.is_none() && tags.is_none() {
            return NO_META;
        }
        self.meta.push(Meta {
            reason,
            scenario,
            tags,
        });
        (self.meta.len() - 1) as u32
    }

    fn meta(&self, i: u32) -> Option<&Meta> {
        self.meta.get(i as usize)
    }

    fn drain(&mut self) {
        self.sim.drain_closed_into(&mut self.closed);
    }
}

/// Outcome row: (status, position id, reject reason).
fn outcome_tuple(o: SignalOutcome) -> (&'static str, Option<u64>, Option<&'static str>) {
    match o {
        SignalOutcome::Opened(id) => ("opened", Some(id), None),
        SignalOutcome::Pending(id) => ("pending", Some(id), None),
        SignalOutcome::Rejected(r) => ("rejected", None, Some(r.as_str())),
    }
}

impl PySimulator {
    /// Runs `f`; on error restores the state from before the call. The simulator itself is
    /// snapshotted (its cost grows with the active positions only); the closed records and the
    /// signal strings are append-only and are cut back to their previous length.
    fn atomic<T>(&mut self, f: impl FnOnce(&mut State) -> PyResult<T>) -> PyResult<T> {
        let snapshot = self.state.sim.clone();
        let (closed, meta) = (self.state.closed.len(), self.state.meta.len());
        f(&mut self.state).inspect_err(|_| {
            self.state.sim = snapshot;
            self.state.closed.truncate(closed);
            self.state.meta.truncate(meta);
        })
    }

    /// For calls the simulator itself keeps atomic (a single signal is validated completely
    /// before anything is stored): only the append-only parts are cut back on error.
    fn append_only<T>(&mut self, f: impl FnOnce(&mut State) -> PyResult<T>) -> PyResult<T> {
        let (closed, meta) = (self.state.closed.len(), self.state.meta.len());
        f(&mut self.state).inspect_err(|_| {
            self.state.closed.truncate(closed);
            self.state.meta.truncate(meta);
        })
    }

    fn symbol(&self, name: &str) -> PyResult<SymbolId> {
        self.state.sim.symbol_id(name).map_err(to_py)
    }
}

#[pymethods]
impl PySimulator {
    #[new]
    fn new(options_json: &str) -> PyResult<Self> {
        guard("ExecutionSimulator()", || {
            Ok(PySimulator {
                state: State {
                    sim: build(options_json)?,
                    closed: Vec::new(),
                    meta: Vec::new(),
                },
            })
        })
    }

    /// The symbols the simulator has specs for, in id order.
    fn symbols(&self) -> PyResult<Vec<String>> {
        guard("ExecutionSimulator.symbols()", || {
            Ok(self
                .state
                .sim
                .specs()
                .iter()
                .map(|s| s.symbol.clone())
                .collect())
        })
    }

    /// One signal in candle mode; returns (status, position_id, reject_reason).
    #[pyo3(signature = (ts, symbol, direction, order_type, entry_price, stop_loss, take_profit, bid, ask=None, reason=None, scenario=None, tags=None))]
    #[allow(clippy::too_many_arguments)]
    fn process_signal(
        &mut self,
        ts: i64,
        symbol: &str,
        direction: &str,
        order_type: Option<&str>,
        entry_price: Option<f64>,
        stop_loss: f64,
        take_profit: f64,
        bid: (f64, f64, f64, f64),
        ask: Option<(f64, f64, f64, f64)>,
        reason: Option<String>,
        scenario: Option<String>,
        tags: Option<String>,
    ) -> PyResult<(&'static str, Option<u64>, Option<&'static str>)> {
        guard("ExecutionSimulator.process_signal()", || {
            let sym = self.symbol(symbol)?;
            let direction = parse_direction(direction)?;
            let order_type = parse_order_type(order_type)?;
            self.append_only(|st| {
                let meta = st.push_meta(reason, scenario, tags);
                let s = Signal {
                    ts,
                    symbol: sym,
                    direction,
                    order_type,
                    entry_price,
                    stop_loss,
                    take_profit,
                    meta,
                };
                let bar = BarQuote {
                    bid: candle(ts, bid),
                    ask: ask.map(|a| candle(ts, a)),
                };
                let o = st.sim.process_signal(&s, &bar).map_err(to_py)?;
                st.drain();
                Ok(outcome_tuple(o))
            })
        })
    }

    /// Every row of a signals table (DESIGN §3) against its signal bar: `bid` (and `ask`) are
    /// tables of timestamp/open/high/low/close aligned row by row with the signals. Returns one
    /// outcome row per signal. Atomic: an input error leaves the simulator unchanged.
    #[pyo3(signature = (signals, bid, ask=None))]
    fn process_signals_batch<'py>(
        &mut self,
        py: Python<'py>,
        signals: &Bound<'py, PyAny>,
        bid: &Bound<'py, PyAny>,
        ask: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard("ExecutionSimulator.process_signals_batch()", || {
            let sig_batch = record_batch(signals, "signals")?;
            let bid_batch = record_batch(bid, "bid")?;
            let ask_batch = ask.map(|a| record_batch(a, "ask")).transpose()?;
            let batch = py.detach(|| -> PyResult<RecordBatch> {
                let table = SignalTable::from_record_batch(&sig_batch).map_err(to_py)?;
                let n = table.len();
                let b = ohlc_columns(&bid_batch, "bid", n, "signals")?;
                let a = ask_batch
                    .as_ref()
                    .map(|x| ohlc_columns(x, "ask", n, "signals"))
                    .transpose()?;
                let bid_ts = timestamp_column(&bid_batch, "timestamp", "bid")?;
                let ask_ts = ask_batch
                    .as_ref()
                    .map(|x| timestamp_column(x, "timestamp", "ask"))
                    .transpose()?;
                let mut status = StringBuilder::with_capacity(n, n * 7);
                let mut ids = UInt64Builder::with_capacity(n);
                let mut reasons = StringBuilder::with_capacity(n, 0);
                let mut rows = UInt32Builder::with_capacity(n);
                self.atomic(|st| {
                    st.sim.reserve(n);
                    let mut last_sym: Option<(String, SymbolId)> = None;
                    for i in 0..n {
                        let r = i as u32;
                        let sym =
                            cached_symbol(&st.sim, &mut last_sym, table.symbol(r), "signal", i)?;
                        let ts = table.ts(r);
                        let meta = st.push_meta(
                            table.reason(r).map(str::to_string),
                            table.scenario(r).map(str::to_string),
                            table.tags(r).map(str::to_string),
                        );
                        let s = Signal {
                            ts,
                            symbol: sym,
                            direction: table.direction(r),
                            order_type: table.order_type(r),
                            entry_price: table.entry_price(r),
                            stop_loss: table.stop_loss(r),
                            take_profit: table.take_profit(r),
                            meta,
                        };
                        let bar = BarQuote {
                            bid: candle_at(&bid_ts, &b, i),
                            ask: ask_candle_at(&a, &ask_ts, i),
                        };
                        let o = st
                            .sim
                            .process_signal(&s, &bar)
                            .map_err(|e| row_error(&e, "signal", i))?;
                        let (stat, id, rej) = outcome_tuple(o);
                        rows.append_value(r);
                        status.append_value(stat);
                        ids.append_option(id);
                        reasons.append_option(rej);
                    }
                    st.drain();
                    Ok(())
                })?;
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(rows.finish()),
                    Arc::new(status.finish()),
                    Arc::new(ids.finish()),
                    Arc::new(reasons.finish()),
                ];
                RecordBatch::try_new(outcomes_schema(), cols)
                    .map_err(|e| coded(codes::INTERNAL_ERROR, format!("outcomes: {e}")))
            })?;
            to_pyarrow_table(py, batch)
        })
    }

    /// One bar of one symbol: pending triggers, then exits. Returns the number of positions
    /// closed by it.
    #[pyo3(signature = (symbol, ts, bid, ask=None))]
    fn evaluate_bar(
        &mut self,
        symbol: &str,
        ts: i64,
        bid: (f64, f64, f64, f64),
        ask: Option<(f64, f64, f64, f64)>,
    ) -> PyResult<usize> {
        guard("ExecutionSimulator.evaluate_bar()", || {
            let sym = self.symbol(symbol)?;
            self.atomic(|st| {
                let before = st.closed.len();
                let a = ask.map(|a| candle(ts, a));
                st.sim
                    .evaluate_bar(sym, &candle(ts, bid), a.as_ref())
                    .map_err(to_py)?;
                st.drain();
                Ok(st.closed.len() - before)
            })
        })
    }

    /// The bars of a table in order (timestamp/open/high/low/close; a `symbol` column, or the
    /// `symbol` argument for all rows): triggers then exits per bar. Returns the number of
    /// positions closed. Atomic.
    #[pyo3(signature = (bid, ask=None, *, symbol=None))]
    fn evaluate_exits_batch(
        &mut self,
        py: Python<'_>,
        bid: &Bound<'_, PyAny>,
        ask: Option<&Bound<'_, PyAny>>,
        symbol: Option<&str>,
    ) -> PyResult<usize> {
        guard("ExecutionSimulator.evaluate_exits_batch()", || {
            let bid_batch = record_batch(bid, "bid")?;
            let ask_batch = ask.map(|a| record_batch(a, "ask")).transpose()?;
            let fixed_sym = symbol.map(|s| self.symbol(s)).transpose()?;
            py.detach(|| {
                let n = bid_batch.num_rows();
                let b = ohlc_columns(&bid_batch, "bid", n, "bid")?;
                let a = ask_batch
                    .as_ref()
                    .map(|x| ohlc_columns(x, "ask", n, "bid"))
                    .transpose()?;
                let bid_ts = timestamp_column(&bid_batch, "timestamp", "bid")?;
                let ask_ts = ask_batch
                    .as_ref()
                    .map(|x| timestamp_column(x, "timestamp", "ask"))
                    .transpose()?;
                let names = match fixed_sym {
                    Some(_) => None,
                    None => Some(utf8_column(&bid_batch, "symbol", "bid")?),
                };
                self.atomic(|st| {
                    let before = st.closed.len();
                    let mut last: Option<(String, SymbolId)> = None;
                    for i in 0..n {
                        let sym = match (fixed_sym, &names) {
                            (Some(s), _) => s,
                            (None, Some(names)) => {
                                if names.is_null(i) {
                                    return Err(coded(
                                        codes::INVALID_PARAMETER,
                                        format!("bid.symbol: null at row {i}"),
                                    ));
                                }
                                cached_symbol(&st.sim, &mut last, names.value(i), "bar", i)?
                            }
                            (None, None) => unreachable_symbol()?,
                        };
                        let bc = candle_at(&bid_ts, &b, i);
                        let ac = ask_candle_at(&a, &ask_ts, i);
                        st.sim
                            .evaluate_bar(sym, &bc, ac.as_ref())
                            .map_err(|e| row_error(&e, "bar", i))?;
                        st.drain();
                    }
                    Ok(st.closed.len() - before)
                })
            })
        })
    }

    /// One signal in tick mode; returns (status, position_id, reject_reason).
    #[pyo3(signature = (ts, symbol, direction, order_type, entry_price, stop_loss, take_profit, bid, ask, reason=None, scenario=None, tags=None))]
    #[allow(clippy::too_many_arguments)]
    fn process_signal_tick(
        &mut self,
        ts: i64,
        symbol: &str,
        direction: &str,
        order_type: Option<&str>,
        entry_price: Option<f64>,
        stop_loss: f64,
        take_profit: f64,
        bid: f64,
        ask: f64,
        reason: Option<String>,
        scenario: Option<String>,
        tags: Option<String>,
    ) -> PyResult<(&'static str, Option<u64>, Option<&'static str>)> {
        guard("ExecutionSimulator.process_signal_tick()", || {
            let sym = self.symbol(symbol)?;
            let direction = parse_direction(direction)?;
            let order_type = parse_order_type(order_type)?;
            self.append_only(|st| {
                let meta = st.push_meta(reason, scenario, tags);
                let s = Signal {
                    ts,
                    symbol: sym,
                    direction,
                    order_type,
                    entry_price,
                    stop_loss,
                    take_profit,
                    meta,
                };
                let o = st
                    .sim
                    .process_signal_tick(&s, &Tick { ts, bid, ask })
                    .map_err(to_py)?;
                st.drain();
                Ok(outcome_tuple(o))
            })
        })
    }

    /// One tick of one symbol (SEMANTICS §4); returns the number of positions closed.
    fn evaluate_tick(&mut self, symbol: &str, ts: i64, bid: f64, ask: f64) -> PyResult<usize> {
        guard("ExecutionSimulator.evaluate_tick()", || {
            let sym = self.symbol(symbol)?;
            self.atomic(|st| {
                let before = st.closed.len();
                st.sim
                    .evaluate_tick(sym, &Tick { ts, bid, ask })
                    .map_err(to_py)?;
                st.drain();
                Ok(st.closed.len() - before)
            })
        })
    }

    /// Closes an open position at the bar close on its exit side (reason: timeout,
    /// signal_exit or end_of_data).
    fn close_position(
        &mut self,
        position_id: u64,
        ts: i64,
        bid_close: f64,
        ask_close: f64,
        reason: &str,
    ) -> PyResult<()> {
        guard("ExecutionSimulator.close_position()", || {
            let reason = match reason {
                "timeout" => omega_exec_core::ExitReason::Timeout,
                "signal_exit" => omega_exec_core::ExitReason::SignalExit,
                "end_of_data" => omega_exec_core::ExitReason::EndOfData,
                other => {
                    return Err(coded(
                        codes::INVALID_PARAMETER,
                        format!(
                            "reason: {other:?} is not a manual close reason (timeout, \
                             signal_exit, end_of_data)"
                        ),
                    ))
                }
            };
            self.atomic(|st| {
                st.sim
                    .close_position(position_id, ts, bid_close, ask_close, reason)
                    .map_err(to_py)?;
                st.drain();
                Ok(())
            })
        })
    }

    /// Drops the pending orders of `symbol`; returns how many.
    fn cancel_pending(&mut self, symbol: &str) -> PyResult<usize> {
        guard("ExecutionSimulator.cancel_pending()", || {
            let sym = self.symbol(symbol)?;
            Ok(self.state.sim.cancel_pending(sym))
        })
    }

    /// Pending orders and open positions, in creation order.
    fn active_positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("ExecutionSimulator.active_positions()", || {
            let st = &self.state;
            let ps = st.sim.active_positions();
            let n = ps.len();
            let mut id = UInt64Builder::with_capacity(n);
            let mut sym = StringBuilder::with_capacity(n, n * 6);
            let mut dir = StringBuilder::with_capacity(n, n * 5);
            let mut ot = StringBuilder::with_capacity(n, n * 6);
            let mut status = StringBuilder::with_capacity(n, n * 7);
            let mut placement = TimestampMicrosecondBuilder::with_capacity(n);
            let mut entry_t = TimestampMicrosecondBuilder::with_capacity(n);
            let mut trigger = TimestampMicrosecondBuilder::with_capacity(n);
            let mut f: Vec<Float64Builder> =
                (0..7).map(|_| Float64Builder::with_capacity(n)).collect();
            let mut reason = StringBuilder::new();
            let mut scenario = StringBuilder::new();
            let mut tags = StringBuilder::new();
            for p in ps {
                id.append_value(p.id);
                sym.append_value(&st.sim.spec(p.symbol).symbol);
                dir.append_value(p.direction.as_str());
                ot.append_value(p.order_type.as_str());
                status.append_value(status_str(p.status));
                placement.append_value(p.placement_time);
                entry_t.append_value(p.entry_time);
                trigger.append_option(p.trigger_time);
                for (b, v) in f.iter_mut().zip([
                    p.entry_price,
                    p.stop_loss,
                    p.take_profit,
                    p.initial_stop_loss,
                    p.initial_take_profit,
                    p.lots,
                    p.entry_fee,
                ]) {
                    b.append_value(v);
                }
                let m = st.meta(p.meta);
                reason.append_option(m.and_then(|m| m.reason.as_deref()));
                scenario.append_option(m.and_then(|m| m.scenario.as_deref()));
                tags.append_option(m.and_then(|m| m.tags.as_deref()));
            }
            let mut cols: Vec<ArrayRef> = vec![
                Arc::new(id.finish()),
                Arc::new(sym.finish()),
                Arc::new(dir.finish()),
                Arc::new(ot.finish()),
                Arc::new(status.finish()),
                Arc::new(placement.finish().with_timezone("UTC")),
                Arc::new(entry_t.finish().with_timezone("UTC")),
                Arc::new(trigger.finish().with_timezone("UTC")),
            ];
            cols.extend(f.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.push(Arc::new(reason.finish()));
            cols.push(Arc::new(scenario.finish()));
            cols.push(Arc::new(tags.finish()));
            let batch = RecordBatch::try_new(positions_schema(), cols)
                .map_err(|e| coded(codes::INTERNAL_ERROR, format!("active positions: {e}")))?;
            to_pyarrow_table(py, batch)
        })
    }

    /// Every position closed so far, in closing order.
    fn closed_positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("ExecutionSimulator.closed_positions()", || {
            let st = &self.state;
            let n = st.closed.len();
            let mut id = UInt64Builder::with_capacity(n);
            let mut sym = StringBuilder::with_capacity(n, n * 6);
            let mut dir = StringBuilder::with_capacity(n, n * 5);
            let mut ot = StringBuilder::with_capacity(n, n * 6);
            let mut t: Vec<TimestampMicrosecondBuilder> = (0..4)
                .map(|_| TimestampMicrosecondBuilder::with_capacity(n))
                .collect();
            let mut f1: Vec<Float64Builder> =
                (0..7).map(|_| Float64Builder::with_capacity(n)).collect();
            let mut exit_reason = StringBuilder::with_capacity(n, n * 10);
            let mut f2: Vec<Float64Builder> =
                (0..5).map(|_| Float64Builder::with_capacity(n)).collect();
            let mut in_entry = BooleanBuilder::with_capacity(n);
            let mut ambiguous = BooleanBuilder::with_capacity(n);
            let mut reason = StringBuilder::new();
            let mut scenario = StringBuilder::new();
            let mut tags = StringBuilder::new();
            for c in &st.closed {
                id.append_value(c.id);
                sym.append_value(&st.sim.spec(c.symbol).symbol);
                dir.append_value(c.direction.as_str());
                ot.append_value(c.order_type.as_str());
                t[0].append_value(c.placement_time);
                t[1].append_value(c.entry_time);
                t[2].append_option(c.trigger_time);
                t[3].append_value(c.exit_time);
                for (b, v) in f1.iter_mut().zip([
                    c.entry_price,
                    c.exit_price,
                    c.lots,
                    c.initial_stop_loss,
                    c.initial_take_profit,
                    c.stop_loss,
                    c.take_profit,
                ]) {
                    b.append_value(v);
                }
                exit_reason.append_value(c.reason.as_str());
                for (b, v) in f2.iter_mut().zip([
                    c.gross_pnl,
                    c.entry_fee,
                    c.exit_fee,
                    c.net_pnl,
                    c.r_multiple,
                ]) {
                    b.append_value(v);
                }
                in_entry.append_value(c.in_entry_candle);
                ambiguous.append_value(c.ambiguous);
                let m = st.meta(c.meta);
                reason.append_option(m.and_then(|m| m.reason.as_deref()));
                scenario.append_option(m.and_then(|m| m.scenario.as_deref()));
                tags.append_option(m.and_then(|m| m.tags.as_deref()));
            }
            let mut cols: Vec<ArrayRef> = vec![
                Arc::new(id.finish()),
                Arc::new(sym.finish()),
                Arc::new(dir.finish()),
                Arc::new(ot.finish()),
            ];
            cols.extend(
                t.iter_mut()
                    .map(|b| Arc::new(b.finish().with_timezone("UTC")) as ArrayRef),
            );
            cols.extend(f1.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.push(Arc::new(exit_reason.finish()));
            cols.extend(f2.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.push(Arc::new(in_entry.finish()));
            cols.push(Arc::new(ambiguous.finish()));
            cols.push(Arc::new(reason.finish()));
            cols.push(Arc::new(scenario.finish()));
            cols.push(Arc::new(tags.finish()));
            let batch = RecordBatch::try_new(closed_schema(), cols)
                .map_err(|e| coded(codes::INTERNAL_ERROR, format!("closed positions: {e}")))?;
            to_pyarrow_table(py, batch)
        })
    }

    /// The symbols of the active positions (creation order, without repeats).
    fn active_symbols(&self) -> PyResult<Vec<String>> {
        guard("ExecutionSimulator.active_symbols()", || {
            let mut out: Vec<String> = Vec::new();
            for p in self.state.sim.active_positions() {
                let s = &self.state.sim.spec(p.symbol).symbol;
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
            Ok(out)
        })
    }

    /// Counters: signals processed, rejections per reason, orders expired/cancelled, fees,
    /// balance.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard("ExecutionSimulator.stats()", || {
            let s = self.state.sim.stats();
            let d = PyDict::new(py);
            d.set_item("signals_processed", s.signals_processed)?;
            for r in omega_exec_core::RejectReason::ALL {
                d.set_item(format!("rejected_{}", r.as_str()), s.rejected_for(r))?;
            }
            d.set_item("orders_expired", s.orders_expired)?;
            d.set_item("orders_cancelled", s.orders_cancelled)?;
            d.set_item("fees_total", s.fees_total)?;
            d.set_item("balance", self.state.sim.balance())?;
            Ok(d)
        })
    }

    /// Sets the equity that `risk_percent` sizing uses for the next fills.
    fn set_equity(&mut self, equity: f64) -> PyResult<()> {
        if !equity.is_finite() {
            return Err(coded(
                codes::INVALID_PARAMETER,
                format!("equity: must be finite, got {equity}"),
            ));
        }
        self.state.sim.set_equity(equity);
        Ok(())
    }

    /// Test-only: panics inside the guard, to check that panics surface as 5005.
    fn _panic_for_tests(&self) -> PyResult<()> {
        guard("ExecutionSimulator._panic_for_tests()", || {
            panic!("injected panic (test hook)")
        })
    }
}

fn unreachable_symbol() -> PyResult<SymbolId> {
    Err(coded(codes::INTERNAL_ERROR, "no symbol for the bar"))
}

/// The open/high/low/close columns of the candle table `what`, which must have `n` rows like
/// the table `rows_of` (2006 otherwise).
fn ohlc_columns(
    b: &RecordBatch,
    what: &str,
    n: usize,
    rows_of: &str,
) -> PyResult<[ScalarBuffer<f64>; 4]> {
    if b.num_rows() != n {
        return Err(coded(
            codes::BID_ASK_MISMATCH,
            format!("{what}: has {} rows, {rows_of} has {n}", b.num_rows()),
        ));
    }
    Ok([
        f64_column(b, "open", what)?,
        f64_column(b, "high", what)?,
        f64_column(b, "low", what)?,
        f64_column(b, "close", what)?,
    ])
}

/// Row `i` of a candle table's columns.
#[inline]
fn candle_at(ts: &[i64], ohlc: &[ScalarBuffer<f64>; 4], i: usize) -> Candle {
    Candle {
        ts: ts[i],
        open: ohlc[0][i],
        high: ohlc[1][i],
        low: ohlc[2][i],
        close: ohlc[3][i],
    }
}

/// Row `i` of the optional ask table's columns.
#[inline]
fn ask_candle_at(
    ohlc: &Option<[ScalarBuffer<f64>; 4]>,
    ts: &Option<ScalarBuffer<i64>>,
    i: usize,
) -> Option<Candle> {
    match (ohlc, ts) {
        (Some(a), Some(at)) => Some(candle_at(at, a, i)),
        _ => None,
    }
}

/// The id of the symbol `name`, looked up only when it differs from the previous row's (`last`);
/// an unknown one is reported with its row (`what`: "signal" or "bar").
fn cached_symbol(
    sim: &ExecutionSimulator,
    last: &mut Option<(String, SymbolId)>,
    name: &str,
    what: &str,
    i: usize,
) -> PyResult<SymbolId> {
    if let Some((s, id)) = last {
        if s == name {
            return Ok(*id);
        }
    }
    let id = sim.symbol_id(name).map_err(|e| row_error(&e, what, i))?;
    *last = Some((name.to_string(), id));
    Ok(id)
}

/// A simulator error re-coded with the table row it came from (`what`: "signal" or "bar").
fn row_error(e: &omega_exec_core::ExecError, what: &str, i: usize) -> PyErr {
    coded(
        e.code(),
        format!("{} ({what} row {i})", strip_code(&e.to_string())),
    )
}

/// `[NNNN] NAME: detail` → `detail` (the caller re-codes it with a row suffix).
fn strip_code(s: &str) -> &str {
    match s.find(": ") {
        Some(i) if s.starts_with('[') => &s[i + 2..],
        _ => s,
    }
}
