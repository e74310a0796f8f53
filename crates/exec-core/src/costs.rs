//! Trading costs (SEMANTICS §5): slippage, commissions, the legacy fee model and swaps.
//!
//! Configuration types are plain declarative values:
//! - the classic ones in [`crate::SimulatorConfig`]: [`SlippageModel`], [`Commission`] (per lot,
//!   per million notional, percent of notional) in a [`CommissionSet`], [`LegacyFee`];
//! - the model trees in [`CostModels`] (given to `ExecutionSimulator::with_costs`), each a
//!   [`PerSymbol`] map with a default: fee models [`FeeSpec`] (`Commission`, [`Tiered`],
//!   [`FormulaFee`], [`CallbackFee`], and `Sum` for composition), slippage models
//!   [`SlippageSpec`] (fixed/random, [`VolatilitySlippage`], formula, callback, sum) and swaps
//!   [`SwapModel`]. For the symbols a tree covers (its own entry or its default) it replaces the
//!   classic field it corresponds to; other symbols keep the classic fields.
//!
//! At simulator construction fee models are compiled per symbol into a [`FeeModel`] with every
//! currency route resolved; the simulator only ever calls [`FeeModel::fee`], which allocates
//! nothing. Formulas ([`Formula`]) are parsed when the spec is built, never per order.
//!
//! ## Fee model semantics (all fee models)
//! A fee is computed per order side (entry, exit) in the model's fee currency (`currency`, default
//! the account currency), from `notional = lots * contract_size * price` converted from the quote
//! currency into the fee currency; then, if the model's `side` applies to the leg:
//! `fee = min(max(raw, min_fee), max_fee) * multiplier`, converted into the account currency (v1
//! rounds it half-even to cents). Fees are never negative (`min_fee` >= 0 clamps them). A `Sum`
//! charges the sum of its parts, each with its own side, limits and currency.
//!
//! ## Callbacks (`PythonCallable`)
//! [`CostCallback`] wraps any `Fn(&CostInputs) -> Result<f64, String>`; it is called on the
//! simulator's thread for every order it prices. The Python bindings wrap a Python callable in
//! one: that call takes the GIL, so **runs that use a callback serialize on the GIL** (a batch
//! with a callback model is as slow as Python and gets no parallel speed-up); declarative models
//! and formulas never touch Python. Callbacks receive everything they may use in [`CostInputs`]
//! (slippage callbacks get the event's deterministic uniform draw `u`), so results stay
//! deterministic as long as the callable is a pure function of its inputs.

pub mod formula;
pub mod slippage;
pub mod swap;

use std::fmt;
use std::sync::Arc;

pub use formula::{CostInputs, Formula, FormulaError};
pub use slippage::{LazyRng, SlippageSpec, VolatilitySlippage, VolatilitySource};
pub use swap::{SwapModel, SwapUnit, Weekday};

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
        validate_limits(
            field,
            self.min_fee,
            self.max_fee,
            self.multiplier,
            self.currency.as_deref(),
        )
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

/// Checks the minimum, maximum, multiplier and currency that [`Commission`] and [`FeeTerms`]
/// share (`field` names the model).
fn validate_limits(
    field: &str,
    min_fee: f64,
    max_fee: Option<f64>,
    multiplier: f64,
    currency: Option<&str>,
) -> Result<()> {
    nonneg(&format!("{field}.min_fee"), min_fee)?;
    nonneg(&format!("{field}.multiplier"), multiplier)?;
    if let Some(m) = max_fee {
        nonneg(&format!("{field}.max_fee"), m)?;
        if m < min_fee {
            return Err(ExecError::invalid(
                format!("{field}.max_fee"),
                "max_fee must be >= min_fee",
            ));
        }
    }
    validate_currency(field, currency)
}

/// A fee or swap currency, when given, must not be empty (`{field}.currency`).
fn validate_currency(field: &str, currency: Option<&str>) -> Result<()> {
    if currency.is_some_and(str::is_empty) {
        return Err(ExecError::invalid(
            format!("{field}.currency"),
            "currency must not be empty",
        ));
    }
    Ok(())
}

/// `min(max(raw, min_fee), max_fee) * multiplier`, in the fee currency.
#[inline]
fn clamp_fee(raw: f64, min_fee: f64, max_fee: Option<f64>, multiplier: f64) -> f64 {
    let mut fee = raw.max(min_fee);
    if let Some(m) = max_fee {
        fee = fee.min(m);
    }
    fee * multiplier
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
    /// The latest ATR the caller set for the symbol (price units; 0 when none).
    pub atr: f64,
    /// The spread at the order (ask − bid, price units).
    pub spread: f64,
}

