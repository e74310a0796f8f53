//! Currency conversion (SEMANTICS §5–6): static rates and as-of time series.
//!
//! A pair `"EURUSD" -> 1.08` means 1 EUR = 1.08 USD, so EUR amounts are multiplied by the rate to
//! get USD and USD amounts divided by it to get EUR. A conversion `from -> to` looks for, in order:
//! the direct pair `{from}{to}`, the inverse pair `{to}{from}`, and a route via USD
//! (`from -> USD -> to`, each leg direct or inverse). For a pair that has both an as-of series and a
//! static rate, the series wins and the static rate is the fallback before its first point.
//!
//! Routes are resolved once (at simulator construction) into a [`FxPath`]; evaluating a path at a
//! timestamp allocates nothing and costs one binary search per series leg.

use std::collections::BTreeMap;

use crate::error::{ExecError, Result};
use crate::types::TimestampUs;

/// An as-of rate series of one pair: `rates[i]` holds from `ts[i]` until the next point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FxSeries {
    pub ts: Vec<TimestampUs>,
    pub rates: Vec<f64>,
}

/// The configured rates (part of [`crate::SimulatorConfig`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FxRates {
    /// Static rates by pair name, e.g. `"EURUSD" -> 1.08`.
    pub rates: BTreeMap<String, f64>,
    /// As-of series by pair name.
    pub series: BTreeMap<String, FxSeries>,
}

impl FxRates {
    /// Adds (or replaces) a static rate; builder style.
    pub fn with_rate(mut self, pair: &str, rate: f64) -> Self {
        self.rates.insert(pair.to_string(), rate);
        self
    }

    /// Adds (or replaces) an as-of series; builder style.
    pub fn with_series(mut self, pair: &str, ts: Vec<TimestampUs>, rates: Vec<f64>) -> Self {
        self.series.insert(pair.to_string(), FxSeries { ts, rates });
        self
    }

