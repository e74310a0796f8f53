//! The bodies of the fuzz targets. Each takes arbitrary bytes and panics only when it finds a bug:
//! every input must end in a valid result or a coded error (`[NNNN] NAME: ...` from the shared
//! table, in the range that belongs to the step), never a panic (a run that panics is caught by
//! the runner as 5005, which these checks treat as a finding), a hang or a result that breaks the
//! documented invariants.
//!
//! * [`config_json`]: bytes → `parse_config`; a valid config's canonical JSON must parse back to
//!   the same config id, and the config must run on a small fixed data set (bars, ticks and a
//!   signals table) to a result or a coded error.
//! * [`signals_ipc`]: bytes → Arrow IPC stream → `SignalTable::from_record_batch` (1001/3001 for
//!   bad tables); a decoded table must round-trip and run as a `signals` strategy, in both
//!   variants, on bars and on ticks.
//! * [`bars`]: bytes → a structured bar or tick set (lengths, timestamps, prices with NaN, ±inf,
//!   zero, negative, huge and tiny values, one-sided data with odd spreads) → `Bars::from_vecs` /
//!   `Ticks::from_vecs`. An independent oracle checks the verdict both ways: accepted data must
//!   satisfy every rule of DESIGN §3, rejected data must break one (2001–2008, or 1001 for the
//!   spread/pip arguments); accepted bars are then run through two strategies.
//!
//! This file is shared: `fuzz/src/lib.rs` exposes it to the cargo-fuzz binaries, and
//! `crates/loop/tests/fuzz_inputs.rs` includes it with `#[path]` for the libFuzzer-free run on
//! stable Rust. It may only use crates both have (omega-loop, omega-exec-core, arrow-*,
//! serde_json).

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use omega_exec_core::codes;
use omega_loop::runner::run_one;
use omega_loop::synthetic::synthetic_bars;
use omega_loop::{parse_config, Bars, DataSet, LoopError, RunConfig, SignalTable, Ticks};

/// Bars of the fixed data set (few, so that one run costs well under a millisecond).
const N_BARS: usize = 240;
const START_US: i64 = 1_704_182_400_000_000; // 2024-01-02 08:00 UTC
const MIN_US: i64 = 60_000_000;

/// Asserts that `e` is a well-formed coded error whose code lies in one of `allowed` ranges.
pub fn assert_coded(e: &LoopError, allowed: &[(u16, u16)], what: &str) {
    let c = e.code();
    assert_eq!(
        codes::lookup(c.code),
        Some(c),
        "{what}: code {} not in the table",
        c.code
    );
    let msg = e.to_string();
    let prefix = format!("[{}] {}: ", c.code, c.name);
    assert!(
        msg.starts_with(&prefix),
        "{what}: message {msg:?} lacks {prefix:?}"
    );
    assert!(
        !matches!(e, LoopError::Panic { .. }),
        "{what}: the run panicked (caught as 5005): {msg}"
    );
    assert!(
        allowed.iter().any(|&(lo, hi)| (lo..=hi).contains(&c.code)),
        "{what}: unexpected code {} for this step: {msg}",
        c.code
    );
}

/// Codes a run may legitimately end with: config/parameter (1xxx) or data (2xxx) problems,
/// e.g. a config naming a symbol without data, or a window with no bars.
const RUN_CODES: &[(u16, u16)] = &[(1000, 1999), (2000, 2999), (3001, 3001)];

fn signal_rows(ts: &[i64], bid: &[f64]) -> SignalTable {
    use omega_exec_core::{Direction, OrderType};
    use omega_loop::signals::SignalRow;
    let mut rows = Vec::new();
    for (k, i) in (7..ts.len()).step_by(13).enumerate() {
        let long = k % 2 == 0;
        let px = bid[i];
        let s = if long { 1.0 } else { -1.0 };
        let order_type = [OrderType::Market, OrderType::Limit, OrderType::Stop][k % 3];
        let entry = match order_type {
            OrderType::Market => None,
            OrderType::Limit => Some(px - s * 0.0003),
            OrderType::Stop => Some(px + s * 0.0003),
        };
        let base = entry.unwrap_or(px);
        rows.push(SignalRow {
            ts: ts[i],
            symbol: "EURUSD".into(),
            direction: if long {
                Direction::Long
            } else {
                Direction::Short
            },
            order_type,
            entry_price: entry,
            stop_loss: base - s * 0.0008,
            take_profit: base + s * 0.0012,
            reason: None,
            scenario: None,
            tags: None,
        });
    }
    // The rows are built valid; a failure here is a bug of this harness, not of the engine.
    SignalTable::from_rows(&rows).expect("fixed signal rows are valid")
}

