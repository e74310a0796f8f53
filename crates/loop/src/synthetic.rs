//! A realistic, seeded generator of bid/ask bars for demos, tests and benchmarks.
//!
//! Model (all randomness from one ChaCha8 stream seeded with `seed`; only `rand_core` is used,
//! with our own normal/exponential transforms, so the output is fixed for a seed on every
//! platform and every version of the `rand` ecosystem):
//!
//! - **Calendar**: bars at `start_us + k * timeframe_us`; for timeframes up to one day the FX
//!   weekend (Friday 22:00 UTC to Sunday 22:00 UTC) is skipped. The first bar after a weekend
//!   opens with a gap.
//! - **Volatility**: GARCH(1,1) on standardized returns (`ω = 1 − α − β`, `α = 0.05`,
//!   `β = 0.93`, so the variance multiplier mean-reverts to 1), times a two-state regime
//!   (calm ×0.8 / turbulent ×1.8, switching with small per-bar probabilities), times an
//!   intraday seasonality by UTC hour (quiet Asian session, London open, London/New York
//!   overlap, quiet rollover). The base volatility is 7 % a year.
//! - **Bars**: open = previous close (plus the gap after a weekend); close = open · e^r with
//!   r ~ N(0, σ²); high/low extend max/min(open, close) by exponential excursions of scale σ.
//! - **Spread** (pips): 0.6 in London/New York, 1.0 in the Asian session, 3.0 at rollover
//!   (21:00–22:59 UTC), widened by the volatility multiplier. ask = bid + spread on all four
//!   prices, so both candles are consistent OHLC.
//! - Prices are rounded to a tenth of a pip (the fractional pip of FX feeds); volume is a tick
//!   count that follows volatility.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::data::Bars;
use crate::error::{LoopError, Result};

const US_PER_HOUR: i64 = 3_600_000_000;
const US_PER_DAY: i64 = 24 * US_PER_HOUR;
const US_PER_WEEK: i64 = 7 * US_PER_DAY;
/// 1970-01-01 was a Thursday: offset that makes `(ts + OFFSET) / day % 7 == 0` on Mondays.
const MONDAY_OFFSET: i64 = 3 * US_PER_DAY;

/// Volatility multiplier by UTC hour (intraday seasonality).
const HOUR_VOL: [f64; 24] = [
    0.55, 0.6, 0.65, 0.6, 0.55, 0.55, 0.7, 1.1, // Asian session, London open at 07:00
    1.4, 1.3, 1.15, 1.1, 1.35, 1.55, 1.6, 1.45, // London morning, NY open, overlap
    1.3, 1.05, 0.9, 0.8, 0.7, 0.45, 0.4, 0.5, // NY afternoon, rollover 21-22
];

/// Base spread in pips by UTC hour.
fn hour_spread(hour: usize) -> f64 {
    match hour {
        21 | 22 => 3.0,
        23 | 0..=6 => 1.0,
        _ => 0.6,
    }
}

/// True when `ts` falls in the FX weekend (Friday 22:00 to Sunday 22:00 UTC).
#[inline]
pub fn is_fx_weekend(ts: i64) -> bool {
    // Position within the week, 0 = Monday 00:00 UTC.
    let w = (ts + MONDAY_OFFSET).rem_euclid(US_PER_WEEK);
    let fri_22 = 4 * US_PER_DAY + 22 * US_PER_HOUR;
    let sun_22 = 6 * US_PER_DAY + 22 * US_PER_HOUR;
    (fri_22..sun_22).contains(&w)
}

