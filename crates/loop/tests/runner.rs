//! End-to-end tests of the batch runner: determinism across thread counts (Arrow IPC bytes),
//! ordering, metrics recomputed from the trades/equity tables, panic isolation, cancel, progress
//! and the resource guard.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_ipc::writer::StreamWriter;
use omega_loop::runner::{
    estimate_result_bytes, run_many, run_one, Include, RunManyOptions, SUMMARY_ROW_BYTES,
    TRADE_ROW_BYTES,
};
use omega_loop::synthetic::synthetic_bars;
use omega_loop::{parse_config, DataSet, RunConfig};

const M1: i64 = 60_000_000;
/// 2024-01-01T00:00:00Z
const T0: i64 = 1_704_067_200_000_000;

fn data(n: usize) -> DataSet {
    data_tf(n, M1)
}

fn data_tf(n: usize, timeframe_us: i64) -> DataSet {
    let mut d = DataSet::new();
    d.add_bars(synthetic_bars(
        "EURUSD",
        n,
        timeframe_us,
        7,
        T0,
        0.0001,
        1.10,
    ));
    d.add_bars(synthetic_bars(
        "USDJPY",
        n,
        timeframe_us,
        11,
        T0,
        0.01,
        150.0,
    ));
    d
}

fn cfg(symbol: &str, strategy: &str, params: &str, extra: &str) -> RunConfig {
    let pip = if symbol == "USDJPY" { 0.01 } else { 0.0001 };
    let fx = if symbol == "USDJPY" {
        r#", "account": {"fx_rates": {"USDJPY": 150.0}}"#
    } else {
        ""
    };
    let json = format!(
        r#"{{"symbol": "{symbol}", "symbol_spec": {{"pip_size": {pip}}}, "seed": 42,
            "strategy": {{"name": "{strategy}", "params": {params}}}{fx}{extra}}}"#
    );
    parse_config(&json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

/// A grid that exercises every built-in strategy, both variants, random slippage, commission
/// and trade management, on two symbols.
fn grid() -> Vec<RunConfig> {
    let costs = r#", "costs": {"slippage": {"fixed_pips": 0.1, "random_pips": 0.5},
        "commission": {"default": {"schema": "per_lot", "rate": 3.5}}}"#;
    let v1 = r#", "execution": {"variant": "v1_parity"}"#;
    let tm = r#", "trade_management": {"max_holding_bars": 120, "break_even": {"trigger_pips": 8},
        "trailing": {"distance_pips": 12}}"#;
    let mut out = Vec::new();
    for (fast, slow) in [(5, 20), (10, 30), (20, 60)] {
        let p = format!(r#"{{"fast": {fast}, "slow": {slow}, "sl_pips": 15, "tp_pips": 30}}"#);
        out.push(cfg("EURUSD", "sma_cross", &p, costs));
        out.push(cfg("EURUSD", "ema_cross", &p, tm));
        out.push(cfg("USDJPY", "sma_cross", &p, v1));
    }
    out.push(cfg(
        "EURUSD",
        "donchian_breakout",
        r#"{"lookback": 30, "sl_pips": 10, "tp_pips": 25}"#,
        r#", "execution": {"pending_ttl_bars": 15}"#,
    ));
    out.push(cfg(
        "EURUSD",
        "zscore_reversion",
        r#"{"window": 50, "z_entry": 2.0, "limit_offset_pips": 1.0, "sl_atr": 2.0, "tp_atr": 3.0}"#,
        costs,
    ));
    out.push(cfg(
        "USDJPY",
        "rsi_reversion",
        r#"{"period": 14, "lower": 30, "upper": 70, "sl_pips": 20, "tp_pips": 20}"#,
        tm,
    ));
    out.push(cfg(
        "EURUSD",
        "sma_cross",
        r#"{"fast": 8, "slow": 21, "sl_pips": 10, "tp_pips": 10}"#,
        r#", "execution": {"variant": "v1_parity"}"#,
    ));
    out
}

fn ipc(b: &RecordBatch) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, &b.schema()).unwrap();
        w.write(b).unwrap();
        w.finish().unwrap();
    }
    buf
}

fn opts(threads: usize, include: Include) -> RunManyOptions {
    RunManyOptions::default()
        .with_threads(threads)
        .with_include(include)
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    let a = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
        .collect()
}

