//! Benchmarks of the bar loop (issue 3), on a seeded synthetic 1,000,000-bar M1 series:
//!
//! * `single/sma_cross_sl_tp`: one `sma_cross` config with SL/TP, summary only → ns per bar
//!   (target ≤ 10 ns/bar). Throughput is reported per bar.
//! * `single/w2_aligned`: the config of the peer suite's W2 (benchmarks/README.md), the Rust
//!   loop alone.
//! * `grid/threads/N`: a grid of distinct sma_cross configs (SL/TP) on the same bars, summary
//!   only, on N threads (1, 2 and all cores) → ns per bar-config (throughput per bar-config); the
//!   1 → 2 thread speed-up is the ratio of the two medians (target ≥ 1.8×).
//!
//! Sample sizes are criterion's minimum (10) and the grid group samples flat (one batch per
//! sample), so the whole bench finishes in a few minutes on two cores. The grid has 100 configs
//! by default (ns per bar-config does not depend on the grid size once every thread has several
//! configs); `OMEGA_BENCH_GRID=1000` runs the full 1,000-config grid (about 10× longer).
//! `OMEGA_BENCH_THREADS` adds a comma-separated list of thread counts (e.g. "4,8,16").
//! `OMEGA_BENCH_CPU=1` adds a wall/CPU-time report of one batch on 1 and 2 threads.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use omega_loop::engine::run_config;
use omega_loop::indicators::Sma;
use omega_loop::runner::{run_many, RunManyOptions};
use omega_loop::synthetic::synthetic_bars;
use omega_loop::{parse_config, DataSet, RunConfig};

const BARS: usize = 1_000_000;
const M1: i64 = 60_000_000;
const T0: i64 = 1_704_067_200_000_000;

fn data() -> DataSet {
    DataSet::from_bars(synthetic_bars("EURUSD", BARS, M1, 42, T0, 0.0001, 1.10))
}