/// EURUSD bars, USDJPY bars, GBPUSD ticks and the fixed signals table.
type BaseData = (Arc<Bars>, Arc<Bars>, Arc<Ticks>, Arc<SignalTable>);

/// The fixed data set: EURUSD bars, USDJPY bars, GBPUSD ticks, and a signals table under the
/// names the seeds use ("signals", "main") plus any name asked for via [`data_with_table`].
fn base_data() -> &'static BaseData {
    static DATA: OnceLock<BaseData> = OnceLock::new();
    DATA.get_or_init(|| {
        let eur = synthetic_bars("EURUSD", N_BARS, MIN_US, 5, START_US, 0.0001, 1.1);
        let jpy = synthetic_bars("USDJPY", N_BARS, 5 * MIN_US, 6, START_US, 0.01, 150.0);
        let tb = synthetic_bars("GBPUSD", N_BARS, MIN_US, 7, START_US, 0.0001, 1.27);
        let ticks = Ticks::from_vecs(
            "GBPUSD",
            tb.ts().to_vec(),
            tb.bid_close().to_vec(),
            Some(tb.ask_close().to_vec()),
            None,
            None,
        )
        .expect("synthetic ticks are valid");
        let sig = signal_rows(eur.ts(), eur.bid_close());
        (Arc::new(eur), Arc::new(jpy), Arc::new(ticks), Arc::new(sig))
    })
}

fn data_with_table(name: Option<&str>, table: Option<Arc<SignalTable>>) -> DataSet {
    let (eur, jpy, ticks, sig) = base_data();
    let mut d = DataSet::new();
    d.bars.insert("EURUSD".into(), Arc::clone(eur));
    d.bars.insert("USDJPY".into(), Arc::clone(jpy));
    d.ticks.insert("GBPUSD".into(), Arc::clone(ticks));
    let table = table.unwrap_or_else(|| Arc::clone(sig));
    for n in ["signals", "main"] {
        d.signals.insert(n.into(), Arc::clone(&table));
    }
    if let Some(n) = name {
        d.signals.insert(n.to_string(), table);
    }
    d
}

/// Runs one config with every table; checks the result's shape or the error's code.
fn run_checked(cfg: &RunConfig, data: &DataSet, what: &str) {
    match run_one(cfg, data, true, true) {
        Ok(r) => {
            assert_eq!(r.summary.num_rows(), 1, "{what}: one summary row");
            assert!(
                r.errors.is_empty(),
                "{what}: run_one returns errors, not rows"
            );
            let trades = r.trades.as_ref().map_or(0, |t| t.num_rows());
            let equity = r.equity.as_ref().map_or(0, |t| t.num_rows());
            let n_trades = summary_u64(&r.summary, "trades");
            assert_eq!(
                n_trades, trades as u64,
                "{what}: summary trades = trades rows"
            );
            let bars = summary_u64(&r.summary, "bars");
            assert_eq!(bars, equity as u64, "{what}: one equity point per bar");
        }
        Err(e) => assert_coded(&e, RUN_CODES, what),
    }
}

fn summary_u64(b: &RecordBatch, name: &str) -> u64 {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    b.column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
        .map_or(u64::MAX, |a| a.value(0))
}

// ---------------------------------------------------------------------------------------------