fn u64s(b: &RecordBatch, name: &str) -> Vec<u64> {
    let a = b.column_by_name(name).unwrap().as_primitive::<UInt64Type>();
    (0..a.len()).map(|i| a.value(i)).collect()
}

fn tss(b: &RecordBatch, name: &str) -> Vec<i64> {
    let a = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    a.values().to_vec()
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

#[test]
fn byte_identical_across_thread_counts() {
    let d = data(6_000);
    let g = grid();
    let base = run_many(&g, &d, &opts(1, Include::All)).unwrap();
    assert!(base.errors.is_empty(), "{:?}", base.errors);
    let trades = base.trades.as_ref().unwrap();
    assert!(
        trades.num_rows() > 50,
        "the grid must trade: {}",
        trades.num_rows()
    );
    let equity = base.equity.as_ref().unwrap();
    assert!(equity.num_rows() >= g.len() * 5_000);
    for threads in [2, 8] {
        let r = run_many(&g, &d, &opts(threads, Include::All)).unwrap();
        assert_eq!(
            ipc(&base.summary),
            ipc(&r.summary),
            "summary, {threads} threads"
        );
        assert_eq!(
            ipc(trades),
            ipc(r.trades.as_ref().unwrap()),
            "trades, {threads} threads"
        );
        assert_eq!(
            ipc(equity),
            ipc(r.equity.as_ref().unwrap()),
            "equity, {threads} threads"
        );
    }
    // The summary does not depend on what else is kept.
    let s = run_many(&g, &d, &opts(2, Include::Summary)).unwrap();
    assert!(s.trades.is_none() && s.equity.is_none());
    assert_eq!(ipc(&base.summary), ipc(&s.summary));
    let st = run_many(&g, &d, &opts(2, Include::SummaryTrades)).unwrap();
    assert!(st.equity.is_none());
    assert_eq!(ipc(trades), ipc(st.trades.as_ref().unwrap()));
}

#[test]
fn results_are_in_config_order_and_match_single_runs() {
    let d = data(4_000);
    let g = grid();
    let progress = Arc::new(AtomicUsize::new(0));
    let o = RunManyOptions {
        progress: progress.clone(),
        ..opts(3, Include::All)
    };
    let r = run_many(&g, &d, &o).unwrap();
    assert_eq!(progress.load(Ordering::Relaxed), g.len());
    assert_eq!(r.summary.num_rows(), g.len());
    assert_eq!(
        u64s(&r.summary, "config_index"),
        (0..g.len() as u64).collect::<Vec<_>>()
    );
    let ids = strs(&r.summary, "config_id");
    let syms = strs(&r.summary, "symbol");
    let strats = strs(&r.summary, "strategy");
    for (i, c) in g.iter().enumerate() {
        assert_eq!(ids[i].as_deref(), Some(c.config_id_hex().as_str()));
        assert_eq!(ids[i].as_ref().map(|s| s.len()), Some(16));
        assert_eq!(syms[i].as_deref(), Some(c.symbol.as_str()));
        assert_eq!(strats[i].as_deref(), Some(c.strategy_name()));
    }
    // Trades and equity are grouped by config, in config order.
    let tidx = u64s(r.trades.as_ref().unwrap(), "config_index");
    assert!(tidx.windows(2).all(|w| w[0] <= w[1]));
    let eidx = u64s(r.equity.as_ref().unwrap(), "config_index");
    assert!(eidx.windows(2).all(|w| w[0] <= w[1]));

    // Each config's rows equal those of a run on its own (config_index aside).
    for (i, c) in g.iter().enumerate() {
        let one = run_one(c, &d, true, true).unwrap();
        assert_eq!(u64s(&one.summary, "config_index"), vec![0]);
        let row = r.summary.slice(i, 1);
        for col in [
            "net_profit",
            "sharpe",
            "max_drawdown_pct",
            "fees_total",
            "cagr",
        ] {
            let (a, b) = (f64s(&row, col)[0], f64s(&one.summary, col)[0]);
            assert!(a.to_bits() == b.to_bits(), "config {i} {col}: {a} vs {b}");
        }
        let t = r.trades.as_ref().unwrap();
        let start = tidx.iter().position(|&x| x == i as u64).unwrap_or(0);
        let n = tidx.iter().filter(|&&x| x == i as u64).count();
        let mine = t.slice(start, n);
        let theirs = one.trades.as_ref().unwrap();
        assert_eq!(mine.num_rows(), theirs.num_rows(), "config {i}");
        for col in ["entry_price", "exit_price", "lots", "net_pnl", "r_multiple"] {
            assert_eq!(
                f64s(&mine, col)
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>(),
                f64s(theirs, col)
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>(),
                "config {i} {col}"
            );
        }
        assert_eq!(tss(&mine, "exit_time"), tss(theirs, "exit_time"));
    }
}

/// Two-pass sample statistics, independent of the engine's streaming code.
fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn close(a: f64, b: f64, what: &str) {
    let ok = (a.is_nan() && b.is_nan())
        || a == b
        || (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
    assert!(ok, "{what}: summary {a} vs recomputed {b}");
}

#[test]
fn metrics_recomputed_from_trades_and_equity() {
    // M15 bars: 8,000 bars span ~83 days, so the daily statistics have substance.
    let d = data_tf(8_000, 15 * M1);
    let g = grid();
    let r = run_many(&g, &d, &opts(2, Include::All)).unwrap();
    let (s, t, e) = (
        &r.summary,
        r.trades.as_ref().unwrap(),
        r.equity.as_ref().unwrap(),
    );
    let t_idx = u64s(t, "config_index");
    let net = f64s(t, "net_pnl");
    let rm = f64s(t, "r_multiple");
    let fees = f64s(t, "fees");
    let entry_t = tss(t, "entry_time");
    let exit_t = tss(t, "exit_time");
    let reason = strs(t, "reason");
    let amb = t.column_by_name("ambiguous").unwrap().as_boolean().clone();
    let e_idx = u64s(e, "config_index");
    let e_ts = tss(e, "timestamp");
    let e_eq = f64s(e, "equity");
    let variants = strs(s, "variant");
    let mut checked_trades = 0;
    for (i, _) in g.iter().enumerate() {
        let get = |c: &str| f64s(s, c)[i];
        let getu = |c: &str| u64s(s, c)[i];
        let rows: Vec<usize> = (0..t_idx.len()).filter(|&k| t_idx[k] == i as u64).collect();
        let nets: Vec<f64> = rows.iter().map(|&k| net[k]).collect();
        checked_trades += rows.len();
        // --- trade statistics ---
        assert_eq!(getu("trades"), rows.len() as u64, "config {i} trades");
        let wins: Vec<f64> = nets.iter().copied().filter(|&x| x > 0.0).collect();
        let losses: Vec<f64> = nets.iter().copied().filter(|&x| x <= 0.0).collect();
        assert_eq!(getu("wins"), wins.len() as u64);
        assert_eq!(getu("losses"), losses.len() as u64);
        let gp: f64 = wins.iter().sum();
        let gl: f64 = -losses.iter().sum::<f64>();
        close(get("gross_profit"), gp, "gross_profit");
        close(get("gross_loss"), gl, "gross_loss");
        close(get("net_profit"), nets.iter().sum(), "net_profit");
        let pf = if gl == 0.0 {
            if gp > 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        } else {
            gp / gl
        };
        close(get("profit_factor"), pf, "profit_factor");
        let init = get("initial_balance");
        close(
            get("return_pct"),
            100.0 * nets.iter().sum::<f64>() / init,
            "return_pct",
        );
        let rs: Vec<f64> = rows
            .iter()
            .map(|&k| rm[k])
            .filter(|x| x.is_finite())
            .collect();
        if rs.len() >= 2 {
            let (m, sd) = mean_std(&rs);
            close(get("expectancy_r"), m, "expectancy_r");
            close(get("sqn"), (rs.len() as f64).sqrt() * m / sd, "sqn");
        }
        assert_eq!(
            getu("ambiguous_exits"),
            rows.iter().filter(|&&k| amb.value(k)).count() as u64
        );
        if variants[i].as_deref() == Some("v2") {
            // v2 closes everything at the end, so the trades carry every booked fee.
            close(
                get("fees_total"),
                rows.iter().map(|&k| fees[k]).sum(),
                "fees_total",
            );
        }
        // --- equity statistics ---
        let pts: Vec<usize> = (0..e_idx.len()).filter(|&k| e_idx[k] == i as u64).collect();
        let eq: Vec<f64> = pts.iter().map(|&k| e_eq[k]).collect();
        let ts: Vec<i64> = pts.iter().map(|&k| e_ts[k]).collect();
        assert_eq!(getu("bars"), eq.len() as u64);
        let (mut peak, mut dd, mut ddp, mut run, mut maxrun) = (init, 0.0f64, 0.0f64, 0u64, 0u64);
        for &x in &eq {
            if x >= peak {
                peak = x;
                run = 0;
            } else {
                dd = dd.max(peak - x);
                ddp = ddp.max((peak - x) / peak);
                run += 1;
                maxrun = maxrun.max(run);
            }
        }
        close(get("max_drawdown_abs"), dd, "max_drawdown_abs");
        close(get("max_drawdown_pct"), 100.0 * ddp, "max_drawdown_pct");
        assert_eq!(getu("max_drawdown_duration_bars"), maxrun, "config {i}");
        close(get("final_equity"), *eq.last().unwrap(), "final_equity");
        // End-of-day equity per UTC day, returns against the previous day (first: initial).
        let day = 86_400_000_000i64;
        let mut eod: Vec<f64> = Vec::new();
        for k in 0..eq.len() {
            if k + 1 == eq.len() || ts[k + 1].div_euclid(day) != ts[k].div_euclid(day) {
                eod.push(eq[k]);
            }
        }
        let mut prev = init;
        let rets: Vec<f64> = eod
            .iter()
            .map(|&x| {
                let r = x / prev - 1.0;
                prev = x;
                r
            })
            .collect();
        let (m, sd) = mean_std(&rets);
        close(get("sharpe"), m / sd * 252f64.sqrt(), "sharpe");
        assert!(
            get("sharpe").is_finite() && dd > 0.0,
            "config {i}: a degenerate check"
        );
        let down =
            (rets.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / rets.len() as f64).sqrt();
        let sortino = if down == 0.0 {
            f64::NAN
        } else {
            m / down * 252f64.sqrt()
        };
        close(get("sortino"), sortino, "sortino");
        assert!(rets.len() > 60, "{} daily returns", rets.len());
        let years = (ts[ts.len() - 1] - ts[0]) as f64 / (365.25 * day as f64);
        let cagr = (eq[eq.len() - 1] / init).powf(1.0 / years) - 1.0;
        close(get("cagr"), cagr, "cagr");
        close(
            get("calmar"),
            if ddp == 0.0 { f64::NAN } else { cagr / ddp },
            "calmar",
        );
        // Exposure: a bar is in position when a trade is open at its equity point; the
        // end-of-data close comes after the last equity point.
        let in_pos = ts
            .iter()
            .filter(|&&b| {
                rows.iter().any(|&k| {
                    entry_t[k] <= b
                        && (b < exit_t[k]
                            || (b == exit_t[k] && reason[k].as_deref() == Some("end_of_data")))
                })
            })
            .count() as u64;
        if variants[i].as_deref() == Some("v2") {
            assert_eq!(
                getu("bars_in_position"),
                in_pos,
                "config {i} bars_in_position"
            );
            close(
                get("exposure_pct"),
                100.0 * in_pos as f64 / eq.len() as f64,
                "exposure_pct",
            );
        }
    }
    assert!(checked_trades > 50);
}

#[test]
fn a_panic_fails_only_its_config() {
    let d = data(3_000);
    let g = grid();
    let clean = run_many(&g, &d, &opts(2, Include::SummaryTrades)).unwrap();
    let o = RunManyOptions {
        panic_on_config: Some(3),
        ..opts(2, Include::SummaryTrades)
    };
    let r = run_many(&g, &d, &o).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].0, 3);
    assert_eq!(r.errors[0].1.code().code, 5005);
    let codes = r
        .summary
        .column_by_name("error_code")
        .unwrap()
        .as_primitive::<Int32Type>();
    let msgs = strs(&r.summary, "error");
    assert_eq!(msgs.len(), g.len());
    let net = r.summary.column_by_name("net_profit").unwrap();
    for (i, msg) in msgs.iter().enumerate() {
        if i == 3 {
            assert_eq!(codes.value(i), 5005);
            let m = msg.clone().unwrap();
            assert!(m.starts_with("[5005] FFI_PANIC_CAUGHT: config 3"), "{m}");
            assert!(net.is_null(i), "metrics are null");
        } else {
            assert!(codes.is_null(i) && msg.is_none() && net.is_valid(i));
            let (a, b) = (
                f64s(&r.summary, "net_profit")[i],
                f64s(&clean.summary, "net_profit")[i],
            );
            assert_eq!(a.to_bits(), b.to_bits(), "config {i}");
        }
    }
    // The failed config has no trades; the others keep theirs.
    let idx = u64s(r.trades.as_ref().unwrap(), "config_index");
    assert!(!idx.contains(&3));
    let clean_idx = u64s(clean.trades.as_ref().unwrap(), "config_index");
    assert_eq!(
        idx,
        clean_idx
            .into_iter()
            .filter(|&x| x != 3)
            .collect::<Vec<_>>()
    );
}