impl FeeContext<'_> {
    /// `lots * contract_size * price`, in the quote currency.
    #[inline]
    pub fn notional_quote(&self) -> f64 {
        self.lots * self.contract_size * self.price
    }

    /// Whether this order buys (a long entry or a short exit).
    #[inline]
    pub fn is_buy(&self) -> bool {
        (self.leg == FeeLeg::Entry) == (self.direction == Direction::Long)
    }

    /// The formula/callback inputs of this order, with `notional` in the fee currency.
    #[inline]
    pub fn inputs(&self, quote_to_fee: f64) -> CostInputs {
        CostInputs {
            lots: self.lots,
            price: self.price,
            notional: self.notional_quote() * quote_to_fee,
            contract_size: self.contract_size,
            pip: self.pip_size,
            side: if self.is_buy() { 1.0 } else { -1.0 },
            direction: self.direction.sign(),
            is_entry: if self.leg == FeeLeg::Entry { 1.0 } else { 0.0 },
            atr: self.atr,
            spread: self.spread,
            ..CostInputs::default()
        }
        .with_time(self.ts)
    }
}

// ---------------------------------------------------------------------------------------------
// Model trees

/// The signature of a cost callback: fee in the fee currency, or slippage in pips.
pub type CostFn = dyn Fn(&CostInputs) -> std::result::Result<f64, String> + Send + Sync;

/// A named cost callback (the exec-core side of `PythonCallable`). See the module doc: a callback
/// that needs a lock (the GIL) serializes the runs that use it.
#[derive(Clone)]
pub struct CostCallback {
    /// For messages and equality (with the function's identity).
    pub name: String,
    pub func: Arc<CostFn>,
}

impl CostCallback {
    pub fn new(
        name: impl Into<String>,
        f: impl Fn(&CostInputs) -> std::result::Result<f64, String> + Send + Sync + 'static,
    ) -> Self {
        CostCallback {
            name: name.into(),
            func: Arc::new(f),
        }
    }

    /// Calls the function; an error or a non-finite result is a 4001 naming the callback.
    pub fn call(&self, inputs: &CostInputs, field: &str) -> Result<f64> {
        match (self.func)(inputs) {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) => Err(ExecError::CostCallback {
                name: self.name.clone(),
                field: field.to_string(),
                message: format!("returned {v} for {}", slippage::describe(inputs)),
            }),
            Err(message) => Err(ExecError::CostCallback {
                name: self.name.clone(),
                field: field.to_string(),
                message,
            }),
        }
    }
}

impl fmt::Debug for CostCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CostCallback").field(&self.name).finish()
    }
}

impl PartialEq for CostCallback {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.func, &other.func)
    }
}

/// Side, limits, multiplier and currency shared by the tiered, formula and callback fee models
/// (the same meaning as the fields of [`Commission`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FeeTerms {
    pub side: FeeSide,
    pub min_fee: f64,
    pub max_fee: Option<f64>,
    pub multiplier: f64,
    pub currency: Option<String>,
}

impl Default for FeeTerms {
    fn default() -> Self {
        FeeTerms {
            side: FeeSide::Both,
            min_fee: 0.0,
            max_fee: None,
            multiplier: 1.0,
            currency: None,
        }
    }
}

impl FeeTerms {
    fn validate(&self, field: &str) -> Result<()> {
        validate_limits(
            field,
            self.min_fee,
            self.max_fee,
            self.multiplier,
            self.currency.as_deref(),
        )
    }

    #[inline]
    fn clamp(&self, raw: f64) -> f64 {
        clamp_fee(raw, self.min_fee, self.max_fee, self.multiplier)
    }
}

/// How a tier's rate is applied (as the [`CommissionSchema`] of the same name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateKind {
    /// `rate * lots`.
    PerLot,
    /// `rate * notional / 1e6`.
    PerMillionNotional,
    /// `rate * notional` (rate as a fraction).
    PercentOfNotional,
}

/// What picks the tier: the order's lots, or its notional in the fee currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TierBasis {
    Lots,
    Notional,
}

/// One tier: `rate` applies to orders whose basis value is `>= from` (up to the next tier).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tier {
    pub from: f64,
    pub rate: f64,
}

/// A commission whose rate depends on the size of the order: the tier with the largest `from`
/// not above the order's lots (or notional) gives the rate; orders below the first threshold use
/// the first tier. The whole order is charged at that rate (not marginally).
#[derive(Clone, Debug, PartialEq)]
pub struct Tiered {
    pub kind: RateKind,
    pub basis: TierBasis,
    /// Ascending by `from`.
    pub tiers: Vec<Tier>,
    pub terms: FeeTerms,
}

impl Tiered {
    /// The rate for a basis value.
    #[inline]
    pub fn rate_for(&self, value: f64) -> f64 {
        let n = self.tiers.partition_point(|t| t.from <= value);
        self.tiers[n.saturating_sub(1)].rate
    }

