//! The quiet-bar path of `evaluate_bar` (taken when nothing but per-bar bookkeeping can happen)
//! against the general path: the same random sequences of bars, market and pending signals, stop
//! updates and both variants through two simulators, one forced onto the general path; after
//! every bar the positions, the closed records, the balance and the counters must be identical.

use super::*;
use crate::costs::{Commission, CommissionSchema};

fn spec() -> SymbolSpec {
    SymbolSpec {
        symbol: "EURUSD".into(),
        pip_size: 0.0001,
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

/// A small deterministic generator (SplitMix64): the test needs no seed from outside.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Prices on a 0.00001 grid, so levels and extremes often coincide exactly.
fn tick(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// One random bar at `ts` around `*price` (moved to the close), with a 0–2 point spread.
fn random_bar(rng: &mut Rng, price: &mut f64, ts: i64) -> (Candle, Candle) {
    let open = tick(*price);
    let close = tick(open + (rng.unit() - 0.5) * 0.0010);
    let high = tick(open.max(close) + rng.unit() * 0.0006);
    let low = tick(open.min(close) - rng.unit() * 0.0006);
    *price = close;
    let spread = tick(0.00001 * rng.below(3) as f64);
    let bid = Candle {
        ts,
        open,
        high,
        low,
        close,
    };
    let ask = Candle {
        ts,
        open: open + spread,
        high: high + spread,
        low: low + spread,
        close: close + spread,
    };
    (bid, ask)
}

/// A random market, limit or stop signal at `ts` around `close`, SL 3–17 pips, TP twice that.
fn random_signal(rng: &mut Rng, ts: i64, close: f64, meta: u32) -> Signal {
    let direction = if rng.below(2) == 0 {
        Direction::Long
    } else {
        Direction::Short
    };
    let s = direction.sign();
    let order_type = match rng.below(6) {
        0 => OrderType::Limit,
        1 => OrderType::Stop,
        _ => OrderType::Market,
    };
    let entry = match order_type {
        OrderType::Market => None,
        OrderType::Limit => Some(tick(close - s * 0.0003)),
        OrderType::Stop => Some(tick(close + s * 0.0003)),
    };
    let base = entry.unwrap_or(close);
    let sl_pips = 3.0 + rng.below(15) as f64;
    Signal {
        ts,
        symbol: 0,
        direction,
        order_type,
        entry_price: entry,
        stop_loss: tick(base - s * sl_pips * 0.0001),
        take_profit: tick(base + s * 2.0 * sl_pips * 0.0001),
        meta,
    }
}

/// With odds 1 in `odds.0` a stop update of the first open position (queued for the next bar),
/// with odds 1 in `odds.1` a random signal at bar `(bid, ask)`; the same for both simulators.
fn perturb(
    rng: &mut Rng,
    sims: &mut [&mut ExecutionSimulator; 2],
    (bid, ask): (Candle, Candle),
    meta: u32,
    odds: (u64, u64),
) {
    if rng.below(odds.0) == 0 {
        if let Some(p) = sims[0]
            .active_positions()
            .iter()
            .find(|p| p.status == PositionStatus::Open)
        {
            let (id, sl) = (p.id, p.stop_loss + p.direction.sign() * 0.0002);
            for sim in sims.iter_mut() {
                sim.queue_stop_update(id, sl, StopKind::Trailing);
            }
        }
    }
    if rng.below(odds.1) == 0 {
        let signal = random_signal(rng, bid.ts, bid.close, meta);
        let q = BarQuote {
            bid,
            ask: Some(ask),
        };
        let a = sims[0].process_signal(&signal, &q).unwrap();
        let b = sims[1].process_signal(&signal, &q).unwrap();
        assert_eq!(a, b, "bar {meta}");
    }
}

/// Both simulators in the same state: positions, closed records (drained into `closed`),
/// balance and counters.
fn assert_same(
    sims: &mut [&mut ExecutionSimulator; 2],
    closed: (&mut Vec<ClosedPosition>, &mut Vec<ClosedPosition>),
    seed: u64,
    at: usize,
) {
    sims[0].drain_closed_into(closed.0);
    sims[1].drain_closed_into(closed.1);
    assert_eq!(
        sims[0].active_positions(),
        sims[1].active_positions(),
        "seed {seed}, bar {at}"
    );
    assert_eq!(closed.0, closed.1, "seed {seed}, bar {at}");
    assert_eq!(
        sims[0].balance(),
        sims[1].balance(),
        "seed {seed}, bar {at}"
    );
    assert_eq!(sims[0].stats(), sims[1].stats(), "seed {seed}, bar {at}");
}

fn config(seed: u64, variant: Variant, gap_fills: bool) -> SimulatorConfig {
    let mut c = Commission::new(CommissionSchema::PerLot(3.0));
    c.min_fee = 0.5;
    SimulatorConfig {
        variant,
        gap_fills,
        pip_buffer_factor: if seed.is_multiple_of(2) { 0.0 } else { 0.5 },
        slippage: SlippageModel {
            fixed_pips: 0.1,
            random_pips: 0.3,
        },
        commission: Some(CommissionSet::uniform(c)),
        pending_ttl_bars: Some(5),
        base_seed: seed,
        ..SimulatorConfig::default()
    }
}

fn run(seed: u64, variant: Variant, gap_fills: bool) {
    let config = config(seed, variant, gap_fills);
    let mut quiet = ExecutionSimulator::new(config.clone(), vec![spec()]).unwrap();
    let mut general = ExecutionSimulator::new(config, vec![spec()]).unwrap();
    general.force_general = true;
    let mut rng = Rng(seed);
    let mut price = 1.1;
    let (mut closed_q, mut closed_g) = (Vec::new(), Vec::new());
    for k in 0..3_000i64 {
        let (bid, ask) = random_bar(&mut rng, &mut price, k * 60_000_000);
        for sim in [&mut quiet, &mut general] {
            sim.evaluate_bar(0, &bid, Some(&ask)).unwrap();
        }
        // Now and then a stop update (queued for the next bar) or a new signal.
        let mut sims = [&mut quiet, &mut general];
        perturb(&mut rng, &mut sims, (bid, ask), k as u32, (40, 8));
        assert_same(&mut sims, (&mut closed_q, &mut closed_g), seed, k as usize);
    }
    assert!(closed_q.len() > 50, "the sequence must close trades");
}

#[test]
fn quiet_bars_match_the_general_path() {
    for seed in 0..12 {
        run(seed, Variant::V2, seed.is_multiple_of(3));
        run(seed, Variant::V1Parity, seed % 3 == 1);
    }
}

/// `advance_quiet` over spans of random length against the general path bar by bar: after every
/// span and every bar between spans (where signals and stop updates happen) both simulators
/// must be in the same state.
fn run_spans(seed: u64, variant: Variant, gap_fills: bool) {
    let config = config(seed, variant, gap_fills);
    let mut quiet = ExecutionSimulator::new(config.clone(), vec![spec()]).unwrap();
    let mut general = ExecutionSimulator::new(config, vec![spec()]).unwrap();
    general.force_general = true;
    let mut rng = Rng(seed ^ 0x5EED);
    let n = 4_000usize;
    let mut price = 1.1;
    let candles: Vec<(Candle, Candle)> = (0..n)
        .map(|k| random_bar(&mut rng, &mut price, k as i64 * 60_000_000))
        .collect();
    let column = |f: fn(&(Candle, Candle)) -> f64| candles.iter().map(f).collect::<Vec<f64>>();
    let ts: Vec<i64> = candles.iter().map(|c| c.0.ts).collect();
    let (bo, bh, bl, bc) = (
        column(|c| c.0.open),
        column(|c| c.0.high),
        column(|c| c.0.low),
        column(|c| c.0.close),
    );
    let (ao, ah, al, ac) = (
        column(|c| c.1.open),
        column(|c| c.1.high),
        column(|c| c.1.low),
        column(|c| c.1.close),
    );
    let cols = CandleColumns {
        ts: &ts,
        bid_open: &bo,
        bid_high: &bh,
        bid_low: &bl,
        bid_close: &bc,
        ask_open: &ao,
        ask_high: &ah,
        ask_low: &al,
        ask_close: &ac,
    };
    let (mut closed_q, mut closed_g) = (Vec::new(), Vec::new());
    let (mut i, mut quiet_bars) = (0usize, 0usize);
    while i < n {
        let limit = (i + 1 + rng.below(24) as usize).min(n);
        let k = quiet.advance_quiet(0, &cols, i, limit);
        assert!((i..=limit).contains(&k));
        for (bid, ask) in &candles[i..k] {
            general.evaluate_bar(0, bid, Some(ask)).unwrap();
        }
        quiet_bars += k - i;
        assert_same(
            &mut [&mut quiet, &mut general],
            (&mut closed_q, &mut closed_g),
            seed,
            k,
        );
        if k == n {
            break;
        }
        // Bar k on the ordinary paths, then now and then a stop update or a signal.
        let (bid, ask) = candles[k];
        quiet.evaluate_bar_pair(0, bid, ask).unwrap();
        general.evaluate_bar(0, &bid, Some(&ask)).unwrap();
        let mut sims = [&mut quiet, &mut general];
        perturb(&mut rng, &mut sims, (bid, ask), k as u32, (6, 2));
        assert_same(&mut sims, (&mut closed_q, &mut closed_g), seed, k);
        i = k + 1;
    }
    assert!(
        closed_q.len() > 50,
        "seed {seed}: {} trades",
        closed_q.len()
    );
    match variant {
        // Spans must carry a good part of the bars (flat and with one or more open positions).
        Variant::V2 => assert!(quiet_bars > n / 4, "seed {seed}: {quiet_bars} quiet bars"),
        Variant::V1Parity => assert_eq!(quiet_bars, 0),
    }
}

#[test]
fn quiet_spans_match_the_general_path() {
    for seed in 0..12 {
        run_spans(seed, Variant::V2, seed.is_multiple_of(3));
        run_spans(seed, Variant::V1Parity, seed % 3 == 1);
    }
}