#[test]
fn per_config_errors_are_tabulated_and_run_one_returns_them() {
    let d = data(2_000);
    let mut g = grid();
    g.truncate(3);
    g.insert(
        1,
        cfg(
            "GBPUSD",
            "sma_cross",
            r#"{"fast": 5, "slow": 20, "sl_pips": 15, "tp_pips": 30}"#,
            "",
        ),
    );
    let r = run_many(&g, &d, &opts(2, Include::Summary)).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].0, 1);
    assert_eq!(r.errors[0].1.code().code, 1002);
    let codes = r
        .summary
        .column_by_name("error_code")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(codes.value(1), 1002);
    assert!(codes.is_null(0) && codes.is_null(2));
    let e = run_one(&g[1], &d, false, false).unwrap_err();
    assert_eq!(e.code().code, 1002);
}

#[test]
fn cancel_before_and_during_a_batch() {
    let d = data(20_000);
    let g: Vec<RunConfig> = (0..64)
        .map(|k| {
            let p = format!(
                r#"{{"fast": {}, "slow": {}, "sl_pips": 15, "tp_pips": 30}}"#,
                5 + k,
                40 + k
            );
            cfg("EURUSD", "sma_cross", &p, "")
        })
        .collect();
    let cancel = Arc::new(AtomicBool::new(true));
    let progress = Arc::new(AtomicUsize::new(0));
    let o = RunManyOptions {
        cancel: cancel.clone(),
        progress: progress.clone(),
        ..opts(1, Include::All)
    };
    let e = run_many(&g, &d, &o).unwrap_err();
    assert_eq!(e.code().code, 5002);
    assert_eq!(progress.load(Ordering::Relaxed), 0);

    // Cancel from another thread once two configs have finished.
    cancel.store(false, Ordering::Relaxed);
    let (c2, p2) = (cancel.clone(), progress.clone());
    let watcher = std::thread::spawn(move || {
        while p2.load(Ordering::Relaxed) < 2 {
            std::thread::yield_now();
        }
        c2.store(true, Ordering::Relaxed);
    });
    let e = run_many(&g, &d, &o).unwrap_err();
    watcher.join().unwrap();
    assert_eq!(e.code().code, 5002);
    let done = progress.load(Ordering::Relaxed);
    assert!(
        (2..g.len()).contains(&done),
        "cancel must stop the batch early: {done}"
    );
}

