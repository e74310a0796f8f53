//! Peak memory of a summary-only `run_many` over 100,000 configs (issue 8 resource guard).
//!
//! A measurement more than a unit test, so it is ignored by default; run it in release mode:
//! `cargo test -p omega-loop --release --test memory -- --ignored --nocapture`.
//! It resets the kernel's peak-RSS mark after the inputs are built, runs the batch, and checks
//! that the peak grew by no more than the summary table plus a fixed allowance — i.e. no
//! trades/equity (or other per-config state) is kept.

#![cfg(target_os = "linux")]

use omega_loop::runner::{run_many, Include, RunManyOptions, SUMMARY_ROW_BYTES};
use omega_loop::synthetic::synthetic_bars;
use omega_loop::{parse_config, DataSet, RunConfig};

fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn configs(n: usize) -> Vec<RunConfig> {
    (0..n)
        .map(|k| {
            let (fast, slow, sl) = (2 + k % 40, 45 + (k / 40) % 50, 5 + k / 2000);
            let json = format!(
                r#"{{"symbol": "EURUSD", "symbol_spec": {{"pip_size": 0.0001}},
                    "strategy": {{"name": "sma_cross", "params": {{"fast": {fast}, "slow": {slow},
                    "sl_pips": {sl}, "tp_pips": {}}}}}}}"#,
                2 * sl
            );
            parse_config(&json).unwrap()
        })
        .collect()
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn summary_only_100k_configs_keeps_peak_memory_bounded() {
    let n = 100_000;
    let d = DataSet::from_bars(synthetic_bars(
        "EURUSD",
        2_000,
        60_000_000,
        3,
        1_704_067_200_000_000,
        0.0001,
        1.1,
    ));
    let cfgs = configs(n);
    // Reset the peak-RSS mark (VmHWM) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_kib("VmRSS:");
    let t = std::time::Instant::now();
    let r = run_many(
        &cfgs,
        &d,
        &RunManyOptions::default().with_include(Include::Summary),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    assert_eq!(r.summary.num_rows(), n);
    assert!(r.errors.is_empty());
    let trades: u64 = {
        use arrow_array::cast::AsArray;
        use arrow_array::types::UInt64Type;
        let a = r
            .summary
            .column_by_name("trades")
            .unwrap()
            .as_primitive::<UInt64Type>();
        a.values().iter().sum()
    };
    let table = r.summary.get_array_memory_size() as u64;
    let growth = (peak.saturating_sub(base)) * 1024;
    println!(
        "summary-only run_many: {n} configs × 2,000 bars in {secs:.1} s; {trades} trades not kept; \
         summary table {:.1} MiB; peak RSS growth {:.1} MiB (baseline {:.1} MiB)",
        table as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        base as f64 / 1024.0
    );
    // Bound: the summary table itself plus 32 MiB for the pool, chunk buffers and allocator
    // slack. Keeping even one trade row per trade would exceed it.
    let bound = table + (32 << 20);
    assert!(
        table < n as u64 * SUMMARY_ROW_BYTES,
        "summary rows fit their estimate"
    );
    assert!(growth < bound, "peak grew by {growth} B, bound {bound} B");
    assert!(
        trades * 280 > bound,
        "the check must be able to fail: trades would not fit"
    );
}