    fn validate(&self, field: &str) -> Result<()> {
        if self.tiers.is_empty() {
            return Err(ExecError::invalid(
                format!("{field}.tiers"),
                "needs at least one tier",
            ));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            nonneg(&format!("{field}.tiers[{i}].from"), t.from)?;
            nonneg(&format!("{field}.tiers[{i}].rate"), t.rate)?;
            if i > 0 && t.from <= self.tiers[i - 1].from {
                return Err(ExecError::invalid(
                    format!("{field}.tiers[{i}].from"),
                    "tiers must be strictly increasing by `from`",
                ));
            }
        }
        self.terms.validate(field)
    }
}

/// A fee given by a formula (in the fee currency; `notional` is in the fee currency).
#[derive(Clone, Debug, PartialEq)]
pub struct FormulaFee {
    pub formula: Formula,
    pub terms: FeeTerms,
}

/// A fee given by a callback (in the fee currency; `notional` is in the fee currency).
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackFee {
    pub callback: CostCallback,
    pub terms: FeeTerms,
}

/// A fee model tree.
#[derive(Clone, Debug, PartialEq)]
pub enum FeeSpec {
    /// Per lot, per million notional or percent of notional.
    Commission(Commission),
    Tiered(Tiered),
    Formula(FormulaFee),
    Callback(CallbackFee),
    /// Composition: the sum of the parts' fees.
    Sum(Vec<FeeSpec>),
}

impl FeeSpec {
    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        match self {
            FeeSpec::Commission(c) => c.validate(field),
            FeeSpec::Tiered(t) => t.validate(field),
            FeeSpec::Formula(f) => f.terms.validate(field),
            FeeSpec::Callback(c) => c.terms.validate(field),
            FeeSpec::Sum(parts) => parts
                .iter()
                .enumerate()
                .try_for_each(|(i, p)| p.validate(&format!("{field}[{i}]"))),
        }
    }

    /// Whether the model reads the ATR.
    pub fn needs_atr(&self) -> bool {
        match self {
            FeeSpec::Commission(_) | FeeSpec::Tiered(_) => false,
            FeeSpec::Formula(f) => f.formula.uses("atr"),
            FeeSpec::Callback(_) => true,
            FeeSpec::Sum(p) => p.iter().any(FeeSpec::needs_atr),
        }
    }

    /// Whether any part is a callback.
    pub fn has_callback(&self) -> bool {
        match self {
            FeeSpec::Callback(_) => true,
            FeeSpec::Sum(p) => p.iter().any(FeeSpec::has_callback),
            _ => false,
        }
    }
}

/// A default model plus per-symbol ones.
#[derive(Clone, Debug, PartialEq)]
pub struct PerSymbol<T> {
    /// For symbols without their own entry; `None`: no model for them.
    pub default: Option<T>,
    /// `(symbol, model)`; a listed symbol uses its own model.
    pub per_symbol: Vec<(String, T)>,
}

impl<T> Default for PerSymbol<T> {
    fn default() -> Self {
        PerSymbol {
            default: None,
            per_symbol: Vec::new(),
        }
    }
}

impl<T> PerSymbol<T> {
    /// One model for every symbol.
    pub fn uniform(model: T) -> Self {
        PerSymbol {
            default: Some(model),
            per_symbol: Vec::new(),
        }
    }

    pub fn for_symbol(&self, symbol: &str) -> Option<&T> {
        self.per_symbol
            .iter()
            .find(|(s, _)| s == symbol)
            .map(|(_, m)| m)
            .or(self.default.as_ref())
    }

    /// `(field name, model)` of every entry, for validation.
    pub(crate) fn entries<'a>(&'a self, field: &str) -> Vec<(String, &'a T)> {
        let mut out = Vec::new();
        if let Some(d) = &self.default {
            out.push((format!("{field}.default"), d));
        }
        for (s, m) in &self.per_symbol {
            out.push((format!("{field}.per_symbol[{s}]"), m));
        }
        out
    }
}

/// Cost model trees beyond [`crate::SimulatorConfig`]'s classic fields (see the module doc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostModels {
    /// For the symbols it covers (own entry or default), replaces `SimulatorConfig::commission`
    /// and `legacy_fee`.
    pub fees: Option<PerSymbol<FeeSpec>>,
    /// For the symbols it covers, replaces `SimulatorConfig::slippage`.
    pub slippage: Option<PerSymbol<SlippageSpec>>,
    /// Overnight financing; none when unset.
    pub swap: Option<PerSymbol<SwapModel>>,
}

impl CostModels {
    /// Validates every model (1001 naming `costs.<part>.<entry>.<field>`).
    pub fn validate(&self) -> Result<()> {
        if let Some(f) = &self.fees {
            for (field, m) in f.entries("costs.fees") {
                m.validate(&field)?;
            }
        }
        if let Some(s) = &self.slippage {
            for (field, m) in s.entries("costs.slippage") {
                m.validate(&field)?;
            }
        }
        if let Some(s) = &self.swap {
            for (field, m) in s.entries("costs.swap") {
                m.validate(&field)?;
            }
        }
        Ok(())
    }

