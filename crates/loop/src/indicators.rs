//! Incremental indicators: O(1) work per update (amortized for the rolling statistics), buffers
//! allocated once at construction, no allocation afterwards.
//!
//! Every indicator has `update(...) -> Option<f64>`: `None` until it has seen enough input
//! ("warm"), then the value including the newest input. `value()` returns the last value.

use std::collections::VecDeque;

/// Neumaier-compensated running sum: adding and removing values over millions of updates keeps
/// the error at the level of a fresh sum.
#[derive(Clone, Copy, Debug, Default)]
struct CompensatedSum {
    sum: f64,
    comp: f64,
}

impl CompensatedSum {
    #[inline]
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    #[inline]
    fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Simple moving average over a ring buffer. The running sum is recomputed exactly from the
/// buffer every 64 periods, which bounds the rounding drift of adding and removing values
/// (amortized O(1), far cheaper per bar than a compensated sum).
#[derive(Clone, Debug)]
pub struct Sma {
    buf: Vec<f64>,
    state: SmaState,
}

/// The scalar state of an [`Sma`] (everything but the ring buffer): `Copy`, so a block loop
/// keeps it in registers (see [`Sma::step`]).
#[derive(Clone, Copy, Debug)]
pub struct SmaState {
    pos: usize,
    count: usize,
    sum: f64,
    inv_period: f64,
    until_exact: usize,
}

impl Sma {
    /// `period >= 1`.
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Sma {
            buf: vec![0.0; period],
            state: SmaState {
                pos: 0,
                count: 0,
                sum: 0.0,
                inv_period: 1.0 / period as f64,
                until_exact: 64 * period,
            },
        }
    }

    pub fn period(&self) -> usize {
        self.buf.len()
    }

    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        Self::step(&mut self.state, &mut self.buf, x)
    }

    /// How many of the next updates are plain: warm, with no wrap of the ring position and no
    /// exact recomputation of the sum among them. [`Self::step_plain`] may run that many times
    /// in a row instead of [`Self::step`], with the same results.
    #[inline(always)]
    pub fn plain_run(st: &SmaState, buf: &[f64]) -> usize {
        let p = buf.len();
        if st.count != p {
            return 0;
        }
        (p - 1 - st.pos.min(p - 1)).min(st.until_exact.saturating_sub(1))
    }

    /// [`Self::step`] on a warm average whose ring position does not wrap and whose sum is not
    /// recomputed at this update (see [`Self::plain_run`]): the same arithmetic without the
    /// three tests.
    #[inline(always)]
    pub fn step_plain(st: &mut SmaState, buf: &mut [f64], x: f64) -> f64 {
        if let Some(slot) = buf.get_mut(st.pos) {
            st.sum += x - *slot;
            *slot = x;
        }
        st.until_exact -= 1;
        st.pos += 1;
        st.sum * st.inv_period
    }

    /// The state and the ring buffer, for [`Self::step`].
    #[inline(always)]
    pub fn parts(&mut self) -> (&mut SmaState, &mut [f64]) {
        (&mut self.state, &mut self.buf)
    }

    /// [`Self::update`] on the parts of an `Sma`: its state and its ring buffer `buf` (whose
    /// length is the period).
    #[inline(always)]
    pub fn step(st: &mut SmaState, buf: &mut [f64], x: f64) -> Option<f64> {
        let p = buf.len();
        if st.count == p {
            // Warm (every bar after the first `period`): one branch, no state besides the ring.
            let Some(slot) = buf.get_mut(st.pos) else {
                return (st.count == p).then_some(st.sum * st.inv_period);
            };
            st.sum += x - *slot;
            *slot = x;
            st.until_exact -= 1;
            if st.until_exact == 0 {
                st.sum = buf.iter().sum();
                st.until_exact = 64 * p;
            }
            st.pos += 1;
            if st.pos == p {
                st.pos = 0;
            }
            return Some(st.sum * st.inv_period);
        }
        if let Some(slot) = buf.get_mut(st.pos) {
            st.sum += x;
            *slot = x;
            st.count += 1;
        }
        st.pos += 1;
        if st.pos == p {
            st.pos = 0;
        }
        (st.count == p).then_some(st.sum * st.inv_period)
    }

    /// The average of the last `period` inputs; `None` while fewer were seen. Computed from the
    /// running sum, so it is the value the last `update` returned.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        let st = &self.state;
        (st.count == self.buf.len()).then_some(st.sum * st.inv_period)
    }
}

