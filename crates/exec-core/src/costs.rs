//! Trading costs (SEMANTICS §5): slippage, commission schemas and the legacy fee model.
//!
//! Configuration types ([`SlippageModel`], [`Commission`], [`CommissionSet`], [`LegacyFee`]) are
//! plain declarative values. At simulator construction they are compiled per symbol into a
//! [`FeeModel`] with every currency route resolved; the simulator only ever calls
//! [`FeeModel::fee`]. New cost models (tiered, formula, plugins) are new `FeeModel` variants and do
//! not touch the simulator.

pub mod formula;

pub use formula::{CostInputs, Formula, FormulaError};

use crate::error::{ExecError, Result};
use crate::fx::{FxPath, FxTable};
use crate::types::{Direction, TimestampUs, Variant};

/// Slippage in pips: `fixed_pips + U(0, random_pips)`, always adverse (SEMANTICS §5).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlippageModel {
    pub fixed_pips: f64,
    pub random_pips: f64,
}

impl SlippageModel {
    /// Slippage in pips given a uniform draw `u` in [0, 1).
    #[inline]
    pub fn pips(&self, u: f64) -> f64 {
        self.fixed_pips + u * self.random_pips
    }

    /// Whether a draw is needed at all (no RNG work when `random_pips == 0`).
    #[inline]
    pub fn is_random(&self) -> bool {
        self.random_pips > 0.0
    }
}

/// Which order sides a commission applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FeeSide {
    Entry,
    Exit,
    #[default]
    Both,
}

/// The side of one order: the fill that opens a position or the one that closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeeLeg {
    Entry,
    Exit,
}

impl FeeSide {
    #[inline]
    pub fn applies(self, leg: FeeLeg) -> bool {
        matches!(
            (self, leg),
            (FeeSide::Both, _) | (FeeSide::Entry, FeeLeg::Entry) | (FeeSide::Exit, FeeLeg::Exit)
        )
    }
}

/// How a commission's raw amount is computed (in the fee currency).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CommissionSchema {
    /// `per_lot * lots`.
    PerLot(f64),
    /// `rate * notional / 1e6`.
    PerMillionNotional(f64),
    /// `pct * notional`, `pct` as a fraction (0.001 = 0.1 %).
    PercentOfNotional(f64),
}

/// One commission model (SEMANTICS §5).
#[derive(Clone, Debug, PartialEq)]
pub struct Commission {
    pub schema: CommissionSchema,
    pub side: FeeSide,
    /// Minimum per charged side, in the fee currency (before the multiplier).
    pub min_fee: f64,
    /// Optional maximum per charged side, in the fee currency (before the multiplier).
    pub max_fee: Option<f64>,
    /// Scales the computed fee, minimum and maximum included.
    pub multiplier: f64,
    /// Fee currency; `None` means the account currency.
    pub currency: Option<String>,
}