    /// Symbols named in a per-symbol entry (for the unknown-symbol check).
    pub fn named_symbols(&self) -> impl Iterator<Item = &str> {
        let f = self
            .fees
            .iter()
            .flat_map(|p| p.per_symbol.iter().map(|e| e.0.as_str()));
        let s = self
            .slippage
            .iter()
            .flat_map(|p| p.per_symbol.iter().map(|e| e.0.as_str()));
        let w = self
            .swap
            .iter()
            .flat_map(|p| p.per_symbol.iter().map(|e| e.0.as_str()));
        f.chain(s).chain(w)
    }

    /// Whether some model reads the ATR: the caller then sets it with `set_market_context`.
    pub fn needs_atr(&self) -> bool {
        let fees = self.fees.iter().any(|p| {
            p.default.iter().any(FeeSpec::needs_atr) || p.per_symbol.iter().any(|e| e.1.needs_atr())
        });
        let slip = self.slippage.iter().any(|p| {
            p.default.iter().any(SlippageSpec::needs_atr)
                || p.per_symbol.iter().any(|e| e.1.needs_atr())
        });
        fees || slip
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
    /// A tiered commission.
    Tiered {
        model: Tiered,
        quote_to_fee: FxPath,
        fee_to_account: FxPath,
    },
    /// A formula fee.
    Formula {
        model: FormulaFee,
        quote_to_fee: FxPath,
        fee_to_account: FxPath,
    },
    /// A callback fee.
    Callback {
        model: CallbackFee,
        quote_to_fee: FxPath,
        fee_to_account: FxPath,
    },
    /// The sum of the parts.
    Sum(Vec<FeeModel>),
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
                    let (quote_to_fee, fee_to_account) = fee_routes(
                        c.currency.as_deref(),
                        !matches!(c.schema, CommissionSchema::PerLot(_)),
                        quote_currency,
                        account_currency,
                        fx,
                        &format!("commission[{symbol}].currency"),
                    )?;
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

    /// Compiles one symbol's fee model tree (`field` names it in errors).
    pub fn compile_spec(
        spec: &FeeSpec,
        symbol: &str,
        quote_currency: &str,
        account_currency: &str,
        fx: &FxTable,
        field: &str,
    ) -> Result<FeeModel> {
        let routes = |currency: &Option<String>, notional: bool| {
            fee_routes(
                currency.as_deref(),
                notional,
                quote_currency,
                account_currency,
                fx,
                &format!("{field}[{symbol}].currency"),
            )
        };
        Ok(match spec {
            FeeSpec::Commission(c) => {
                let notional = !matches!(c.schema, CommissionSchema::PerLot(_));
                let (quote_to_fee, fee_to_account) = routes(&c.currency, notional)?;
                FeeModel::Commission {
                    model: c.clone(),
                    quote_to_fee,
                    fee_to_account,
                }
            }
            FeeSpec::Tiered(t) => {
                let notional = t.kind != RateKind::PerLot || t.basis == TierBasis::Notional;
                let (quote_to_fee, fee_to_account) = routes(&t.terms.currency, notional)?;
                FeeModel::Tiered {
                    model: t.clone(),
                    quote_to_fee,
                    fee_to_account,
                }
            }
            FeeSpec::Formula(f) => {
                let (quote_to_fee, fee_to_account) = routes(&f.terms.currency, true)?;
                FeeModel::Formula {
                    model: f.clone(),
                    quote_to_fee,
                    fee_to_account,
                }
            }
            FeeSpec::Callback(c) => {
                let (quote_to_fee, fee_to_account) = routes(&c.terms.currency, true)?;
                FeeModel::Callback {
                    model: c.clone(),
                    quote_to_fee,
                    fee_to_account,
                }
            }
            FeeSpec::Sum(parts) => FeeModel::Sum(
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        FeeModel::compile_spec(
                            p,
                            symbol,
                            quote_currency,
                            account_currency,
                            fx,
                            &format!("{field}[{i}]"),
                        )
                    })
                    .collect::<Result<_>>()?,
            ),
        })
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
                // Notional in the fee currency first, then the rate: the same operation order as
                // the formula `rate * notional / 1e6`, so both give identical bits.
                let raw = match model.schema {
                    CommissionSchema::PerLot(r) => r * ctx.lots,
                    CommissionSchema::PerMillionNotional(r) => {
                        r * (ctx.notional_quote() * quote_to_fee.factor(ctx.fx, ctx.ts)?) / 1e6
                    }
                    CommissionSchema::PercentOfNotional(p) => {
                        p * (ctx.notional_quote() * quote_to_fee.factor(ctx.fx, ctx.ts)?)
                    }
                };
                let fee = clamp_fee(raw, model.min_fee, model.max_fee, model.multiplier);
                finish_fee(fee, fee_to_account, ctx)
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
            FeeModel::Tiered {
                model,
                quote_to_fee,
                fee_to_account,
            } => {
                if !model.terms.side.applies(ctx.leg) {
                    return Ok(0.0);
                }
                let needs_notional =
                    model.kind != RateKind::PerLot || model.basis == TierBasis::Notional;
                let notional = if needs_notional {
                    ctx.notional_quote() * quote_to_fee.factor(ctx.fx, ctx.ts)?
                } else {
                    0.0
                };
                let rate = model.rate_for(match model.basis {
                    TierBasis::Lots => ctx.lots,
                    TierBasis::Notional => notional,
                });
                let raw = match model.kind {
                    RateKind::PerLot => rate * ctx.lots,
                    RateKind::PerMillionNotional => rate * notional / 1e6,
                    RateKind::PercentOfNotional => rate * notional,
                };
                finish_fee(model.terms.clamp(raw), fee_to_account, ctx)
            }
            FeeModel::Formula {
                model,
                quote_to_fee,
                fee_to_account,
            } => {
                if !model.terms.side.applies(ctx.leg) {
                    return Ok(0.0);
                }
                let inputs = ctx.inputs(quote_to_fee.factor(ctx.fx, ctx.ts)?);
                let raw = model.formula.eval_inputs(&inputs);
                if !raw.is_finite() {
                    return Err(ExecError::invalid(
                        "costs.fees (formula)",
                        format!(
                            "formula {:?} gave {raw} for {}",
                            model.formula.source(),
                            slippage::describe(&inputs)
                        ),
                    ));
                }
                finish_fee(model.terms.clamp(raw), fee_to_account, ctx)
            }
            FeeModel::Callback {
                model,
                quote_to_fee,
                fee_to_account,
            } => {
                if !model.terms.side.applies(ctx.leg) {
                    return Ok(0.0);
                }
                let inputs = ctx.inputs(quote_to_fee.factor(ctx.fx, ctx.ts)?);
                let raw = model.callback.call(&inputs, "costs.fees")?;
                finish_fee(model.terms.clamp(raw), fee_to_account, ctx)
            }
            FeeModel::Sum(parts) => {
                let mut total = 0.0;
                for p in parts {
                    total += p.fee(ctx)?;
                }
                Ok(total)
            }
        }
    }

    /// Whether any part is a callback (runs using it serialize on the callback's lock).
    pub fn has_callback(&self) -> bool {
        match self {
            FeeModel::Callback { .. } => true,
            FeeModel::Sum(p) => p.iter().any(FeeModel::has_callback),
            _ => false,
        }
    }
}