/// Target `config_json`.
pub fn config_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match parse_config(text) {
        Ok(c) => c,
        Err(e) => {
            assert_coded(&e, &[(1000, 1999)], "parse_config");
            return;
        }
    };
    let canon = cfg.canonical_json();
    let again = match parse_config(&canon) {
        Ok(c) => c,
        Err(e) => panic!("canonical JSON of a valid config does not parse: {e}\n{canon}"),
    };
    assert_eq!(
        again.canonical_json(),
        canon,
        "canonical JSON is a fixed point"
    );
    assert_eq!(
        again.config_id_hex(),
        cfg.config_id_hex(),
        "config id survives"
    );
    let table = match &cfg.strategy.params {
        omega_loop::config::StrategyParams::Signals(p) => Some(p.table.as_str()),
        _ => None,
    };
    run_checked(&cfg, &data_with_table(table, None), "config run");
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, returning None if it panics, without reporting that panic to the installed hook
/// (libFuzzer's aborts the process). Only for code outside omega_engine: see [`signals_ipc`].
fn outside_code<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                prev(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r.ok()
}

/// Target `signals_ipc`.
///
/// The IPC bytes are decoded by arrow-ipc's `StreamReader`, which panics on some malformed
/// streams (e.g. arrow-buffer "the offset of the new Buffer cannot exceed the existing length",
/// found by this target with arrow 60.1). omega_engine never decodes IPC in Rust (tables come
/// from Python through the C Data Interface), so such inputs are skipped rather than reported;
/// everything from `SignalTable::from_record_batch` on is checked.
pub fn signals_ipc(data: &[u8]) {
    let Some(batches) = outside_code(|| {
        let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(data), None).ok()?;
        // A few batches are enough; a stream of thousands of empty batches only costs time.
        let batches: Vec<RecordBatch> = reader.take(4).map_while(|b| b.ok()).collect();
        // Arrays the reader did not fully validate must not reach the engine as "valid" input:
        // Python hands over validated arrays only.
        batches
            .into_iter()
            .map(|b| {
                b.columns()
                    .iter()
                    .all(|c| c.to_data().validate_full().is_ok())
                    .then_some(b)
            })
            .collect::<Option<Vec<_>>>()
    })
    .flatten() else {
        return;
    };
    for batch in &batches {
        check_signal_batch(batch);
    }
}

/// Decodes one batch as a signals table and, when it is valid, runs it.
pub fn check_signal_batch(batch: &RecordBatch) {
    let table = match SignalTable::from_record_batch(batch) {
        Ok(t) => t,
        Err(e) => {
            assert_coded(&e, &[(1001, 1001), (3001, 3001)], "SignalTable decode");
            return;
        }
    };
    assert_eq!(table.len(), batch.num_rows(), "one signal per row");
    let back = table.to_record_batch();
    let again = match SignalTable::from_record_batch(&back) {
        Ok(t) => t,
        Err(e) => panic!("a decoded signals table does not decode again: {e}"),
    };
    assert_eq!(again.to_record_batch(), back, "signals round trip");
    let table = Arc::new(table);
    for (symbol, variant) in [("EURUSD", "v2"), ("EURUSD", "v1_parity"), ("GBPUSD", "v2")] {
        let json = format!(
            r#"{{"symbol": "{symbol}", "symbol_spec": {{"pip_size": 0.0001}},
                "strategy": {{"name": "signals", "params": {{"table": "fuzz"}}}},
                "execution": {{"variant": "{variant}", "pending_ttl_bars": 20}},
                "trade_management": {{"max_holding_bars": 30}},
                "costs": {{"slippage": {{"fixed_pips": 0.1, "random_pips": 0.3}}}}}}"#
        );
        let cfg = match parse_config(&json) {
            Ok(c) => c,
            Err(e) => panic!("harness config invalid: {e}"),
        };
        run_checked(
            &cfg,
            &data_with_table(Some("fuzz"), Some(Arc::clone(&table))),
            "signals run",
        );
    }
}

// ---------------------------------------------------------------------------------------------