#[test]
fn resource_guard_fails_fast_and_summary_only_passes() {
    let d = data(10_000);
    let g: Vec<RunConfig> = (0..4)
        .map(|k| {
            let p = format!(
                r#"{{"fast": 2, "slow": {}, "sl_pips": 3, "tp_pips": 3}}"#,
                3 + k
            );
            cfg("EURUSD", "sma_cross", &p, "")
        })
        .collect();
    let o = RunManyOptions {
        memory_budget_bytes: 1 << 20,
        ..opts(2, Include::All)
    };
    let progress = o.progress.clone();
    let e = run_many(&g, &d, &o).unwrap_err();
    assert_eq!(e.code().code, 1007);
    assert!(e.to_string().contains("summary-only"), "{e}");
    assert_eq!(
        progress.load(Ordering::Relaxed),
        0,
        "fails before running anything"
    );
    let o = RunManyOptions {
        memory_budget_bytes: 1 << 20,
        ..opts(2, Include::Summary)
    };
    let r = run_many(&g, &d, &o).unwrap();
    assert_eq!(r.summary.num_rows(), g.len());
}

#[test]
fn resource_guard_also_checks_the_real_size_while_running() {
    // The up-front estimate assumes one trade per 100 bars; this grid trades far more often, so
    // a budget just above the estimate passes the first check and trips the running one.
    let d = data(10_000);
    let g: Vec<RunConfig> = (0..4)
        .map(|k| {
            let p = format!(
                r#"{{"fast": 2, "slow": {}, "sl_pips": 3, "tp_pips": 3}}"#,
                3 + k
            );
            cfg("EURUSD", "sma_cross", &p, "")
        })
        .collect();
    let full = run_many(&g, &d, &opts(2, Include::SummaryTrades)).unwrap();
    let rows = full.trades.as_ref().unwrap().num_rows() as u64;
    let est = estimate_result_bytes(&g, &d, true, false);
    let real = g.len() as u64 * SUMMARY_ROW_BYTES + rows * TRADE_ROW_BYTES;
    assert!(
        real > est,
        "precondition: the grid trades more than estimated ({real} vs {est})"
    );
    let o = RunManyOptions {
        memory_budget_bytes: est,
        ..opts(1, Include::SummaryTrades)
    };
    let e = run_many(&g, &d, &o).unwrap_err();
    assert_eq!(e.code().code, 1007);
    assert!(e.to_string().contains("summary-only"), "{e}");
}