/// The currency routes of a fee in `currency` (`None`: the account currency): quote -> fee
/// currency (identity when the fee does not read the notional) and fee -> account currency.
fn fee_routes(
    currency: Option<&str>,
    notional: bool,
    quote_currency: &str,
    account_currency: &str,
    fx: &FxTable,
    field: &str,
) -> Result<(FxPath, FxPath)> {
    let fee_ccy = currency.unwrap_or(account_currency);
    let quote_to_fee = if notional {
        fx.path(quote_currency, fee_ccy, field)?
    } else {
        FxPath::IDENTITY
    };
    Ok((quote_to_fee, fx.path(fee_ccy, account_currency, field)?))
}

/// Converts a fee-currency amount into the account currency; v1 rounds half-even to cents.
#[inline]
fn finish_fee(fee: f64, fee_to_account: &FxPath, ctx: &FeeContext) -> Result<f64> {
    let fee = fee * fee_to_account.factor(ctx.fx, ctx.ts)?;
    Ok(match ctx.variant {
        Variant::V2 => fee,
        Variant::V1Parity => round_half_even_cents(fee),
    })
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
            atr: 0.0,
            spread: 0.0,
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

    fn compile_spec(spec: &FeeSpec, quote: &str, acct: &str, fx: &FxTable) -> FeeModel {
        FeeModel::compile_spec(spec, "EURUSD", quote, acct, fx, "costs.fees").unwrap()
    }

    fn terms(min_fee: f64) -> FeeTerms {
        FeeTerms {
            min_fee,
            ..FeeTerms::default()
        }
    }

    #[test]
    fn tiered_by_lots_and_by_notional() {
        let fx = FxRates::default().compile();
        let per_lot = FeeSpec::Tiered(Tiered {
            kind: RateKind::PerLot,
            basis: TierBasis::Lots,
            tiers: vec![
                Tier {
                    from: 0.0,
                    rate: 7.0,
                },
                Tier {
                    from: 5.0,
                    rate: 6.0,
                },
                Tier {
                    from: 20.0,
                    rate: 5.0,
                },
            ],
            terms: FeeTerms::default(),
        });
        let m = compile_spec(&per_lot, "USD", "USD", &fx);
        let f = |lots: f64| {
            m.fee(&ctx(&fx, FeeLeg::Entry, lots, 1.1, Variant::V2))
                .unwrap()
        };
        assert_eq!(f(2.0), 14.0);
        assert_eq!(f(4.99), 4.99 * 7.0);
        assert_eq!(f(5.0), 30.0); // the threshold belongs to the higher tier
        assert_eq!(f(25.0), 125.0);
        // per million, tier picked by notional, minimum 5
        let per_m = FeeSpec::Tiered(Tiered {
            kind: RateKind::PerMillionNotional,
            basis: TierBasis::Notional,
            tiers: vec![
                Tier {
                    from: 0.0,
                    rate: 35.0,
                },
                Tier {
                    from: 10e6,
                    rate: 30.0,
                },
                Tier {
                    from: 50e6,
                    rate: 25.0,
                },
            ],
            terms: terms(5.0),
        });
        let m = compile_spec(&per_m, "USD", "USD", &fx);
        let f = |lots: f64| {
            m.fee(&ctx(&fx, FeeLeg::Exit, lots, 1.1, Variant::V2))
                .unwrap()
        };
        // 1 lot: 110,000 notional * 35 / 1e6 = 3.85 < min 5
        assert_eq!(f(1.0), 5.0);
        // 10 lots: 1.1M * 35/1e6 = 38.5
        assert!((f(10.0) - 38.5).abs() < 1e-9);
        // 100 lots: 11M -> 30/M = 330
        assert!((f(100.0) - 330.0).abs() < 1e-9);
        // 500 lots: 55M -> 25/M = 1375
        assert!((f(500.0) - 1375.0).abs() < 1e-9);
        // percent of notional, tier by lots: 0.002% then 0.001% from 10 lots
        let pct = FeeSpec::Tiered(Tiered {
            kind: RateKind::PercentOfNotional,
            basis: TierBasis::Lots,
            tiers: vec![
                Tier {
                    from: 1.0,
                    rate: 0.00002,
                },
                Tier {
                    from: 10.0,
                    rate: 0.00001,
                },
            ],
            terms: FeeTerms::default(),
        });
        let m = compile_spec(&pct, "USD", "USD", &fx);
        // below the first threshold: the first tier. 0.5 lot = 55,000 * 0.00002 = 1.1
        let a = m
            .fee(&ctx(&fx, FeeLeg::Exit, 0.5, 1.1, Variant::V2))
            .unwrap();
        assert!((a - 1.1).abs() < 1e-12, "{a}");
        let b = m
            .fee(&ctx(&fx, FeeLeg::Exit, 10.0, 1.1, Variant::V2))
            .unwrap();
        assert!((b - 11.0).abs() < 1e-9, "{b}");
    }

    #[test]
    fn tiered_validation() {
        let mut t = Tiered {
            kind: RateKind::PerLot,
            basis: TierBasis::Lots,
            tiers: vec![],
            terms: FeeTerms::default(),
        };
        assert!(t.validate("x").unwrap_err().to_string().contains("x.tiers"));
        t.tiers = vec![
            Tier {
                from: 1.0,
                rate: 1.0,
            },
            Tier {
                from: 1.0,
                rate: 2.0,
            },
        ];
        assert!(t
            .validate("x")
            .unwrap_err()
            .to_string()
            .contains("x.tiers[1].from"));
        t.tiers = vec![Tier {
            from: 0.0,
            rate: -1.0,
        }];
        assert!(t
            .validate("x")
            .unwrap_err()
            .to_string()
            .contains("x.tiers[0].rate"));
    }

    #[test]
    fn formula_and_callback_fees_equal_the_builtin_bit_for_bit() {
        let fx = FxRates::default()
            .with_rate("EURUSD", 1.25)
            .with_rate("USDJPY", 160.0)
            .compile();
        let mut c = Commission::new(CommissionSchema::PerMillionNotional(30.0));
        c.min_fee = 0.5;
        c.currency = Some("EUR".into());
        let builtin = FeeSpec::Commission(c);
        let fterms = FeeTerms {
            min_fee: 0.5,
            currency: Some("EUR".into()),
            ..FeeTerms::default()
        };
        let formula = FeeSpec::Formula(FormulaFee {
            formula: Formula::parse("30 * notional / 1e6").unwrap(),
            terms: fterms.clone(),
        });
        let callback = FeeSpec::Callback(CallbackFee {
            callback: CostCallback::new("py", |i: &CostInputs| Ok(30.0 * i.notional / 1e6)),
            terms: fterms,
        });
        for (quote, acct) in [("USD", "USD"), ("JPY", "USD"), ("USD", "EUR")] {
            let b = compile_spec(&builtin, quote, acct, &fx);
            let f = compile_spec(&formula, quote, acct, &fx);
            let k = compile_spec(&callback, quote, acct, &fx);
            for lots in [0.01, 0.37, 1.0, 2.5, 13.0] {
                for price in [1.0831, 1.1, 151.234] {
                    for leg in [FeeLeg::Entry, FeeLeg::Exit] {
                        let x = ctx(&fx, leg, lots, price, Variant::V2);
                        let want = b.fee(&x).unwrap();
                        assert_eq!(f.fee(&x).unwrap().to_bits(), want.to_bits());
                        assert_eq!(k.fee(&x).unwrap().to_bits(), want.to_bits());
                    }
                }
            }
        }
        // hand check: EURJPY-like, 1 lot at 200 JPY = 20e6 JPY = 125,000 USD = 100,000 EUR
        // -> 3 EUR -> 3.75 USD
        let f = compile_spec(&formula, "JPY", "USD", &fx);
        let v = f
            .fee(&ctx(&fx, FeeLeg::Entry, 1.0, 200.0, Variant::V2))
            .unwrap();
        assert!((v - 3.75).abs() < 1e-12, "{v}");
    }

    #[test]
    fn formula_fee_fields_sides_limits_and_v1_rounding() {
        let fx = FxRates::default().compile();
        let spec = |src: &str, t: FeeTerms| {
            compile_spec(
                &FeeSpec::Formula(FormulaFee {
                    formula: Formula::parse(src).unwrap(),
                    terms: t,
                }),
                "USD",
                "USD",
                &fx,
            )
        };
        let long_entry = ctx(&fx, FeeLeg::Entry, 2.0, 1.1, Variant::V2);
        let long_exit = ctx(&fx, FeeLeg::Exit, 2.0, 1.1, Variant::V2);
        // side: +1 buy (a long entry), -1 sell (a long exit); is_entry
        let m = spec("10 + side + 100 * is_entry", FeeTerms::default());
        assert_eq!(m.fee(&long_entry).unwrap(), 111.0);
        assert_eq!(m.fee(&long_exit).unwrap(), 9.0);
        let short_exit = FeeContext {
            direction: Direction::Short,
            ..long_exit
        };
        assert_eq!(m.fee(&short_exit).unwrap(), 11.0);
        // spread and atr from the context
        let m = spec("spread / pip + atr * 1000", FeeTerms::default());
        let with_mkt = FeeContext {
            atr: 0.002,
            spread: 0.0003,
            ..long_entry
        };
        assert!((m.fee(&with_mkt).unwrap() - 5.0).abs() < 1e-9);
        // hour: ts 0 is 00:00 UTC Thursday
        let m = spec("hour == 0 && weekday == 3 ? 4 : 1", FeeTerms::default());
        assert_eq!(m.fee(&long_entry).unwrap(), 4.0);
        // exit-only side with min, max and multiplier: clamp(lots * 3 = 6, 1, 5) * 2 = 10
        let m = spec(
            "lots * 3",
            FeeTerms {
                side: FeeSide::Exit,
                min_fee: 1.0,
                max_fee: Some(5.0),
                multiplier: 2.0,
                currency: None,
            },
        );
        assert_eq!(m.fee(&long_entry).unwrap(), 0.0);
        assert_eq!(m.fee(&long_exit).unwrap(), 10.0);
        // negative results are clamped by min_fee (0 by default)
        assert_eq!(
            spec("-5", FeeTerms::default()).fee(&long_entry).unwrap(),
            0.0
        );
        // v1 rounds half-even to cents
        let m = spec("0.125", FeeTerms::default());
        let v1 = ctx(&fx, FeeLeg::Entry, 1.0, 1.1, Variant::V1Parity);
        assert_eq!(m.fee(&v1).unwrap(), 0.12);
        // a non-finite result is an error naming the formula and the order
        let e = spec("lots / (lots - 2)", FeeTerms::default())
            .fee(&long_entry)
            .unwrap_err();
        assert_eq!(e.code().code, 1001);
        assert!(
            e.to_string().contains("\"lots / (lots - 2)\" gave inf"),
            "{e}"
        );
        assert!(e.to_string().contains("lots=2"), "{e}");
    }

    #[test]
    fn callback_errors_are_4001() {
        let fx = FxRates::default().compile();
        let m = compile_spec(
            &FeeSpec::Callback(CallbackFee {
                callback: CostCallback::new("broker_fee", |_: &CostInputs| {
                    Err("ValueError: bad".to_string())
                }),
                terms: FeeTerms::default(),
            }),
            "USD",
            "USD",
            &fx,
        );
        assert!(m.has_callback());
        let e = m
            .fee(&ctx(&fx, FeeLeg::Entry, 1.0, 1.1, Variant::V2))
            .unwrap_err();
        assert_eq!(e.code().code, 4001);
        assert_eq!(
            e.to_string(),
            "[4001] PLUGIN_ERROR: cost callback \"broker_fee\" (costs.fees): ValueError: bad"
        );
        let nan = compile_spec(
            &FeeSpec::Callback(CallbackFee {
                callback: CostCallback::new("nan", |_: &CostInputs| Ok(f64::NAN)),
                terms: FeeTerms::default(),
            }),
            "USD",
            "USD",
            &fx,
        );
        let e = nan
            .fee(&ctx(&fx, FeeLeg::Entry, 1.0, 1.1, Variant::V2))
            .unwrap_err();
        assert!(e.to_string().contains("returned NaN"), "{e}");
        // equality is identity of the function
        let a = CostCallback::new("a", |_: &CostInputs| Ok(1.0));
        let b = CostCallback::new("a", |_: &CostInputs| Ok(1.0));
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
    }

    #[test]
    fn sums_and_per_symbol_maps() {
        let fx = FxRates::default().compile();
        let mut per_lot = Commission::new(CommissionSchema::PerLot(3.0));
        per_lot.side = FeeSide::Both;
        let sum = FeeSpec::Sum(vec![
            FeeSpec::Commission(per_lot),
            FeeSpec::Formula(FormulaFee {
                formula: Formula::parse("max(1, notional * 10 / 1e6)").unwrap(),
                terms: FeeTerms {
                    side: FeeSide::Entry,
                    ..FeeTerms::default()
                },
            }),
        ]);
        let m = compile_spec(&sum, "USD", "USD", &fx);
        // entry: 2 lots * 3 = 6, plus max(1, 220,000 * 10 / 1e6 = 2.2) = 8.2; exit: 6 only
        let e = m
            .fee(&ctx(&fx, FeeLeg::Entry, 2.0, 1.1, Variant::V2))
            .unwrap();
        assert!((e - 8.2).abs() < 1e-12, "{e}");
        assert_eq!(
            m.fee(&ctx(&fx, FeeLeg::Exit, 2.0, 1.1, Variant::V2))
                .unwrap(),
            6.0
        );
        assert!(!m.has_callback());
        let map = PerSymbol {
            default: Some(1),
            per_symbol: vec![("XAUUSD".to_string(), 2)],
        };
        assert_eq!(map.for_symbol("EURUSD"), Some(&1));
        assert_eq!(map.for_symbol("XAUUSD"), Some(&2));
        let only: PerSymbol<i32> = PerSymbol {
            default: None,
            per_symbol: vec![("XAUUSD".to_string(), 2)],
        };
        assert_eq!(only.for_symbol("EURUSD"), None);
        assert_eq!(PerSymbol::uniform(5).for_symbol("X"), Some(&5));
    }

    #[test]
    fn cost_models_validation_and_needs() {
        let mut bad = Commission::new(CommissionSchema::PerLot(1.0));
        bad.min_fee = -1.0;
        let models = CostModels {
            fees: Some(PerSymbol {
                default: None,
                per_symbol: vec![(
                    "EURUSD".into(),
                    FeeSpec::Sum(vec![FeeSpec::Commission(bad)]),
                )],
            }),
            ..CostModels::default()
        };
        let e = models.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("costs.fees.per_symbol[EURUSD][0].min_fee"),
            "{e}"
        );
        let atr = CostModels {
            fees: Some(PerSymbol::uniform(FeeSpec::Formula(FormulaFee {
                formula: Formula::parse("atr > 0.001 ? 2 : 1").unwrap(),
                terms: FeeTerms::default(),
            }))),
            ..CostModels::default()
        };
        assert!(atr.needs_atr() && !CostModels::default().needs_atr());
        let swap = CostModels {
            swap: Some(PerSymbol::uniform(SwapModel {
                rollover_hour_utc: 30,
                ..SwapModel::default()
            })),
            ..CostModels::default()
        };
        assert!(swap
            .validate()
            .unwrap_err()
            .to_string()
            .contains("costs.swap.default.rollover_hour_utc"));
        assert_eq!(
            CostModels {
                slippage: Some(PerSymbol {
                    default: None,
                    per_symbol: vec![("GBPUSD".into(), SlippageSpec::default())]
                }),
                ..CostModels::default()
            }
            .named_symbols()
            .collect::<Vec<_>>(),
            vec!["GBPUSD"]
        );
    }

    #[test]
    fn formula_syntax_error_is_1008_with_column_and_caret() {
        let e = Formula::parse("lots * (price + )")
            .unwrap_err()
            .into_exec("costs.fees.default.formula");
        assert_eq!(e.code().code, 1008);
        assert_eq!(
            e.to_string(),
            "[1008] FORMULA_SYNTAX: costs.fees.default.formula: unexpected ')', expected a number, \
             a variable, a function or '(' at column 17\n  lots * (price + )\n                  ^"
        );
    }
}