/// Exponential moving average, `alpha = 2 / (period + 1)`, seeded with the SMA of the first
/// `period` inputs (warm from the `period`-th input on).
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    period: usize,
    alpha: f64,
    count: usize,
    seed_sum: f64,
    ema: f64,
    value: Option<f64>,
}

impl Ema {
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Ema {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            count: 0,
            seed_sum: 0.0,
            ema: 0.0,
            value: None,
        }
    }

    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if self.count < self.period {
            self.count += 1;
            self.seed_sum += x;
            if self.count == self.period {
                self.ema = self.seed_sum / self.period as f64;
                self.value = Some(self.ema);
            }
        } else {
            self.ema += self.alpha * (x - self.ema);
            self.value = Some(self.ema);
        }
        self.value
    }

    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// How many of the next updates are plain (warm): all of them once warm.
    #[inline(always)]
    pub fn plain_run(&self) -> usize {
        if self.count < self.period {
            0
        } else {
            usize::MAX
        }
    }

    /// [`Self::update`] on a warm average: the same arithmetic without the warm-up test.
    #[inline(always)]
    pub fn step_plain(&mut self, x: f64) -> f64 {
        self.ema += self.alpha * (x - self.ema);
        self.value = Some(self.ema);
        self.ema
    }
}

/// Average true range with Wilder's smoothing: TR = max(high − low, |high − prev close|,
/// |low − prev close|) (the first bar's TR is high − low); the first ATR is the mean of the
/// first `period` TRs, then `atr = (atr · (period − 1) + tr) / period`.
#[derive(Clone, Debug)]
pub struct Atr {
    period: usize,
    count: usize,
    prev_close: Option<f64>,
    sum: f64,
    atr: f64,
    value: Option<f64>,
}

impl Atr {
    pub fn new(period: usize) -> Self {
        Atr {
            period: period.max(1),
            count: 0,
            prev_close: None,
            sum: 0.0,
            atr: 0.0,
            value: None,
        }
    }

    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let tr = match self.prev_close {
            Some(pc) => (high - low).max((high - pc).abs()).max((low - pc).abs()),
            None => high - low,
        };
        self.prev_close = Some(close);
        if self.count < self.period {
            self.count += 1;
            self.sum += tr;
            if self.count == self.period {
                self.atr = self.sum / self.period as f64;
                self.value = Some(self.atr);
            }
        } else {
            let p = self.period as f64;
            self.atr = (self.atr * (p - 1.0) + tr) / p;
            self.value = Some(self.atr);
        }
        self.value
    }

    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Rolling mean and population standard deviation over a window.
///
/// Keeps compensated sums of `x − r` and `(x − r)²` around a reference `r` that is re-anchored
/// to the window mean (with an exact recomputation from the buffer) every 64 windows, so the
/// variance never suffers the cancellation of raw sums of squares of prices: amortized O(1).
#[derive(Clone, Debug)]
pub struct RollingStats {
    buf: Vec<f64>,
    pos: usize,
    count: usize,
    reference: f64,
    s1: CompensatedSum,
    s2: CompensatedSum,
    since_exact: usize,
}

impl RollingStats {
    /// `window >= 1` (a z-score needs `window >= 2`).
    pub fn new(window: usize) -> Self {
        RollingStats {
            buf: vec![0.0; window.max(1)],
            pos: 0,
            count: 0,
            reference: 0.0,
            s1: CompensatedSum::default(),
            s2: CompensatedSum::default(),
            since_exact: 0,
        }
    }

