//! Position sizing (SEMANTICS §6): risk amount, value per price, lot quantization, min-lot policy.
//!
//! Rounding points are explicit functions here, each with unit tests (DESIGN §7).

use crate::types::Variant;

/// What to do when the raw size is below the symbol's minimum volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MinLotPolicy {
    /// Reject the signal (`size_below_min`).
    #[default]
    Reject,
    /// Trade the minimum volume instead.
    Clamp,
}

/// Risk per trade.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RiskMode {
    /// A fixed amount in the account currency.
    Fixed(f64),
    /// A percentage of equity at the fill (1.0 == 1 %).
    Percent(f64),
    /// A fixed size in lots whatever the stop distance (quantized like a risk-based size; the
    /// risk amount recorded on the position is then what that size loses at the initial SL).
    /// Used where results must match engines that size in units, e.g. the peer benchmarks.
    FixedLots(f64),
}

impl Default for RiskMode {
    fn default() -> Self {
        RiskMode::Fixed(100.0)
    }
}

impl RiskMode {
    /// The risk amount in the account currency given the equity at the fill (`None` for
    /// [`RiskMode::FixedLots`], whose risk follows from the size instead).
    #[inline]
    pub fn amount(self, equity: f64) -> Option<f64> {
        match self {
            RiskMode::Fixed(a) => Some(a),
            RiskMode::Percent(p) => Some(equity * p / 100.0),
            RiskMode::FixedLots(_) => None,
        }
    }
}

/// The guard added before flooring so that values a hair below a step boundary (binary noise of
/// e.g. 0.3 / 0.1) land on the boundary.
pub const QUANT_GUARD: f64 = 1e-12;

/// Rounds to 8 decimals (half away from zero on the binary value), the final lot rounding of v2.
#[inline]
pub fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

/// Quantizes a raw lot size (SEMANTICS §6). `None` means rejected (`size_below_min`).
///
/// v2: `raw < vmin` (up to the same 1e-12 guard) rejects unless `Clamp` (then `vmin`); otherwise
/// `vmin + floor((raw − vmin + 1e-12) / step) * step`, capped at `vmax`, rounded to 8 decimals.
/// v1: `raw <= vmin` takes `vmin`; otherwise the same floor formula capped at `vmax`, not rounded.
/// A non-finite or non-positive raw size (zero or negative risk) never trades in v2 under
/// `Reject`.
#[inline]
pub fn quantize_lots(
    raw: f64,
    vmin: f64,
    step: f64,
    vmax: f64,
    variant: Variant,
    policy: MinLotPolicy,
) -> Option<f64> {
    match variant {
        Variant::V2 => {
            // NaN counts as below the minimum. The same guard as the floor applies, so binary
            // noise just under vmin (e.g. a 1,000-pip stop computed as 0.00999999999999999)
            // is not a rejection.
            if raw.is_nan() || raw - vmin + QUANT_GUARD < 0.0 {
                return match policy {
                    MinLotPolicy::Reject => None,
                    MinLotPolicy::Clamp => Some(round8(vmin)),
                };
            }
            let lots = vmin + ((raw - vmin + QUANT_GUARD) / step).floor() * step;
            Some(round8(lots.min(vmax)))
        }
        Variant::V1Parity => {
            if raw.is_nan() {
                return None;
            }
            if raw <= vmin {
                return Some(vmin);
            }
            let lots = vmin + ((raw - vmin + QUANT_GUARD) / step).floor() * step;
            Some(lots.min(vmax))
        }
    }
}