impl Commission {
    /// A commission on both sides, no minimum, multiplier 1, in the account currency.
    pub fn new(schema: CommissionSchema) -> Self {
        Commission {
            schema,
            side: FeeSide::Both,
            min_fee: 0.0,
            max_fee: None,
            multiplier: 1.0,
            currency: None,
        }
    }

    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        let (name, v) = match self.schema {
            CommissionSchema::PerLot(v) => ("per_lot", v),
            CommissionSchema::PerMillionNotional(v) => ("per_million_notional", v),
            CommissionSchema::PercentOfNotional(v) => ("percent_of_notional", v),
        };
        nonneg(&format!("{field}.{name}"), v)?;
        nonneg(&format!("{field}.min_fee"), self.min_fee)?;
        nonneg(&format!("{field}.multiplier"), self.multiplier)?;
        if let Some(m) = self.max_fee {
            nonneg(&format!("{field}.max_fee"), m)?;
            if m < self.min_fee {
                return Err(ExecError::invalid(
                    format!("{field}.max_fee"),
                    "max_fee must be >= min_fee",
                ));
            }
        }
        if let Some(c) = &self.currency {
            if c.is_empty() {
                return Err(ExecError::invalid(
                    format!("{field}.currency"),
                    "currency must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// A default commission plus per-symbol overrides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommissionSet {
    /// Applies to symbols without an override; `None` means no commission for them.
    pub default: Option<Commission>,
    /// `(symbol name, model)`; a symbol listed here uses its own model.
    pub overrides: Vec<(String, Commission)>,
}

impl CommissionSet {
    pub fn uniform(c: Commission) -> Self {
        CommissionSet {
            default: Some(c),
            overrides: Vec::new(),
        }
    }

    /// The model for `symbol`.
    pub fn for_symbol(&self, symbol: &str) -> Option<&Commission> {
        self.overrides
            .iter()
            .find(|(s, _)| s == symbol)
            .map(|(_, c)| c)
            .or(self.default.as_ref())
    }
}

/// The legacy fee model: `max(notional / 1e6 * per_million, min_fee)` per side, in the quote
/// currency (converted to the account currency in v2, booked unconverted in v1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LegacyFee {
    pub per_million: f64,
    pub min_fee: f64,
}

fn nonneg(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ExecError::invalid(
            field,
            format!("must be finite and >= 0, got {v}"),
        ))
    }
}

pub(crate) fn validate_slippage(s: &SlippageModel) -> Result<()> {
    nonneg("slippage.fixed_pips", s.fixed_pips)?;
    nonneg("slippage.random_pips", s.random_pips)
}

pub(crate) fn validate_legacy(l: &LegacyFee) -> Result<()> {
    nonneg("legacy_fee.per_million", l.per_million)?;
    nonneg("legacy_fee.min_fee", l.min_fee)
}

/// What a fee model may look at for one order.
#[derive(Clone, Copy, Debug)]
pub struct FeeContext<'a> {
    pub leg: FeeLeg,
    pub direction: Direction,
    pub lots: f64,
    /// Fill price of this order (quote currency).
    pub price: f64,
    pub ts: TimestampUs,
    pub contract_size: f64,
    pub pip_size: f64,
    pub variant: Variant,
    /// Rates for as-of conversions.
    pub fx: &'a FxTable,
}

impl FeeContext<'_> {
    /// `lots * contract_size * price`, in the quote currency.
    #[inline]
    pub fn notional_quote(&self) -> f64 {
        self.lots * self.contract_size * self.price
    }
}

/// A compiled per-symbol fee model: every currency route resolved at construction.
#[derive(Clone, Debug, PartialEq)]
pub enum FeeModel {
    /// No fees.
    None,
    /// A commission schema.
    Commission {
        model: Commission,
        /// Quote currency -> fee currency (for notional-based schemas).
        quote_to_fee: FxPath,
        /// Fee currency -> account currency.
        fee_to_account: FxPath,
    },
    /// The legacy fee model.
    Legacy {
        model: LegacyFee,
        /// Quote -> account; `None` books the quote amount unconverted (v1).
        quote_to_account: Option<FxPath>,
    },
}

impl FeeModel {
    /// Compiles the cost configuration of one symbol. A commission set wins over the legacy fee.
    pub fn compile(
        commission: Option<&CommissionSet>,
        legacy: Option<&LegacyFee>,
        variant: Variant,
        symbol: &str,
        quote_currency: &str,
        account_currency: &str,
        fx: &FxTable,
    ) -> Result<FeeModel> {
        if let Some(set) = commission {
            return Ok(match set.for_symbol(symbol) {
                Some(c) => {
                    let fee_ccy = c.currency.as_deref().unwrap_or(account_currency);
                    let field = format!("commission[{symbol}].currency");
                    let quote_to_fee = match c.schema {
                        CommissionSchema::PerLot(_) => FxPath::IDENTITY,
                        _ => fx.path(quote_currency, fee_ccy, &field)?,
                    };
                    let fee_to_account = fx.path(fee_ccy, account_currency, &field)?;
                    FeeModel::Commission {
                        model: c.clone(),
                        quote_to_fee,
                        fee_to_account,
                    }
                }
                None => FeeModel::None,
            });
        }
        if let Some(l) = legacy {
            let quote_to_account = match variant {
                Variant::V2 => Some(fx.path(
                    quote_currency,
                    account_currency,
                    &format!("legacy_fee[{symbol}] (quote currency)"),
                )?),
                Variant::V1Parity => None,
            };
            return Ok(FeeModel::Legacy {
                model: *l,
                quote_to_account,
            });
        }
        Ok(FeeModel::None)
    }