struct Draws {
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl Draws {
    /// Uniform in (0, 1): top 53 bits, shifted by half an ulp so ln() never sees 0.
    #[inline]
    fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box–Muller (pairs; the second value is kept for the next call).
    #[inline]
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    /// Standard exponential.
    #[inline]
    fn exponential(&mut self) -> f64 {
        -self.uniform().ln()
    }
}

/// Generates `n` bars; panics on invalid parameters (see [`try_synthetic_bars`] for input that
/// comes from users).
pub fn synthetic_bars(
    symbol: &str,
    n: usize,
    timeframe_us: i64,
    seed: u64,
    start_us: i64,
    pip_size: f64,
    start_price: f64,
) -> Bars {
    match try_synthetic_bars(
        symbol,
        n,
        timeframe_us,
        seed,
        start_us,
        pip_size,
        start_price,
    ) {
        Ok(b) => b,
        Err(e) => panic!("synthetic_bars: {e}"),
    }
}

/// Generates `n` bars of `timeframe_us` starting at (or after the weekend following)
/// `start_us`. Deterministic for a seed. Errors (1001) on `n == 0` or non-positive
/// timeframe/pip size/price.
pub fn try_synthetic_bars(
    symbol: &str,
    n: usize,
    timeframe_us: i64,
    seed: u64,
    start_us: i64,
    pip_size: f64,
    start_price: f64,
) -> Result<Bars> {
    if n == 0 {
        return Err(LoopError::param("n", "must be >= 1"));
    }
    if timeframe_us <= 0 {
        return Err(LoopError::param(
            "timeframe_us",
            format!("must be > 0, got {timeframe_us}"),
        ));
    }
    if !(pip_size.is_finite() && pip_size > 0.0) {
        return Err(LoopError::param(
            "pip_size",
            format!("must be finite and > 0, got {pip_size}"),
        ));
    }
    if !(start_price.is_finite() && start_price > 0.0) {
        return Err(LoopError::param(
            "start_price",
            format!("must be finite and > 0, got {start_price}"),
        ));
    }
    let intraday = timeframe_us < US_PER_DAY;
    let skip_weekends = timeframe_us <= US_PER_DAY;
    // σ per bar of the log price: 7 % a year over 252 trading days.
    let bar_sigma = 0.07 * (timeframe_us as f64 / (252.0 * US_PER_DAY as f64)).sqrt();
    let tick = pip_size / 10.0;
    let inv_tick = 1.0 / tick;
    let round = |p: f64| (p * inv_tick).round() * tick;

    let mut d = Draws {
        rng: ChaCha8Rng::seed_from_u64(seed),
        spare: None,
    };
    let (alpha, beta) = (0.05, 0.93);
    let omega = 1.0 - alpha - beta;
    let mut h = 1.0_f64; // GARCH variance multiplier (mean 1)
    let mut turbulent = false;
    let mut last_z2 = 1.0_f64;

    let mut ts = Vec::with_capacity(n);
    let mut cols: [Vec<f64>; 8] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut volume = Vec::with_capacity(n);

    let mut t = start_us;
    let mut log_close = start_price.ln();
    let mut prev_t: Option<i64> = None;
    while ts.len() < n {
        if skip_weekends && is_fx_weekend(t) {
            // Jump to the first bar slot at or after Sunday 22:00 UTC.
            let w = (t + MONDAY_OFFSET).rem_euclid(US_PER_WEEK);
            let reopen = t - w + 6 * US_PER_DAY + 22 * US_PER_HOUR;
            let k = (reopen - t + timeframe_us - 1) / timeframe_us;
            t += k.max(1) * timeframe_us;
            continue;
        }
        let hour = (t.rem_euclid(US_PER_DAY) / US_PER_HOUR) as usize;
        let season = if intraday { HOUR_VOL[hour] } else { 1.0 };
        h = omega + alpha * last_z2 * h + beta * h;
        // Regime switches: calm → turbulent rarely, turbulent → calm a bit faster.
        let u = d.uniform();
        if turbulent {
            if u < 0.002 {
                turbulent = false;
            }
        } else if u < 0.0005 {
            turbulent = true;
        }
        let regime = if turbulent { 1.8 } else { 0.8 };
        let vol_mult = h.sqrt() * regime;
        let sigma = bar_sigma * vol_mult * season;

        // Gap after a closed period: the missed time's worth of volatility.
        let mut log_open = log_close;
        if let Some(p) = prev_t {
            let missed = (t - p) / timeframe_us - 1;
            if missed > 0 {
                log_open += d.normal() * bar_sigma * (missed as f64).sqrt() * 0.3;
            }
        }
        let z = d.normal();
        last_z2 = z * z;
        log_close = log_open + z * sigma;
        let up = d.exponential() * sigma * 0.5;
        let down = d.exponential() * sigma * 0.5;
        let o = round(log_open.exp());
        let c = round(log_close.exp());
        let hi = round((log_open.max(log_close) + up).exp()).max(o.max(c));
        let lo = round((log_open.min(log_close) - down).exp())
            .min(o.min(c))
            .max(tick);
        let spread_pips =
            if intraday { hour_spread(hour) } else { 0.8 } * (0.7 + 0.3 * vol_mult).min(4.0);
        let s = round(spread_pips * pip_size).max(tick);

        ts.push(t);
        cols[0].push(o);
        cols[1].push(hi);
        cols[2].push(lo);
        cols[3].push(c);
        cols[4].push(o + s);
        cols[5].push(hi + s);
        cols[6].push(lo + s);
        cols[7].push(c + s);
        volume.push(
            (season * vol_mult * 60.0 * (0.5 + d.uniform()))
                .round()
                .max(1.0),
        );
        prev_t = Some(t);
        t += timeframe_us;
    }
    let [bo, bh, bl, bc, ao, ah, al, ac] = cols;
    Bars::from_vecs(
        symbol,
        ts,
        [bo, bh, bl, bc],
        Some([ao, ah, al, ac]),
        Some(volume),
        None,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: i64 = 60_000_000;
    /// 2024-01-01 00:00 UTC, a Monday.
    const MON_2024: i64 = 1_704_067_200_000_000;

    #[test]
    fn weekend_detection() {
        assert!(!is_fx_weekend(MON_2024));
        let fri = MON_2024 + 4 * US_PER_DAY;
        assert!(!is_fx_weekend(fri + 21 * US_PER_HOUR + 59 * M1));
        assert!(is_fx_weekend(fri + 22 * US_PER_HOUR));
        assert!(is_fx_weekend(fri + US_PER_DAY + 12 * US_PER_HOUR));
        assert!(is_fx_weekend(
            fri + 2 * US_PER_DAY + 21 * US_PER_HOUR + 59 * M1
        ));
        assert!(!is_fx_weekend(fri + 2 * US_PER_DAY + 22 * US_PER_HOUR));
    }

    #[test]
    fn deterministic_valid_and_skips_weekends() {
        let a = synthetic_bars("EURUSD", 20_000, M1, 7, MON_2024, 0.0001, 1.10);
        let b = synthetic_bars("EURUSD", 20_000, M1, 7, MON_2024, 0.0001, 1.10);
        let c = synthetic_bars("EURUSD", 20_000, M1, 8, MON_2024, 0.0001, 1.10);
        assert_eq!(a.bid_close(), b.bid_close());
        assert_eq!(a.ts(), b.ts());
        assert_ne!(a.bid_close(), c.bid_close());
        assert_eq!(a.len(), 20_000);
        // Bars::new validated OHLC and ordering; check the calendar and the spread here.
        assert!(a.ts().iter().all(|&t| !is_fx_weekend(t)));
        let gaps = a.ts().windows(2).filter(|w| w[1] - w[0] > M1).count();
        assert_eq!(gaps, 2, "20,000 minutes from Monday span two weekends");
        for i in 0..a.len() {
            let s = a.ask_close()[i] - a.bid_close()[i];
            assert!(s > 0.0 && s < 0.002, "row {i}: spread {s}");
            assert!((a.ask_high()[i] - a.bid_high()[i] - s).abs() < 1e-9);
        }
        // Mean of `value(row)` over the bars opening in UTC hour `h`.
        let mean_at_hour = |h: i64, value: &dyn Fn(usize) -> f64| {
            let v: Vec<f64> = (0..a.len())
                .filter(|&i| a.ts()[i].rem_euclid(US_PER_DAY) / US_PER_HOUR == h)
                .map(value)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        // Session-dependent spread: rollover wider than the London session on average.
        let spread = |i: usize| a.ask_close()[i] - a.bid_close()[i];
        assert!(mean_at_hour(21, &spread) > 2.0 * mean_at_hour(10, &spread));
        // Seasonality: the overlap moves more than the Asian session.
        let range = |i: usize| a.bid_high()[i] - a.bid_low()[i];
        assert!(mean_at_hour(14, &range) > 1.5 * mean_at_hour(3, &range));
        // Plausible price level after two weeks.
        let last = *a.bid_close().last().unwrap();
        assert!(last > 0.9 && last < 1.3, "{last}");
    }

    #[test]
    fn golden_values_are_pinned() {
        let a = synthetic_bars("EURUSD", 3, M1, 42, MON_2024, 0.0001, 1.10);
        // Pinned outputs of the ChaCha8 stream for seed 42 (regenerate only on a deliberate
        // model change).
        assert_eq!(a.ts(), &[MON_2024, MON_2024 + M1, MON_2024 + 2 * M1]);
        let closes: Vec<String> = a.bid_close().iter().map(|c| format!("{c:.5}")).collect();
        assert_eq!(closes, GOLDEN);
    }
    const GOLDEN: [&str; 3] = ["1.09998", "1.09999", "1.10002"];

    #[test]
    fn daily_and_hourly_timeframes() {
        let d = synthetic_bars("EURUSD", 30, US_PER_DAY, 1, MON_2024, 0.0001, 1.1);
        assert!(d.ts().iter().all(|&t| !is_fx_weekend(t)));
        assert_eq!(d.ts()[5] - d.ts()[4], 3 * US_PER_DAY, "Fri → Mon");
        let h = synthetic_bars("USDJPY", 500, US_PER_HOUR, 1, MON_2024, 0.01, 150.0);
        assert!(h.bid_close().iter().all(|&c| c > 100.0 && c < 200.0));
        let w = synthetic_bars("EURUSD", 10, US_PER_WEEK, 1, MON_2024, 0.0001, 1.1);
        assert_eq!(w.len(), 10);
    }

    #[test]
    fn invalid_parameters_are_1001() {
        assert_eq!(
            try_synthetic_bars("X", 0, M1, 1, 0, 0.0001, 1.0)
                .unwrap_err()
                .code()
                .code,
            1001
        );
        assert_eq!(
            try_synthetic_bars("X", 5, 0, 1, 0, 0.0001, 1.0)
                .unwrap_err()
                .code()
                .code,
            1001
        );
        assert_eq!(
            try_synthetic_bars("X", 5, M1, 1, 0, -1.0, 1.0)
                .unwrap_err()
                .code()
                .code,
            1001
        );
        assert_eq!(
            try_synthetic_bars("X", 5, M1, 1, 0, 0.0001, f64::NAN)
                .unwrap_err()
                .code()
                .code,
            1001
        );
    }

    #[test]
    fn million_bars_fast_enough() {
        let t0 = std::time::Instant::now();
        let a = synthetic_bars("EURUSD", 1_000_000, M1, 3, MON_2024, 0.0001, 1.10);
        let dt = t0.elapsed();
        assert_eq!(a.len(), 1_000_000);
        // Debug builds are ~10x slower than release; the release target is well under 1 s.
        eprintln!("1M M1 bars in {dt:?}");
    }
}
