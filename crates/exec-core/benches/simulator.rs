//! Simulator benchmarks (issue 2): 1,000 market signals through validation, sizing, random
//! slippage and commission; one bar evaluated for 1,000 open positions.
//! Targets: < 0.2 ms and < 0.02 ms.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use omega_exec_core::*;

const PIP: f64 = 0.0001;
const N: usize = 1_000;

fn spec() -> SymbolSpec {
    SymbolSpec {
        symbol: "EURUSD".into(),
        pip_size: PIP,
        tick_size: None,
        tick_value: None,
        contract_size: 100_000.0,
        volume_min: 0.01,
        volume_step: 0.01,
        volume_max: 100.0,
        base_currency: "EUR".into(),
        quote_currency: "USD".into(),
        min_sl_distance_pips: None,
    }
}

fn config() -> SimulatorConfig {
    let mut c = Commission::new(CommissionSchema::PerMillionNotional(25.0));
    c.min_fee = 1.0;
    SimulatorConfig {
        slippage: SlippageModel {
            fixed_pips: 0.2,
            random_pips: if std::env::var("NORAND").is_ok() {
                0.0
            } else {
                0.5
            },
        },
        commission: Some(CommissionSet::uniform(c)),
        base_seed: 42,
        run_key: 7,
        ..SimulatorConfig::default()
    }
}

fn bar(ts: i64) -> (Candle, Candle) {
    let bid = Candle {
        ts,
        open: 1.1000,
        high: 1.1010,
        low: 1.0990,
        close: 1.1000,
    };
    let ask = Candle {
        ts,
        open: 1.1002,
        high: 1.1012,
        low: 1.0992,
        close: 1.1002,
    };
    (bid, ask)
}

/// 1,000 market signals on consecutive bars, alternating direction, stops 15-34 pips away.
fn signals() -> Vec<(Signal, BarQuote)> {
    (0..N)
        .map(|i| {
            let ts = i as i64 * 60_000_000;
            let (bid, ask) = bar(ts);
            let d = if i % 2 == 0 {
                Direction::Long
            } else {
                Direction::Short
            };
            let sl_pips = 15.0 + (i % 20) as f64;
            let s = Signal {
                ts,
                symbol: 0,
                direction: d,
                order_type: OrderType::Market,
                entry_price: None,
                stop_loss: 1.1001 - d.sign() * sl_pips * PIP,
                take_profit: 1.1001 + d.sign() * 2.0 * sl_pips * PIP,
                meta: i as u32,
            };
            (
                s,
                BarQuote {
                    bid,
                    ask: Some(ask),
                },
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let sigs = signals();
    // One simulator, reset between iterations (untimed): measures the signal path with warm
    // vectors, as in a run, not first-touch page faults of a fresh allocation.
    let mut sim = ExecutionSimulator::new(config(), vec![spec()]).unwrap();
    sim.reserve(N);
    c.bench_function("process_1000_market_signals", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                sim.reset();
                let t = std::time::Instant::now();
                for (s, q) in &sigs {
                    black_box(sim.process_signal(black_box(s), q).unwrap());
                }
                total += t.elapsed();
            }
            total
        })
    });

    // 1,000 open positions (all filled at ts 0), then one bar later that hits no level: every
    // position is tested, none closes, so the same simulator can be evaluated again.
    let mut sim = ExecutionSimulator::new(config(), vec![spec()]).unwrap();
    sim.reserve(N);
    let (b0, a0) = bar(0);
    for (s, _) in &sigs {
        let s = Signal { ts: 0, ..*s };
        sim.process_signal(
            &s,
            &BarQuote {
                bid: b0,
                ask: Some(a0),
            },
        )
        .unwrap();
    }
    assert_eq!(sim.active_positions().len(), N);
    let (b1, a1) = bar(60_000_000);
    c.bench_function("evaluate_bar_1000_open_positions", |b| {
        b.iter(|| {
            sim.evaluate_bar(0, black_box(&b1), Some(black_box(&a1)))
                .unwrap();
        })
    });
    assert_eq!(sim.active_positions().len(), N);
}

criterion_group!(benches, bench);
criterion_main!(benches);