#[test]
fn empty_batch_gives_empty_tables() {
    let d = data(100);
    let r = run_many(&[], &d, &opts(2, Include::All)).unwrap();
    assert_eq!(r.summary.num_rows(), 0);
    assert_eq!(r.trades.unwrap().num_rows(), 0);
    assert_eq!(r.equity.unwrap().num_rows(), 0);
}

#[test]
fn cancel_reaches_inside_a_long_run() {
    // Config 0 is short, config 1 long; the flag is set a fifth of the way into config 1, after
    // the runner's per-config check has passed, so only the engine's in-run poll can stop it.
    let mut d = DataSet::new();
    d.add_bars(synthetic_bars("EURUSD", 400_000, M1, 5, T0, 0.0001, 1.10));
    d.add_bars(synthetic_bars("GBPUSD", 100, M1, 6, T0, 0.0001, 1.25));
    let p = r#"{"fast": 10, "slow": 30, "sl_pips": 15, "tp_pips": 30}"#;
    let g = vec![
        cfg("GBPUSD", "sma_cross", p, ""),
        cfg("EURUSD", "sma_cross", p, ""),
    ];
    let t = std::time::Instant::now();
    run_one(&g[1], &d, false, false).unwrap();
    let full = t.elapsed();

    let o = opts(1, Include::Summary);
    let (c2, p2) = (o.cancel.clone(), o.progress.clone());
    let watcher = std::thread::spawn(move || {
        while p2.load(Ordering::Relaxed) < 1 {
            std::thread::yield_now();
        }
        let started = std::time::Instant::now();
        std::thread::sleep(full / 5);
        c2.store(true, Ordering::Relaxed);
        started
    });
    let e = run_many(&g, &d, &o).unwrap_err();
    let ended = std::time::Instant::now();
    let started = watcher.join().unwrap();
    assert_eq!(e.code().code, 5002);
    assert_eq!(
        o.progress.load(Ordering::Relaxed),
        1,
        "config 1 never finished"
    );
    let spent = ended - started;
    assert!(
        spent < full * 4 / 5,
        "config 1 ran {spent:?} of a full {full:?}: the in-run cancel poll did not stop it"
    );
}

#[test]
fn run_one_keeps_only_what_is_asked_for() {
    let d = data(3_000);
    let c = &grid()[0];
    let s = run_one(c, &d, false, false).unwrap();
    assert!(s.trades.is_none() && s.equity.is_none() && s.errors.is_empty());
    let t = run_one(c, &d, true, false).unwrap();
    assert!(t.trades.as_ref().unwrap().num_rows() > 0 && t.equity.is_none());
    let a = run_one(c, &d, true, true).unwrap();
    assert_eq!(a.equity.as_ref().unwrap().num_rows(), 3_000);
    assert_eq!(ipc(&s.summary), ipc(&a.summary));
    assert_eq!(
        ipc(t.trades.as_ref().unwrap()),
        ipc(a.trades.as_ref().unwrap())
    );
}