fn sma(fast: u32, slow: u32, sl: u32, tp: u32) -> RunConfig {
    let json = format!(
        r#"{{"symbol": "EURUSD", "symbol_spec": {{"pip_size": 0.0001}}, "seed": 1,
            "strategy": {{"name": "sma_cross",
                          "params": {{"fast": {fast}, "slow": {slow}, "sl_pips": {sl}, "tp_pips": {tp}}}}}}}"#
    );
    match parse_config(&json) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn grid(n: usize) -> Vec<RunConfig> {
    // 10 fast × 10 slow × 10 SL/TP pairs = 1000 distinct configs (cycled when n > 1000).
    let mut out = Vec::with_capacity(n);
    'outer: loop {
        for f in 0..10u32 {
            for s in 0..10u32 {
                for k in 0..10u32 {
                    if out.len() == n {
                        break 'outer;
                    }
                    out.push(sma(5 + 2 * f, 30 + 10 * s, 10 + 2 * k, 20 + 3 * k));
                }
            }
        }
    }
    out
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn bench(c: &mut Criterion) {
    let d = data();

    let mut g = c.benchmark_group("single");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(BARS as u64));
    let one = parse_config(r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001}, "seed": 1,
        "strategy": {"name": "sma_cross", "params": {"fast": 20, "slow": 50, "sl_pips": 10, "tp_pips": 20}},
        "execution": {"pip_buffer_factor": 0.0, "gap_fills": true},
        "account": {"fixed_lots": 0.5, "risk_per_trade": null},
        "limits": {"max_open_positions": 1, "skip_exit_bar_signals": true}}"#).unwrap();
    g.bench_function("sma_cross_sl_tp", |b| {
        b.iter(|| black_box(run_config(black_box(&one), &d, false, false)))
    });
    // The config of the peer suite's W2 in its aligned mode (benchmarks/README.md), without
    // the Python call around it.
    let aligned = match parse_config(
        r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001}, "seed": 1,
            "strategy": {"name": "sma_cross",
                         "params": {"fast": 20, "slow": 50, "sl_pips": 10, "tp_pips": 20}},
            "execution": {"pip_buffer_factor": 0.0, "gap_fills": true},
            "account": {"fixed_lots": 0.5, "risk_per_trade": null},
            "limits": {"max_open_positions": 1, "skip_exit_bar_signals": true}}"#,
    ) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    };
    g.bench_function("w2_aligned", |b| {
        b.iter(|| black_box(run_config(black_box(&aligned), &d, false, false)))
    });
    g.finish();

    // Would sharing indicators between configs help? Per config, the sma_cross strategy pays two
    // incremental SMA updates per bar; a shared precomputation would instead read two
    // precomputed series. Both are measured here against the whole run above.
    let closes = d.bars["EURUSD"].bid_close().to_vec();
    let mut g = c.benchmark_group("indicator_share");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BARS as u64));
    g.bench_function("two_sma_updates", |b| {
        b.iter(|| {
            let (mut f, mut s) = (Sma::new(10), Sma::new(30));
            let mut acc = 0.0;
            for &x in &closes {
                let a = f.update(x).unwrap_or(0.0);
                let b = s.update(x).unwrap_or(0.0);
                acc += black_box(a - b);
            }
            acc
        })
    });
    let fast: Vec<f64> = {
        let mut f = Sma::new(10);
        closes
            .iter()
            .map(|&x| f.update(x).unwrap_or(f64::NAN))
            .collect()
    };
    let slow: Vec<f64> = {
        let mut s = Sma::new(30);
        closes
            .iter()
            .map(|&x| s.update(x).unwrap_or(f64::NAN))
            .collect()
    };
    g.bench_function("two_precomputed_reads", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for (a, b) in fast.iter().zip(&slow) {
                acc += black_box(a - b);
            }
            acc
        })
    });
    g.finish();

    let n = env_usize("OMEGA_BENCH_GRID").unwrap_or(100);
    let cfgs = grid(n);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = vec![1, 2, cores];
    if let Ok(extra) = std::env::var("OMEGA_BENCH_THREADS") {
        threads.extend(
            extra
                .split(',')
                .filter_map(|t| t.trim().parse::<usize>().ok()),
        );
    }
    threads.sort_unstable();
    threads.dedup();
    let mut g = c.benchmark_group("grid");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements((BARS * n) as u64));
    for t in threads {
        let opts = RunManyOptions::default().with_threads(t);
        g.bench_with_input(BenchmarkId::new("threads", t), &opts, |b, o| {
            b.iter(|| black_box(run_many(&cfgs, &d, o)))
        });
    }
    g.finish();
}

/// User+system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 Hz ticks).
fn process_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `OMEGA_BENCH_CPU=1`: one timed batch per thread count with wall and process CPU time. On a
/// shared machine the wall-clock speed-up is capped by the cores other processes leave free; the
/// CPU time shows whether the work itself grows with the thread count (it should not).
fn cpu_report() {
    if std::env::var("OMEGA_BENCH_CPU").ok().as_deref() != Some("1") {
        return;
    }
    let d = data();
    let n = env_usize("OMEGA_BENCH_GRID").unwrap_or(100);
    let cfgs = grid(n);
    for t in [1, 2] {
        let opts = RunManyOptions::default().with_threads(t);
        let (c0, w0) = (process_cpu_secs(), std::time::Instant::now());
        let r = run_many(&cfgs, &d, &opts);
        let wall = w0.elapsed().as_secs_f64();
        let cpu = process_cpu_secs()
            .zip(c0)
            .map(|(a, b)| a - b)
            .unwrap_or(f64::NAN);
        assert!(r.is_ok());
        println!(
            "cpu_report threads={t}: wall {wall:.3} s, cpu {cpu:.2} s, cpu/wall {:.2}, \
             {:.2} ns per bar-config (wall), {:.2} ns per bar-config (cpu)",
            cpu / wall,
            wall * 1e9 / (BARS * n) as f64,
            cpu * 1e9 / (BARS * n) as f64
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    cpu_report();
    Criterion::default().configure_from_args().final_summary();
}