/// Reads the fuzz input as a stream of small decisions; past the end every read is 0.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn i8(&mut self) -> i8 {
        self.u8() as i8
    }
    /// A price near `base`, or (1 time in 8) one of the values validation exists for.
    fn price(&mut self, base: f64) -> f64 {
        let b = self.u8();
        if b & 0x07 != 0 {
            return base + f64::from(self.i8()) * 1e-4;
        }
        match (b >> 3) % 12 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 0.0,
            4 => -0.0,
            5 => -base,
            6 => f64::MIN_POSITIVE,
            7 => 5e-324,
            8 => 1e308,
            9 => f64::MAX,
            10 => 1e-12,
            _ => base * 1e6,
        }
    }
    fn opt_param(&mut self) -> Option<f64> {
        match self.u8() % 10 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(-1.0),
            3 => Some(0.0),
            4 => Some(f64::INFINITY),
            5 => Some(1e300),
            6 => Some(0.0001),
            7 => Some(0.01),
            8 => Some(1.5),
            _ => Some(f64::from(self.u8()) * 0.1),
        }
    }
}

fn timestamps(r: &mut Bytes<'_>, n: usize) -> Vec<i64> {
    let mut ts = Vec::with_capacity(n);
    let mut t = START_US;
    for _ in 0..n {
        let b = r.u8();
        t = match b {
            0 => t,                                      // duplicate
            1 => t.saturating_sub(MIN_US),               // backwards
            2 => i64::MAX - 1_000,                       // far future
            3 => i64::MIN + 1_000,                       // far past
            4 => t.saturating_add(7 * 24 * 60 * MIN_US), // a week gap
            _ => t.saturating_add(i64::from(b) * 1_000_000),
        };
        ts.push(t);
    }
    ts
}

fn finite_positive(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite() && *x > 0.0)
}

fn ohlc_ok(o: &[f64], h: &[f64], l: &[f64], c: &[f64]) -> bool {
    (0..o.len()).all(|i| h[i] >= o[i].max(c[i]) && l[i] <= o[i].min(c[i]))
}

/// One-sided data: the spread and pip size must be given, finite, spread >= 0 and pip > 0, and
/// the derived side `bid + spread * pip` must itself be valid prices.
fn derived_ok(bid: &[Vec<f64>], spread: Option<f64>, pip: Option<f64>) -> bool {
    let (Some(s), Some(p)) = (spread, pip) else {
        return false;
    };
    if !(s.is_finite() && s >= 0.0 && p.is_finite() && p > 0.0) {
        return false;
    }
    let off = s * p;
    bid.iter()
        .all(|c| c.iter().all(|v| (v + off).is_finite() && v + off > 0.0))
}

fn strictly_increasing(ts: &[i64]) -> bool {
    ts.windows(2).all(|w| w[0] < w[1])
}

/// Target `bars` (bars or ticks, chosen by the first byte).
pub fn bars(data: &[u8]) {
    let mut r = Bytes { data, pos: 0 };
    let mode = r.u8();
    let n = usize::from(r.u8() % 48);
    if mode & 1 == 1 {
        return ticks(&mut r, n, mode);
    }
    let ts = timestamps(&mut r, n);
    let side = |r: &mut Bytes<'_>, base: f64| -> [Vec<f64>; 4] {
        let mut cols: [Vec<f64>; 4] = Default::default();
        for _ in 0..n {
            let o = r.price(base);
            let c = r.price(base);
            // Mostly consistent candles, sometimes a high below the body or a low above it.
            let (hi, lo) = (o.max(c), o.min(c));
            let h = match r.u8() % 6 {
                0 => hi - 2e-4,
                1 => r.price(base),
                _ => hi + f64::from(r.u8()) * 1e-5,
            };
            let l = match r.u8() % 6 {
                0 => lo + 2e-4,
                1 => r.price(base),
                _ => lo - f64::from(r.u8() % 100) * 1e-5,
            };
            for (col, v) in cols.iter_mut().zip([o, h, l, c]) {
                col.push(v);
            }
        }
        cols
    };
    let bid = side(&mut r, 1.1);
    let ask = if mode & 2 == 0 {
        Some(side(&mut r, 1.1002))
    } else {
        None
    };
    let (spread, pip) = (r.opt_param(), r.opt_param());
    let volume = (mode & 4 == 0).then(|| (0..n).map(|_| f64::from(r.u8())).collect());
    let verdict = Bars::from_vecs(
        "EURUSD",
        ts.clone(),
        bid.clone(),
        ask.clone(),
        volume,
        spread,
        pip,
    );
    let [bo, bh, bl, bc] = &bid;
    let mut valid = n > 0 && strictly_increasing(&ts);
    valid &= bid.iter().all(|c| finite_positive(c)) && ohlc_ok(bo, bh, bl, bc);
    match &ask {
        Some(a) => {
            valid &= a.iter().all(|c| finite_positive(c)) && ohlc_ok(&a[0], &a[1], &a[2], &a[3]);
        }
        None => valid &= derived_ok(&bid, spread, pip),
    }
    match verdict {
        Ok(b) => {
            assert!(valid, "invalid bars accepted");
            // Whatever was accepted (also a derived ask side) obeys every rule.
            assert_eq!(b.len(), n);
            assert!(strictly_increasing(b.ts()), "accepted unsorted timestamps");
            for (name, col) in [
                ("bid_open", b.bid_open()),
                ("bid_high", b.bid_high()),
                ("bid_low", b.bid_low()),
                ("bid_close", b.bid_close()),
                ("ask_open", b.ask_open()),
                ("ask_high", b.ask_high()),
                ("ask_low", b.ask_low()),
                ("ask_close", b.ask_close()),
            ] {
                assert!(finite_positive(col), "accepted bars have a bad {name}");
            }
            assert!(ohlc_ok(
                b.bid_open(),
                b.bid_high(),
                b.bid_low(),
                b.bid_close()
            ));
            assert!(ohlc_ok(
                b.ask_open(),
                b.ask_high(),
                b.ask_low(),
                b.ask_close()
            ));
            run_on_bars(b);
        }
        Err(e) => {
            assert_coded(&e, &[(2001, 2008), (1001, 1001)], "Bars validation");
            assert!(!valid, "valid bars rejected: {e}");
        }
    }
}