    fn reanchor(&mut self) {
        let data = &self.buf[..self.count];
        let r = data.iter().sum::<f64>() / self.count as f64;
        let mut s1 = CompensatedSum::default();
        let mut s2 = CompensatedSum::default();
        for &x in data {
            s1.add(x - r);
            s2.add((x - r) * (x - r));
        }
        self.reference = r;
        self.s1 = s1;
        self.s2 = s2;
        self.since_exact = 0;
    }

    /// Adds `x`; returns `(mean, std)` once the window is full.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<(f64, f64)> {
        let w = self.buf.len();
        if self.count == 0 {
            self.reference = x;
        }
        if self.count == w {
            let d = self.buf[self.pos] - self.reference;
            self.s1.add(-d);
            self.s2.add(-(d * d));
        } else {
            self.count += 1;
            if self.count == w {
                // First full window: anchor on its mean right away.
                self.since_exact = usize::MAX - 1;
            }
        }
        let d = x - self.reference;
        self.s1.add(d);
        self.s2.add(d * d);
        self.buf[self.pos] = x;
        self.pos += 1;
        if self.pos == w {
            self.pos = 0;
        }
        if self.count < w {
            return None;
        }
        self.since_exact += 1;
        if self.since_exact >= 64 * w {
            self.reanchor();
        }
        let n = w as f64;
        let m1 = self.s1.value() / n;
        let var = (self.s2.value() / n - m1 * m1).max(0.0);
        Some((self.reference + m1, var.sqrt()))
    }

    /// `(x − mean) / std` of the full window including `x`; None while warming up or when the
    /// window is flat (std = 0).
    #[inline]
    pub fn zscore(&mut self, x: f64) -> Option<f64> {
        let (mean, std) = self.update(x)?;
        if std > 0.0 {
            Some((x - mean) / std)
        } else {
            None
        }
    }
}

/// Relative strength index with Wilder's smoothing: the first averages are the means of the
/// first `period` gains/losses, then `avg = (avg · (period − 1) + x) / period`.
/// RSI = 100 − 100 / (1 + avg_gain / avg_loss); 100 when there are no losses, 50 when flat.
#[derive(Clone, Debug)]
pub struct Rsi {
    period: usize,
    count: usize,
    prev: Option<f64>,
    avg_gain: f64,
    avg_loss: f64,
    value: Option<f64>,
}

impl Rsi {
    pub fn new(period: usize) -> Self {
        Rsi {
            period: period.max(1),
            count: 0,
            prev: None,
            avg_gain: 0.0,
            avg_loss: 0.0,
            value: None,
        }
    }

    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let ch = x - prev;
        let (g, l) = if ch > 0.0 { (ch, 0.0) } else { (0.0, -ch) };
        let p = self.period as f64;
        if self.count < self.period {
            self.count += 1;
            self.avg_gain += g;
            self.avg_loss += l;
            if self.count < self.period {
                return None;
            }
            self.avg_gain /= p;
            self.avg_loss /= p;
        } else {
            self.avg_gain = (self.avg_gain * (p - 1.0) + g) / p;
            self.avg_loss = (self.avg_loss * (p - 1.0) + l) / p;
        }
        let rsi = if self.avg_loss == 0.0 {
            if self.avg_gain == 0.0 {
                50.0
            } else {
                100.0
            }
        } else {
            100.0 - 100.0 / (1.0 + self.avg_gain / self.avg_loss)
        };
        self.value = Some(rsi);
        self.value
    }

    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Rolling maximum or minimum over the last `window` inputs: a monotonic deque of (index,
/// value), capacity reserved once (it never holds more than `window` entries).
#[derive(Clone, Debug)]
pub struct RollingExtreme {
    window: usize,
    is_max: bool,
    n: u64,
    deque: VecDeque<(u64, f64)>,
}

impl RollingExtreme {
    pub fn max(window: usize) -> Self {
        Self::new(window, true)
    }

    pub fn min(window: usize) -> Self {
        Self::new(window, false)
    }

    fn new(window: usize, is_max: bool) -> Self {
        let window = window.max(1);
        RollingExtreme {
            window,
            is_max,
            n: 0,
            deque: VecDeque::with_capacity(window + 1),
        }
    }

    /// Adds `x`; returns the extreme of the last `window` inputs once `window` inputs were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        // Drop entries the new value dominates (they can never be the extreme again).
        while let Some(&(_, v)) = self.deque.back() {
            let dominated = if self.is_max { v <= x } else { v >= x };
            if dominated {
                self.deque.pop_back();
            } else {
                break;
            }
        }
        self.deque.push_back((self.n, x));
        self.n += 1;
        // Drop the entry that left the window.
        while let Some(&(i, _)) = self.deque.front() {
            if i + (self.window as u64) < self.n {
                self.deque.pop_front();
            } else {
                break;
            }
        }
        self.value()
    }

    /// The current extreme (None until `window` inputs were seen).
    #[inline]
    pub fn value(&self) -> Option<f64> {
        if self.n < self.window as u64 {
            return None;
        }
        self.deque.front().map(|&(_, v)| v)
    }
}