    /// The fee of one order in the account currency (>= 0).
    #[inline]
    pub fn fee(&self, ctx: &FeeContext) -> Result<f64> {
        match self {
            FeeModel::None => Ok(0.0),
            FeeModel::Commission {
                model,
                quote_to_fee,
                fee_to_account,
            } => {
                if !model.side.applies(ctx.leg) {
                    return Ok(0.0);
                }
                let raw = match model.schema {
                    CommissionSchema::PerLot(r) => r * ctx.lots,
                    CommissionSchema::PerMillionNotional(r) => {
                        r * ctx.notional_quote() * quote_to_fee.factor(ctx.fx, ctx.ts)? / 1e6
                    }
                    CommissionSchema::PercentOfNotional(p) => {
                        p * ctx.notional_quote() * quote_to_fee.factor(ctx.fx, ctx.ts)?
                    }
                };
                let mut fee = raw.max(model.min_fee);
                if let Some(m) = model.max_fee {
                    fee = fee.min(m);
                }
                fee *= model.multiplier;
                fee *= fee_to_account.factor(ctx.fx, ctx.ts)?;
                Ok(match ctx.variant {
                    Variant::V2 => fee,
                    // v1 rounded commissions half-even to cents.
                    Variant::V1Parity => round_half_even_cents(fee),
                })
            }
            FeeModel::Legacy {
                model,
                quote_to_account,
            } => {
                let fee = (ctx.notional_quote() / 1e6 * model.per_million).max(model.min_fee);
                Ok(match quote_to_account {
                    Some(p) => fee * p.factor(ctx.fx, ctx.ts)?,
                    None => fee,
                })
            }
        }
    }
}