/// The raw (unquantized) size for `risk` with a stop `distance` (price units) away.
///
/// v2: `risk / (distance * value_per_price)`.
/// v1: `risk / (stop_pips * value_per_pip)` with `stop_pips = distance / pip` and
/// `value_per_pip = value_per_price * pip` (same value, the legacy float path).
#[inline]
pub fn raw_lots(risk: f64, distance: f64, value_per_price: f64, pip: f64, variant: Variant) -> f64 {
    match variant {
        Variant::V2 => risk / (distance * value_per_price),
        Variant::V1Parity => {
            let stop_pips = distance / pip;
            let value_per_pip = value_per_price * pip;
            risk / (stop_pips * value_per_pip)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MinLotPolicy::*;
    use Variant::*;

    fn q2(raw: f64) -> Option<f64> {
        quantize_lots(raw, 0.01, 0.01, 50.0, V2, Reject)
    }

    #[test]
    fn exact_and_just_below_a_step() {
        assert_eq!(q2(0.3), Some(0.3));
        assert_eq!(q2(0.1 + 0.2), Some(0.3)); // 0.30000000000000004
        assert_eq!(q2(0.299_999_999), Some(0.29));
        assert_eq!(q2(0.309_999), Some(0.3));
        assert_eq!(q2(1.234_567), Some(1.23));
    }

    #[test]
    fn guard_lifts_binary_noise_only() {
        // 0.29999999999999 is 1e-14 below the boundary: the 1e-12 guard lifts it onto 0.30.
        assert_eq!(q2(0.3 - 1e-14), Some(0.3));
        // 1e-11 below is real, not noise: floors to 0.29.
        assert_eq!(q2(0.3 - 1e-11), Some(0.29));
    }

    #[test]
    fn at_and_below_vmin_per_policy_and_variant() {
        assert_eq!(q2(0.01), Some(0.01));
        assert_eq!(q2(0.009_999), None);
        assert_eq!(q2(0.01 - 1e-14), Some(0.01)); // noise below vmin is guarded too
        assert_eq!(q2(0.01 - 1e-11), None);
        assert_eq!(q2(0.0), None);
        assert_eq!(q2(-1.0), None);
        assert_eq!(q2(f64::NAN), None);
        assert_eq!(
            quantize_lots(0.005, 0.01, 0.01, 50.0, V2, Clamp),
            Some(0.01)
        );
        // v1 clamps at or below vmin whatever the policy
        assert_eq!(
            quantize_lots(0.005, 0.01, 0.01, 50.0, V1Parity, Reject),
            Some(0.01)
        );
        assert_eq!(
            quantize_lots(0.01, 0.01, 0.01, 50.0, V1Parity, Reject),
            Some(0.01)
        );
        assert_eq!(
            quantize_lots(f64::NAN, 0.01, 0.01, 50.0, V1Parity, Reject),
            None
        );
    }

    #[test]
    fn above_vmax_is_capped() {
        assert_eq!(q2(75.0), Some(50.0));
        assert_eq!(q2(f64::INFINITY), Some(50.0));
        assert_eq!(
            quantize_lots(f64::INFINITY, 0.01, 0.01, 50.0, V1Parity, Reject),
            Some(50.0)
        );
    }

    #[test]
    fn eight_decimal_rounding_v2_only() {
        // vmin 0.1, step 0.1: 0.1 + 2*0.1 = 0.30000000000000004 in binary
        let v2 = quantize_lots(0.35, 0.1, 0.1, 10.0, V2, Reject).unwrap();
        let v1 = quantize_lots(0.35, 0.1, 0.1, 10.0, V1Parity, Reject).unwrap();
        assert_eq!(v2, 0.3);
        assert_eq!(v1, 0.1 + 2.0 * 0.1);
        assert_ne!(v1, 0.3);
        assert_eq!(round8(1.234_567_894_9), 1.234_567_89);
        assert_eq!(round8(1.234_567_895_1), 1.234_567_9);
        assert_eq!(round8(-0.000_000_004_9), -0.0);
    }

    #[test]
    fn non_unit_vmin_offsets_the_grid() {
        // vmin 0.05, step 0.1: grid 0.05, 0.15, 0.25 ...
        assert_eq!(
            quantize_lots(0.249, 0.05, 0.1, 10.0, V2, Reject),
            Some(0.15)
        );
        assert_eq!(quantize_lots(0.25, 0.05, 0.1, 10.0, V2, Reject), Some(0.25));
    }

    #[test]
    fn risk_and_raw_size() {
        assert_eq!(RiskMode::Fixed(50.0).amount(1e9), Some(50.0));
        assert_eq!(RiskMode::Percent(1.0).amount(100_000.0), Some(1_000.0));
        assert_eq!(RiskMode::FixedLots(0.5).amount(100_000.0), None);
        // 100 USD risk, 20 pips on EURUSD (value 100000 USD per 1.0 move per lot) -> 0.5 lots
        let r2 = raw_lots(100.0, 0.0020, 100_000.0, 0.0001, V2);
        let r1 = raw_lots(100.0, 0.0020, 100_000.0, 0.0001, V1Parity);
        assert!((r2 - 0.5).abs() < 1e-12);
        assert!((r1 - 0.5).abs() < 1e-12);
    }
}