/// Donchian channel: highest high and lowest low of the last `lookback` bars.
#[derive(Clone, Debug)]
pub struct Donchian {
    hi: RollingExtreme,
    lo: RollingExtreme,
}

impl Donchian {
    pub fn new(lookback: usize) -> Self {
        Donchian {
            hi: RollingExtreme::max(lookback),
            lo: RollingExtreme::min(lookback),
        }
    }

    /// Adds a bar; returns `(upper, lower)` over the last `lookback` bars including this one.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64) -> Option<(f64, f64)> {
        let h = self.hi.update(high);
        let l = self.lo.update(low);
        h.zip(l)
    }

    #[inline]
    pub fn value(&self) -> Option<(f64, f64)> {
        self.hi.value().zip(self.lo.value())
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index loops mirror the naive formulas
mod tests {
    use super::*;

    /// Deterministic random-walk prices (a tiny LCG keeps the test independent of the crate's
    /// RNG code).
    fn walk(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut p = 1.1;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                p += u * 0.001;
                p
            })
            .collect()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn sma_matches_naive() {
        let x = walk(5000, 1);
        for period in [1, 2, 7, 50] {
            let mut s = Sma::new(period);
            for i in 0..x.len() {
                let v = s.update(x[i]);
                if i + 1 < period {
                    assert_eq!(v, None);
                } else {
                    let naive = x[i + 1 - period..=i].iter().sum::<f64>() / period as f64;
                    assert!(close(v.unwrap(), naive, 1e-13), "period {period} i {i}");
                }
            }
        }
    }

    #[test]
    fn sma_no_drift_over_a_million_updates() {
        let x = walk(1_000_000, 9);
        let mut s = Sma::new(20);
        let mut last = None;
        for &v in &x {
            last = s.update(v);
        }
        let naive = x[x.len() - 20..].iter().sum::<f64>() / 20.0;
        assert!(close(last.unwrap(), naive, 1e-14));
    }

    #[test]
    fn ema_matches_naive() {
        let x = walk(500, 2);
        let period = 10;
        let mut e = Ema::new(period);
        let alpha = 2.0 / 11.0;
        let mut naive = x[..period].iter().sum::<f64>() / period as f64;
        for i in 0..x.len() {
            let v = e.update(x[i]);
            if i + 1 < period {
                assert_eq!(v, None);
            } else {
                if i + 1 > period {
                    naive = alpha * x[i] + (1.0 - alpha) * naive;
                }
                assert!(close(v.unwrap(), naive, 1e-13), "i {i}");
            }
        }
    }

    #[test]
    fn atr_matches_naive_wilder() {
        let c = walk(400, 3);
        let h: Vec<f64> = c
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.0002 * (1 + i % 3) as f64)
            .collect();
        let l: Vec<f64> = c
            .iter()
            .enumerate()
            .map(|(i, v)| v - 0.0003 * (1 + i % 2) as f64)
            .collect();
        let period = 14;
        let tr: Vec<f64> = (0..c.len())
            .map(|i| {
                if i == 0 {
                    h[0] - l[0]
                } else {
                    (h[i] - l[i])
                        .max((h[i] - c[i - 1]).abs())
                        .max((l[i] - c[i - 1]).abs())
                }
            })
            .collect();
        let mut a = Atr::new(period);
        let mut naive = 0.0;
        for i in 0..c.len() {
            let v = a.update(h[i], l[i], c[i]);
            if i + 1 < period {
                assert_eq!(v, None);
                continue;
            }
            if i + 1 == period {
                naive = tr[..period].iter().sum::<f64>() / period as f64;
            } else {
                naive = (naive * 13.0 + tr[i]) / 14.0;
            }
            assert!(close(v.unwrap(), naive, 1e-13), "i {i}");
        }
    }

    #[test]
    fn rolling_stats_match_naive_and_do_not_drift() {
        let x = walk(200_000, 4);
        for w in [2, 5, 60] {
            let mut r = RollingStats::new(w);
            for i in 0..x.len() {
                let v = r.update(x[i]);
                if i + 1 < w {
                    assert!(v.is_none());
                    continue;
                }
                if i % 997 != 0 && i + 1 != x.len() {
                    continue;
                }
                let win = &x[i + 1 - w..=i];
                let mean = win.iter().sum::<f64>() / w as f64;
                let std = (win.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / w as f64).sqrt();
                let (m, s) = v.unwrap();
                assert!(close(m, mean, 1e-12), "w {w} i {i}");
                assert!(
                    (s - std).abs() <= 1e-9 * std.max(1e-12) + 1e-13,
                    "w {w} i {i}: {s} vs {std}"
                );
            }
        }
        let mut z = RollingStats::new(3);
        assert_eq!(z.zscore(1.0), None);
        assert_eq!(z.zscore(1.0), None);
        assert_eq!(z.zscore(1.0), None, "flat window has no z-score");
        let v = z.zscore(4.0).unwrap(); // window 1, 1, 4: mean 2, std sqrt(2)
        assert!(close(v, 2.0 / 2f64.sqrt(), 1e-12));
    }

    #[test]
    fn rsi_matches_naive_wilder() {
        let x = walk(300, 5);
        let period = 14;
        let mut r = Rsi::new(period);
        let (mut ag, mut al) = (0.0, 0.0);
        for i in 0..x.len() {
            let v = r.update(x[i]);
            if i < period {
                assert_eq!(v, None, "i {i}");
                continue;
            }
            let ch = |k: usize| x[k] - x[k - 1];
            if i == period {
                ag = (1..=period).map(|k| ch(k).max(0.0)).sum::<f64>() / 14.0;
                al = (1..=period).map(|k| (-ch(k)).max(0.0)).sum::<f64>() / 14.0;
            } else {
                ag = (ag * 13.0 + ch(i).max(0.0)) / 14.0;
                al = (al * 13.0 + (-ch(i)).max(0.0)) / 14.0;
            }
            let naive = 100.0 - 100.0 / (1.0 + ag / al);
            assert!(close(v.unwrap(), naive, 1e-10), "i {i}");
        }
        let mut up = Rsi::new(2);
        up.update(1.0);
        up.update(2.0);
        assert_eq!(up.update(3.0), Some(100.0));
        let mut flat = Rsi::new(2);
        flat.update(1.0);
        flat.update(1.0);
        assert_eq!(flat.update(1.0), Some(50.0));
    }

    #[test]
    fn donchian_matches_naive_and_never_grows() {
        let c = walk(3000, 6);
        for lb in [1, 3, 20] {
            let mut d = Donchian::new(lb);
            let cap = d.hi.deque.capacity();
            for i in 0..c.len() {
                let v = d.update(c[i] + 0.0001, c[i] - 0.0001);
                if i + 1 < lb {
                    assert_eq!(v, None);
                    continue;
                }
                let win = &c[i + 1 - lb..=i];
                let hi = win.iter().cloned().fold(f64::MIN, f64::max) + 0.0001;
                let lo = win.iter().cloned().fold(f64::MAX, f64::min) - 0.0001;
                let (h, l) = v.unwrap();
                assert_eq!(h, hi);
                assert_eq!(l, lo);
            }
            assert_eq!(d.hi.deque.capacity(), cap, "no reallocation");
        }
    }
}