    /// Checks every rate: finite and > 0, series with equal lengths and strictly increasing
    /// timestamps. Errors name the field (`fx.rates[EURUSD]`, `fx.series[EURUSD].ts[3]`).
    pub fn validate(&self) -> Result<()> {
        for (pair, &r) in &self.rates {
            if !(r.is_finite() && r > 0.0) {
                return Err(ExecError::invalid(
                    format!("fx.rates[{pair}]"),
                    format!("rate must be finite and > 0, got {r}"),
                ));
            }
        }
        for (pair, s) in &self.series {
            if s.ts.len() != s.rates.len() {
                return Err(ExecError::invalid(
                    format!("fx.series[{pair}]"),
                    format!("{} timestamps but {} rates", s.ts.len(), s.rates.len()),
                ));
            }
            if s.ts.is_empty() {
                return Err(ExecError::invalid(
                    format!("fx.series[{pair}]"),
                    "series is empty",
                ));
            }
            for (i, &r) in s.rates.iter().enumerate() {
                if !(r.is_finite() && r > 0.0) {
                    return Err(ExecError::invalid(
                        format!("fx.series[{pair}].rates[{i}]"),
                        format!("rate must be finite and > 0, got {r}"),
                    ));
                }
            }
            for i in 1..s.ts.len() {
                if s.ts[i] <= s.ts[i - 1] {
                    return Err(ExecError::invalid(
                        format!("fx.series[{pair}].ts[{i}]"),
                        "timestamps must be strictly increasing",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Compiles the rates into a table that paths index into.
    pub fn compile(&self) -> FxTable {
        FxTable {
            names: self.series.keys().cloned().collect(),
            series: self.series.values().cloned().collect(),
            rates: self.rates.clone(),
        }
    }
}

/// Where one leg's rate comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RateSource {
    Static(f64),
    /// Index into [`FxTable::series`], with the pair's static rate as fallback before the first point.
    Series {
        index: u32,
        fallback: Option<f64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Leg {
    source: RateSource,
    /// Divide by the rate instead of multiplying (the pair is quoted the other way round).
    invert: bool,
}

/// A resolved conversion route: identity, one leg or two legs (via USD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FxPath {
    legs: [Option<Leg>; 2],
}

impl FxPath {
    /// The identity conversion (same currency).
    pub const IDENTITY: FxPath = FxPath { legs: [None, None] };

    pub fn is_identity(&self) -> bool {
        self.legs[0].is_none()
    }

    /// The factor that converts one unit of `from` into `to` at `ts` (as of `ts`).
    #[inline]
    pub fn factor(&self, table: &FxTable, ts: TimestampUs) -> Result<f64> {
        let mut f = 1.0;
        for leg in self.legs.iter().flatten() {
            let r = match leg.source {
                RateSource::Static(r) => r,
                RateSource::Series { index, fallback } => {
                    table.as_of(index as usize, ts, fallback)?
                }
            };
            if leg.invert {
                f /= r;
            } else {
                f *= r;
            }
        }
        Ok(f)
    }
}

/// Compiled rates: the static map and the series in a vector that paths index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FxTable {
    names: Vec<String>,
    series: Vec<FxSeries>,
    rates: BTreeMap<String, f64>,
}

impl FxTable {
    fn leg_for_pair(&self, pair: &str, invert: bool) -> Option<Leg> {
        let fallback = self.rates.get(pair).copied();
        if let Ok(i) = self.names.binary_search_by(|n| n.as_str().cmp(pair)) {
            return Some(Leg {
                source: RateSource::Series {
                    index: i as u32,
                    fallback,
                },
                invert,
            });
        }
        fallback.map(|r| Leg {
            source: RateSource::Static(r),
            invert,
        })
    }

    fn one_leg(&self, from: &str, to: &str) -> Option<Leg> {
        self.leg_for_pair(&format!("{from}{to}"), false)
            .or_else(|| self.leg_for_pair(&format!("{to}{from}"), true))
    }

    /// Resolves the route `from -> to`; `field` names what needed it, for the error.
    pub fn path(&self, from: &str, to: &str, field: &str) -> Result<FxPath> {
        if from == to {
            return Ok(FxPath::IDENTITY);
        }
        if let Some(l) = self.one_leg(from, to) {
            return Ok(FxPath {
                legs: [Some(l), None],
            });
        }
        if from != "USD" && to != "USD" {
            if let (Some(a), Some(b)) = (self.one_leg(from, "USD"), self.one_leg("USD", to)) {
                return Ok(FxPath {
                    legs: [Some(a), Some(b)],
                });
            }
        }
        Err(ExecError::MissingFxRate {
            from: from.to_string(),
            to: to.to_string(),
            field: field.to_string(),
        })
    }

    /// Converts `amount` from `from` into `to` as of `ts` (resolves the path each call: not for
    /// hot paths).
    pub fn convert(&self, amount: f64, from: &str, to: &str, ts: TimestampUs) -> Result<f64> {
        Ok(amount * self.path(from, to, "convert")?.factor(self, ts)?)
    }

    /// The rate of series `index` as of `ts`: the last point at or before `ts`.
    fn as_of(&self, index: usize, ts: TimestampUs, fallback: Option<f64>) -> Result<f64> {
        let s = &self.series[index];
        let n = s.ts.partition_point(|&t| t <= ts);
        if n > 0 {
            return Ok(s.rates[n - 1]);
        }
        fallback.ok_or_else(|| {
            let pair = &self.names[index];
            let split = pair.len().min(3);
            ExecError::MissingFxRate {
                from: pair[..split].to_string(),
                to: pair[split..].to_string(),
                field: format!("fx.series[{pair}] has no point at or before ts {ts}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FxTable {
        FxRates::default()
            .with_rate("EURUSD", 1.25)
            .with_rate("USDJPY", 150.0)
            .with_rate("GBPUSD", 1.5)
            .compile()
    }

    #[test]
    fn identity_direct_inverse_and_via_usd() {
        let t = table();
        assert_eq!(t.convert(10.0, "EUR", "EUR", 0).unwrap(), 10.0);
        assert_eq!(t.convert(10.0, "EUR", "USD", 0).unwrap(), 12.5);
        assert_eq!(t.convert(12.5, "USD", "EUR", 0).unwrap(), 10.0);
        // JPY -> EUR: JPY -> USD (inverse of USDJPY), USD -> EUR (inverse of EURUSD).
        let v = t.convert(150.0 * 1.25, "JPY", "EUR", 0).unwrap();
        assert!((v - 1.0).abs() < 1e-12, "{v}");
        // GBP -> JPY via USD: 1 GBP = 1.5 USD = 225 JPY.
        assert!((t.convert(1.0, "GBP", "JPY", 0).unwrap() - 225.0).abs() < 1e-9);
        assert!(t.path("EUR", "EUR", "x").unwrap().is_identity());
    }

    #[test]
    fn missing_rate_is_error_1006() {
        let t = table();
        let e = t
            .path("CHF", "EUR", "symbol_specs[EURCHF].quote_currency")
            .unwrap_err();
        assert_eq!(e.code().code, 1006);
        assert!(e.to_string().starts_with("[1006] MISSING_FX_RATE"), "{e}");
        assert!(e.to_string().contains("EURCHF"));
        // via USD needs both legs
        let t2 = FxRates::default().with_rate("EURUSD", 1.1).compile();
        assert!(t2.path("EUR", "JPY", "f").is_err());
    }

    #[test]
    fn as_of_series_and_fallback() {
        let t = FxRates::default()
            .with_series("EURUSD", vec![100, 200, 300], vec![1.1, 1.2, 1.3])
            .with_rate("GBPUSD", 1.5)
            .compile();
        let p = t.path("EUR", "USD", "f").unwrap();
        assert_eq!(p.factor(&t, 100).unwrap(), 1.1);
        assert_eq!(p.factor(&t, 199).unwrap(), 1.1);
        assert_eq!(p.factor(&t, 200).unwrap(), 1.2);
        assert_eq!(p.factor(&t, 10_000).unwrap(), 1.3);
        let e = p.factor(&t, 99).unwrap_err();
        assert_eq!(e.code().code, 1006);
        let inv = t.path("USD", "EUR", "f").unwrap();
        assert_eq!(inv.factor(&t, 250).unwrap(), 1.0 / 1.2);
        // a static rate of the same pair is the fallback before the first point
        let t3 = FxRates::default()
            .with_series("EURUSD", vec![100], vec![1.1])
            .with_rate("EURUSD", 1.0)
            .compile();
        let p3 = t3.path("EUR", "USD", "f").unwrap();
        assert_eq!(p3.factor(&t3, 50).unwrap(), 1.0);
        assert_eq!(p3.factor(&t3, 150).unwrap(), 1.1);
    }

    #[test]
    fn validate_rejects_bad_rates() {
        assert!(FxRates::default()
            .with_rate("EURUSD", 0.0)
            .validate()
            .is_err());
        assert!(FxRates::default()
            .with_rate("EURUSD", f64::NAN)
            .validate()
            .is_err());
        let e = FxRates::default()
            .with_series("EURUSD", vec![1, 1], vec![1.0, 1.0])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("fx.series[EURUSD].ts[1]"), "{e}");
        assert!(FxRates::default()
            .with_series("EURUSD", vec![1], vec![])
            .validate()
            .is_err());
        assert!(FxRates::default()
            .with_series("EURUSD", vec![], vec![])
            .validate()
            .is_err());
        assert!(FxRates::default()
            .with_series("EURUSD", vec![1], vec![-1.0])
            .validate()
            .is_err());
        assert!(FxRates::default()
            .with_rate("EURUSD", 1.1)
            .validate()
            .is_ok());
    }
}