/// Rounds half to even at two decimals (v1 commission rounding).
#[inline]
pub fn round_half_even_cents(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fx::FxRates;

    fn ctx(fx: &FxTable, leg: FeeLeg, lots: f64, price: f64, variant: Variant) -> FeeContext<'_> {
        FeeContext {
            leg,
            direction: Direction::Long,
            lots,
            price,
            ts: 0,
            contract_size: 100_000.0,
            pip_size: 0.0001,
            variant,
            fx,
        }
    }

    fn compile(c: Commission, quote: &str, acct: &str, fx: &FxTable) -> FeeModel {
        FeeModel::compile(
            Some(&CommissionSet::uniform(c)),
            None,
            Variant::V2,
            "EURUSD",
            quote,
            acct,
            fx,
        )
        .unwrap()
    }

    #[test]
    fn per_lot_per_million_percent() {
        let fx = FxRates::default().compile();
        let m = compile(
            Commission::new(CommissionSchema::PerLot(3.5)),
            "USD",
            "USD",
            &fx,
        );
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 2.0, 1.1, Variant::V2))
                .unwrap(),
            7.0
        );
        // notional = 2 * 100000 * 1.1 = 220000 -> 30 per million = 6.6
        let m = compile(
            Commission::new(CommissionSchema::PerMillionNotional(30.0)),
            "USD",
            "USD",
            &fx,
        );
        assert!(
            (m.fee(&ctx(&fx, FeeLeg::Exit, 2.0, 1.1, Variant::V2))
                .unwrap()
                - 6.6)
                .abs()
                < 1e-12
        );
        let m = compile(
            Commission::new(CommissionSchema::PercentOfNotional(0.0001)),
            "USD",
            "USD",
            &fx,
        );
        assert!(
            (m.fee(&ctx(&fx, FeeLeg::Exit, 2.0, 1.1, Variant::V2))
                .unwrap()
                - 22.0)
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn side_min_max_and_multiplier() {
        let fx = FxRates::default().compile();
        let mut c = Commission::new(CommissionSchema::PerLot(1.0));
        c.side = FeeSide::Entry;
        c.min_fee = 5.0;
        c.multiplier = 2.0;
        let m = compile(c.clone(), "USD", "USD", &fx);
        // 0.1 lot -> 0.1 raw, min 5, x2 = 10 on entry, nothing on exit (and no min fee there)
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 0.1, 1.0, Variant::V2))
                .unwrap(),
            10.0
        );
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Exit, 0.1, 1.0, Variant::V2))
                .unwrap(),
            0.0
        );
        // above the minimum the rate wins: 7 lots -> 7 x2 = 14
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 7.0, 1.0, Variant::V2))
                .unwrap(),
            14.0
        );
        c.side = FeeSide::Exit;
        c.max_fee = Some(6.0);
        let m = compile(c, "USD", "USD", &fx);
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 7.0, 1.0, Variant::V2))
                .unwrap(),
            0.0
        );
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Exit, 7.0, 1.0, Variant::V2))
                .unwrap(),
            12.0
        );
    }

    #[test]
    fn fee_currency_conversions() {
        // EURJPY traded by a USD account, commission charged in EUR per million notional.
        let fx = FxRates::default()
            .with_rate("EURUSD", 1.25)
            .with_rate("USDJPY", 160.0)
            .compile();
        let mut c = Commission::new(CommissionSchema::PerMillionNotional(10.0));
        c.currency = Some("EUR".into());
        let m = FeeModel::compile(
            Some(&CommissionSet::uniform(c)),
            None,
            Variant::V2,
            "EURJPY",
            "JPY",
            "USD",
            &fx,
        )
        .unwrap();
        // 1 lot at 200 JPY = 20,000,000 JPY = 20e6/160 USD = 125000 USD = 100000 EUR -> 1 EUR -> 1.25 USD
        let f = m
            .fee(&ctx(&fx, FeeLeg::Entry, 1.0, 200.0, Variant::V2))
            .unwrap();
        assert!((f - 1.25).abs() < 1e-12, "{f}");
        // per-lot in EUR, account USD
        let mut c = Commission::new(CommissionSchema::PerLot(4.0));
        c.currency = Some("EUR".into());
        let m = compile(c, "JPY", "USD", &fx);
        assert!(
            (m.fee(&ctx(&fx, FeeLeg::Exit, 1.0, 200.0, Variant::V2))
                .unwrap()
                - 5.0)
                .abs()
                < 1e-12
        );
        // missing route -> 1006 at compile time
        let mut c = Commission::new(CommissionSchema::PerLot(4.0));
        c.currency = Some("CHF".into());
        let e = FeeModel::compile(
            Some(&CommissionSet::uniform(c)),
            None,
            Variant::V2,
            "EURUSD",
            "USD",
            "USD",
            &fx,
        )
        .unwrap_err();
        assert_eq!(e.code().code, 1006);
    }

    #[test]
    fn per_symbol_overrides() {
        let mut set = CommissionSet::uniform(Commission::new(CommissionSchema::PerLot(1.0)));
        set.overrides.push((
            "XAUUSD".into(),
            Commission::new(CommissionSchema::PerLot(9.0)),
        ));
        assert_eq!(
            set.for_symbol("EURUSD").unwrap().schema,
            CommissionSchema::PerLot(1.0)
        );
        assert_eq!(
            set.for_symbol("XAUUSD").unwrap().schema,
            CommissionSchema::PerLot(9.0)
        );
        let only = CommissionSet {
            default: None,
            overrides: vec![(
                "XAUUSD".into(),
                Commission::new(CommissionSchema::PerLot(9.0)),
            )],
        };
        assert!(only.for_symbol("EURUSD").is_none());
        let fx = FxRates::default().compile();
        let m =
            FeeModel::compile(Some(&only), None, Variant::V2, "EURUSD", "USD", "USD", &fx).unwrap();
        assert_eq!(m, FeeModel::None);
    }

    #[test]
    fn legacy_fee_v2_converted_v1_unconverted() {
        let fx = FxRates::default().with_rate("USDJPY", 150.0).compile();
        let l = LegacyFee {
            per_million: 30.0,
            min_fee: 2.0,
        };
        let v2 =
            FeeModel::compile(None, Some(&l), Variant::V2, "USDJPY", "JPY", "USD", &fx).unwrap();
        let v1 = FeeModel::compile(
            None,
            Some(&l),
            Variant::V1Parity,
            "USDJPY",
            "JPY",
            "USD",
            &fx,
        )
        .unwrap();
        // 1 lot at 150 = 15,000,000 JPY -> 450 JPY; v2: 3 USD; v1: 450 booked as is
        let c2 = ctx(&fx, FeeLeg::Entry, 1.0, 150.0, Variant::V2);
        let c1 = ctx(&fx, FeeLeg::Entry, 1.0, 150.0, Variant::V1Parity);
        assert!((v2.fee(&c2).unwrap() - 3.0).abs() < 1e-12);
        assert!((v1.fee(&c1).unwrap() - 450.0).abs() < 1e-9);
        // min fee: 0.001 lot = 15,000 JPY -> 0.45 JPY < min 2 JPY -> 2/150 USD in v2
        let small = ctx(&fx, FeeLeg::Entry, 0.001, 150.0, Variant::V2);
        assert!((v2.fee(&small).unwrap() - 2.0 / 150.0).abs() < 1e-15);
        // commission wins over legacy
        let set = CommissionSet::uniform(Commission::new(CommissionSchema::PerLot(1.0)));
        let m = FeeModel::compile(
            Some(&set),
            Some(&l),
            Variant::V2,
            "USDJPY",
            "JPY",
            "USD",
            &fx,
        )
        .unwrap();
        assert!(matches!(m, FeeModel::Commission { .. }));
        assert_eq!(
            FeeModel::compile(None, None, Variant::V2, "X", "USD", "USD", &fx).unwrap(),
            FeeModel::None
        );
    }

    #[test]
    fn v1_rounds_commission_half_even_to_cents() {
        assert_eq!(round_half_even_cents(0.125), 0.12);
        assert_eq!(round_half_even_cents(0.375), 0.38);
        assert_eq!(round_half_even_cents(1.2345), 1.23);
        let fx = FxRates::default().compile();
        let m = compile(
            Commission::new(CommissionSchema::PerLot(2.5)),
            "USD",
            "USD",
            &fx,
        );
        // 0.05 lot * 2.5 = 0.125 -> v1 0.12, v2 0.125
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 0.05, 1.0, Variant::V1Parity))
                .unwrap(),
            0.12
        );
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Entry, 0.05, 1.0, Variant::V2))
                .unwrap(),
            0.125
        );
    }

    #[test]
    fn validation_names_fields() {
        let mut c = Commission::new(CommissionSchema::PerLot(-1.0));
        let e = c.validate("commission.default").unwrap_err();
        assert!(e.to_string().contains("commission.default.per_lot"), "{e}");
        c.schema = CommissionSchema::PerLot(1.0);
        c.min_fee = f64::NAN;
        assert!(c
            .validate("c")
            .unwrap_err()
            .to_string()
            .contains("c.min_fee"));
        c.min_fee = 2.0;
        c.max_fee = Some(1.0);
        assert!(c.validate("c").is_err());
        c.max_fee = None;
        c.currency = Some(String::new());
        assert!(c.validate("c").is_err());
        assert!(validate_slippage(&SlippageModel {
            fixed_pips: -0.1,
            random_pips: 0.0
        })
        .is_err());
        assert!(validate_legacy(&LegacyFee {
            per_million: f64::INFINITY,
            min_fee: 0.0
        })
        .is_err());
        let s = SlippageModel {
            fixed_pips: 0.5,
            random_pips: 1.0,
        };
        assert_eq!(s.pips(0.5), 1.0);
        assert!(s.is_random());
    }
}