fn ticks(r: &mut Bytes<'_>, n: usize, mode: u8) {
    let ts = timestamps(r, n);
    let bid: Vec<f64> = (0..n).map(|_| r.price(1.27)).collect();
    let ask: Option<Vec<f64>> = (mode & 2 == 0).then(|| (0..n).map(|_| r.price(1.2702)).collect());
    let (spread, pip) = (r.opt_param(), r.opt_param());
    let verdict = Ticks::from_vecs("GBPUSD", ts.clone(), bid.clone(), ask.clone(), spread, pip);
    let mut valid = n > 0 && strictly_increasing(&ts) && finite_positive(&bid);
    valid &= match &ask {
        Some(a) => finite_positive(a),
        None => derived_ok(std::slice::from_ref(&bid), spread, pip),
    };
    match verdict {
        Ok(t) => {
            assert!(valid, "invalid ticks accepted");
            assert!(strictly_increasing(t.ts()), "accepted unsorted ticks");
            assert!(
                finite_positive(t.bid()) && finite_positive(t.ask()),
                "bad tick prices"
            );
        }
        Err(e) => {
            assert_coded(&e, &[(2001, 2008), (1001, 1001)], "Ticks validation");
            assert!(!valid, "valid ticks rejected: {e}");
        }
    }
}

fn run_on_bars(b: Bars) {
    let mut d = DataSet::from_bars(b);
    let (_, _, _, sig) = base_data();
    d.signals.insert("main".into(), Arc::clone(sig));
    for strategy in [
        r#"{"name": "sma_cross", "params": {"fast": 2, "slow": 3, "sl_pips": 1, "tp_pips": 1}}"#,
        r#"{"name": "donchian_breakout", "params": {"lookback": 2, "sl_atr": 1.0, "tp_pips": 2, "atr_period": 2}}"#,
        r#"{"name": "signals", "params": {"table": "main"}}"#,
    ] {
        let json = format!(
            r#"{{"symbol": "EURUSD", "symbol_spec": {{"pip_size": 0.0001}}, "strategy": {strategy},
                "execution": {{"gap_fills": true, "pending_ttl_bars": 3}},
                "trade_management": {{"trailing": {{"atr_mult": 1.0, "atr_period": 2}}}}}}"#
        );
        let cfg = match parse_config(&json) {
            Ok(c) => c,
            Err(e) => panic!("harness config invalid: {e}"),
        };
        run_checked(&cfg, &d, "run on fuzzed bars");
    }
}
