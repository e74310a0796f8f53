//! The `costs` section of a run config and its translation into the simulator's cost models
//! (`omega_exec_core::costs`).
//!
//! ```json
//! "costs": {
//!   "commission": {"default": <fee>, "per_symbol": {"XAUUSD": <fee>}},
//!   "legacy_fee": {"per_million": 25.0, "min_fee": 0.0},
//!   "slippage": <slip>,                 // with an optional "per_symbol": {"XAUUSD": <slip>}
//!   "swap": <swap>,                     // with an optional "per_symbol": {"EURUSD": <swap>}
//!   "atr_period": 14                    // ATR length for models that read `atr`
//! }
//! <fee>  = {"schema": "per_lot" | "per_million_notional" | "percent_of_notional", "rate": r}
//!        | {"schema": "tiered", "rate_kind": "per_lot" | "per_million_notional" |
//!           "percent_of_notional", "basis": "lots" | "notional",
//!           "tiers": [{"from": 0, "rate": 35}, {"from": 1e7, "rate": 30}]}
//!        | {"schema": "formula", "formula": "max(7, notional * 30 / 1e6)"}
//!        | {"schema": "callback", "callback": "<name registered by the caller>"}
//!        | {"schema": "sum", "parts": [<fee>, ...]}
//!   every fee but "sum" also takes side ("entry" | "exit" | "both"), min_fee, max_fee,
//!   multiplier and currency (the fee currency; default the account currency)
//! <slip> = {"fixed_pips": a, "random_pips": b}                    ("model": "fixed", the default)
//!        | {"model": "volatility", "source": "atr" | "spread", "multiplier": k,
//!           "random_multiplier": r, "max_pips": m}
//!        | {"model": "formula", "formula": "0.2 + u * 0.5"}          (pips)
//!        | {"model": "callback", "callback": "<name>"}               (pips)
//!        | {"model": "sum", "parts": [<slip>, ...]}
//! <swap> = {"long_points": -6.5, "short_points": 1.2, "unit": "pips" | "points" | "price" |
//!           "money", "triple_day": "wednesday", "rollover_hour_utc": 22, "currency": null}
//! ```
//!
//! Everything the classic engine had (`commission` with the three schemas, `legacy_fee`,
//! `slippage` with `fixed_pips`/`random_pips`) keeps its meaning and its canonical JSON (so
//! config ids do not change); new fields are left out of the canonical JSON when unset. The exact
//! model semantics (fee clamping, slippage draws, swap rollovers) are documented in
//! `omega_exec_core::costs`.
//!
//! Callbacks (`PythonCallable` in Python) are referenced by name; the caller attaches the named
//! functions to the config ([`crate::RunConfig::cost_callbacks`]) before the run. A run that
//! uses a callback calls it for every order it prices; a Python callable takes the GIL there, so
//! such runs serialize on the GIL.

use std::collections::BTreeMap;

use omega_exec_core as ec;
use omega_exec_core::costs::{
    CallbackFee, CostCallback, CostModels, FeeSpec, FeeTerms, Formula, FormulaFee, PerSymbol,
    RateKind, SlippageSpec, SwapModel, SwapUnit, Tier, TierBasis, Tiered, VolatilitySlippage,
    VolatilitySource, Weekday,
};
use serde::{Deserialize, Serialize};

use crate::error::{LoopError, Result};

/// Named cost callbacks a config may refer to (`"callback": name`).
pub type CostCallbacks = BTreeMap<String, CostCallback>;

fn default_one() -> f64 {
    1.0
}

/// Default ATR length for cost models that read `atr`.
pub const DEFAULT_COST_ATR_PERIOD: u32 = 14;

// ---------------------------------------------------------------------------------------------
// Commission

/// What a commission node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionSchema {
    PerLot,
    PerMillionNotional,
    PercentOfNotional,
    Tiered,
    Formula,
    Callback,
    Sum,
}

impl CommissionSchema {
    fn name(self) -> &'static str {
        match self {
            CommissionSchema::PerLot => "per_lot",
            CommissionSchema::PerMillionNotional => "per_million_notional",
            CommissionSchema::PercentOfNotional => "percent_of_notional",
            CommissionSchema::Tiered => "tiered",
            CommissionSchema::Formula => "formula",
            CommissionSchema::Callback => "callback",
            CommissionSchema::Sum => "sum",
        }
    }

    /// The three schemas of the classic engine (a single `rate`).
    pub fn is_classic(self) -> bool {
        matches!(
            self,
            CommissionSchema::PerLot
                | CommissionSchema::PerMillionNotional
                | CommissionSchema::PercentOfNotional
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionSide {
    Entry,
    Exit,
    #[default]
    Both,
}

/// How a tier's rate applies (`tiered` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierRateKind {
    PerLot,
    PerMillionNotional,
    PercentOfNotional,
}

/// What picks the tier (`tiered` only): the order's lots or its notional in the fee currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBasisConfig {
    Lots,
    Notional,
}

/// One tier: `rate` applies from `from` (lots or notional) up to the next tier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub from: f64,
    pub rate: f64,
}

/// One commission node (see the module doc). The classic schemas take `rate`: `per_lot` (per
/// lot), `per_million_notional` (per million of notional), `percent_of_notional` (a fraction of
/// notional: 0.001 = 0.1 %). `min_fee`/`max_fee` apply per charged side, `multiplier` scales all
/// of it, `currency` is the fee currency (default the account currency).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionModelConfig {
    pub schema: CommissionSchema,
    /// The classic schemas' rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default)]
    pub side: CommissionSide,
    #[serde(default)]
    pub min_fee: f64,
    #[serde(default)]
    pub max_fee: Option<f64>,
    #[serde(default = "default_one")]
    pub multiplier: f64,
    #[serde(default)]
    pub currency: Option<String>,
    /// `tiered`: how the tier's rate applies (default `per_lot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_kind: Option<TierRateKind>,
    /// `tiered`: what picks the tier (default `lots`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<TierBasisConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<TierConfig>>,
    /// `formula`: the fee in the fee currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// `callback`: the name of a registered callback giving the fee in the fee currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// `sum`: the parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<CommissionModelConfig>>,
}

impl CommissionModelConfig {
    /// A classic node with defaults (both sides, no minimum, multiplier 1).
    pub fn classic(schema: CommissionSchema, rate: f64) -> Self {
        CommissionModelConfig {
            schema,
            rate: Some(rate),
            side: CommissionSide::Both,
            min_fee: 0.0,
            max_fee: None,
            multiplier: 1.0,
            currency: None,
            rate_kind: None,
            basis: None,
            tiers: None,
            formula: None,
            callback: None,
            parts: None,
        }
    }

    /// Whether the node (and every part) is one of the classic schemas.
    pub fn is_classic(&self) -> bool {
        self.schema.is_classic()
    }
}

/// `costs.commission`: a default model with per-symbol ones.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionConfig {
    #[serde(default)]
    pub default: Option<CommissionModelConfig>,
    #[serde(default)]
    pub per_symbol: BTreeMap<String, CommissionModelConfig>,
}

/// `costs.legacy_fee`: `max(notional / 1e6 * per_million, min_fee)` (used only without a
/// commission model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyFeeConfig {
    pub per_million: f64,
    #[serde(default)]
    pub min_fee: f64,
}

// ---------------------------------------------------------------------------------------------
// Slippage

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlippageKind {
    #[default]
    Fixed,
    Volatility,
    Formula,
    Callback,
    Sum,
}

impl SlippageKind {
    fn name(self) -> &'static str {
        match self {
            SlippageKind::Fixed => "fixed",
            SlippageKind::Volatility => "volatility",
            SlippageKind::Formula => "formula",
            SlippageKind::Callback => "callback",
            SlippageKind::Sum => "sum",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolatilitySourceConfig {
    Atr,
    Spread,
}

/// `costs.slippage` (see the module doc). Without `model` it is the classic
/// `fixed_pips + U(0, random_pips)`, always adverse.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlippageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<SlippageKind>,
    #[serde(default)]
    pub fixed_pips: f64,
    #[serde(default)]
    pub random_pips: f64,
    /// `volatility`: ATR or spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<VolatilitySourceConfig>,
    /// `volatility`: pips = (multiplier + u * random_multiplier) * X / pip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pips: Option<f64>,
    /// `formula`: pips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// `callback`: the name of a registered callback giving pips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// `sum`: the parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<SlippageConfig>>,
    /// Top level only: models for particular symbols (the node itself is the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_symbol: Option<BTreeMap<String, SlippageConfig>>,
}

impl SlippageConfig {
    /// The classic fixed + random model.
    pub fn fixed(fixed_pips: f64, random_pips: f64) -> Self {
        SlippageConfig {
            fixed_pips,
            random_pips,
            ..SlippageConfig::default()
        }
    }

    fn kind(&self) -> SlippageKind {
        self.model.unwrap_or_default()
    }

    /// Whether this is the classic model with no per-symbol entries.
    pub fn is_classic(&self) -> bool {
        self.kind() == SlippageKind::Fixed && self.per_symbol.is_none()
    }
}

// ---------------------------------------------------------------------------------------------
// Swap

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapUnitConfig {
    #[default]
    Pips,
    Points,
    Price,
    Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekdayConfig {
    Monday,
    Tuesday,
    #[default]
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

fn default_rollover_hour() -> u32 {
    u32::from(ec::costs::swap::DEFAULT_ROLLOVER_HOUR_UTC)
}

/// `costs.swap`: points per lot per night (signed: negative is a charge), see
/// `omega_exec_core::costs::swap` for the rollover rule and the units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapConfig {
    #[serde(default)]
    pub long_points: f64,
    #[serde(default)]
    pub short_points: f64,
    #[serde(default)]
    pub unit: SwapUnitConfig,
    #[serde(default)]
    pub triple_day: WeekdayConfig,
    #[serde(default = "default_rollover_hour")]
    pub rollover_hour_utc: u32,
    #[serde(default)]
    pub currency: Option<String>,
    /// Top level only: swaps of particular symbols (the node itself is the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_symbol: Option<BTreeMap<String, SwapConfig>>,
}

impl Default for SwapConfig {
    fn default() -> Self {
        SwapConfig {
            long_points: 0.0,
            short_points: 0.0,
            unit: SwapUnitConfig::Pips,
            triple_day: WeekdayConfig::Wednesday,
            rollover_hour_utc: default_rollover_hour(),
            currency: None,
            per_symbol: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The section

/// `costs`.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostsConfig {
    #[serde(default)]
    pub slippage: SlippageConfig,
    #[serde(default)]
    pub commission: Option<CommissionConfig>,
    #[serde(default)]
    pub legacy_fee: Option<LegacyFeeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapConfig>,
    /// ATR length for cost models reading `atr` (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr_period: Option<u32>,
}

fn finite(path: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(LoopError::config(path, format!("must be finite, got {v}")))
    }
}
fn non_negative(path: &str, v: f64) -> Result<()> {
    if finite(path, v)? >= 0.0 {
        Ok(())
    } else {
        Err(LoopError::config(path, format!("must be >= 0, got {v}")))
    }
}
fn currency(path: &str, c: &str) -> Result<()> {
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(LoopError::config(
            path,
            format!("must be a three-letter upper-case currency code, got {c:?}"),
        ))
    }
}
fn symbol_key(path: &str, sym: &str) -> Result<()> {
    if sym.is_empty() {
        Err(LoopError::config(path, "symbol keys must not be empty"))
    } else {
        Ok(())
    }
}
fn parse_formula(path: &str, src: &str) -> Result<Formula> {
    Formula::parse(src).map_err(|e| LoopError::Exec(e.into_exec(path)))
}
fn callback_name(path: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        Err(LoopError::config(path, "must not be empty"))
    } else {
        Ok(())
    }
}
fn required<'a, T>(path: &str, v: &'a Option<T>, what: &str) -> Result<&'a T> {
    v.as_ref()
        .ok_or_else(|| LoopError::config(path, format!("is required for {what}")))
}
fn unused<T>(path: &str, v: &Option<T>, what: &str) -> Result<()> {
    if v.is_some() {
        Err(LoopError::config(path, format!("is not used by {what}")))
    } else {
        Ok(())
    }
}

/// The `formula` and `callback` fields of a fee or slippage node, each `(node is of that kind,
/// value)`: required (a formula that parses, a non-empty name) for its kind, unused otherwise.
fn formula_and_callback(
    path: &str,
    what: &str,
    (is_formula, formula): (bool, &Option<String>),
    (is_callback, callback): (bool, &Option<String>),
) -> Result<()> {
    let f = |name: &str| format!("{path}.{name}");
    if is_formula {
        parse_formula(&f("formula"), required(&f("formula"), formula, what)?)?;
    } else {
        unused(&f("formula"), formula, what)?;
    }
    if is_callback {
        callback_name(&f("callback"), required(&f("callback"), callback, what)?)
    } else {
        unused(&f("callback"), callback, what)
    }
}

fn validate_commission(path: &str, m: &CommissionModelConfig, depth: usize) -> Result<()> {
    let what = format!("schema {:?}", m.schema.name());
    let f = |name: &str| format!("{path}.{name}");
    if m.schema.is_classic() {
        non_negative(&f("rate"), *required(&f("rate"), &m.rate, &what)?)?;
    } else {
        unused(&f("rate"), &m.rate, &what)?;
    }
    if m.schema == CommissionSchema::Sum {
        // A sum has no terms of its own: each part carries its side, limits and currency.
        let own = m.side != CommissionSide::Both
            || m.min_fee != 0.0
            || m.max_fee.is_some()
            || m.multiplier != 1.0
            || m.currency.is_some();
        if own {
            return Err(LoopError::config(
                path,
                "side, min_fee, max_fee, multiplier and currency are not used by schema \"sum\"; \
                 set them on the parts",
            ));
        }
    } else {
        non_negative(&f("min_fee"), m.min_fee)?;
        if let Some(max) = m.max_fee {
            non_negative(&f("max_fee"), max)?;
            if max < m.min_fee {
                return Err(LoopError::config(
                    f("max_fee"),
                    format!("must be >= min_fee ({max} < {})", m.min_fee),
                ));
            }
        }
        non_negative(&f("multiplier"), m.multiplier)?;
        if let Some(c) = &m.currency {
            currency(&f("currency"), c)?;
        }
    }
    if m.schema == CommissionSchema::Tiered {
        let tiers = required(&f("tiers"), &m.tiers, &what)?;
        if tiers.is_empty() {
            return Err(LoopError::config(f("tiers"), "needs at least one tier"));
        }
        for (i, t) in tiers.iter().enumerate() {
            non_negative(&format!("{path}.tiers[{i}].from"), t.from)?;
            non_negative(&format!("{path}.tiers[{i}].rate"), t.rate)?;
            if i > 0 && t.from <= tiers[i - 1].from {
                return Err(LoopError::config(
                    format!("{path}.tiers[{i}].from"),
                    format!(
                        "tiers must be strictly increasing by `from` ({} <= {})",
                        t.from,
                        tiers[i - 1].from
                    ),
                ));
            }
        }
    } else {
        unused(&f("tiers"), &m.tiers, &what)?;
        unused(&f("rate_kind"), &m.rate_kind, &what)?;
        unused(&f("basis"), &m.basis, &what)?;
    }
    formula_and_callback(
        path,
        &what,
        (m.schema == CommissionSchema::Formula, &m.formula),
        (m.schema == CommissionSchema::Callback, &m.callback),
    )?;
    if m.schema == CommissionSchema::Sum {
        let parts = required(&f("parts"), &m.parts, &what)?;
        if depth > 8 {
            return Err(LoopError::config(
                f("parts"),
                "sums nest deeper than 8 levels",
            ));
        }
        for (i, p) in parts.iter().enumerate() {
            validate_commission(&format!("{path}.parts[{i}]"), p, depth + 1)?;
        }
    } else {
        unused(&f("parts"), &m.parts, &what)?;
    }
    Ok(())
}

fn validate_slippage(path: &str, s: &SlippageConfig, top: bool, depth: usize) -> Result<()> {
    let kind = s.kind();
    let what = format!("model {:?}", kind.name());
    let f = |name: &str| format!("{path}.{name}");
    non_negative(&f("fixed_pips"), s.fixed_pips)?;
    non_negative(&f("random_pips"), s.random_pips)?;
    if kind != SlippageKind::Fixed && (s.fixed_pips != 0.0 || s.random_pips != 0.0) {
        return Err(LoopError::config(
            f("fixed_pips"),
            format!(
                "fixed_pips and random_pips are not used by {what}; combine models with \
                 model \"sum\""
            ),
        ));
    }
    if kind == SlippageKind::Volatility {
        required(&f("source"), &s.source, &what)?;
        non_negative(
            &f("multiplier"),
            *required(&f("multiplier"), &s.multiplier, &what)?,
        )?;
        if let Some(r) = s.random_multiplier {
            non_negative(&f("random_multiplier"), r)?;
        }
        if let Some(m) = s.max_pips {
            non_negative(&f("max_pips"), m)?;
        }
    } else {
        unused(&f("source"), &s.source, &what)?;
        unused(&f("multiplier"), &s.multiplier, &what)?;
        unused(&f("random_multiplier"), &s.random_multiplier, &what)?;
        unused(&f("max_pips"), &s.max_pips, &what)?;
    }
    formula_and_callback(
        path,
        &what,
        (kind == SlippageKind::Formula, &s.formula),
        (kind == SlippageKind::Callback, &s.callback),
    )?;
    if kind == SlippageKind::Sum {
        if depth > 8 {
            return Err(LoopError::config(
                f("parts"),
                "sums nest deeper than 8 levels",
            ));
        }
        for (i, p) in required(&f("parts"), &s.parts, &what)?.iter().enumerate() {
            validate_slippage(&format!("{path}.parts[{i}]"), p, false, depth + 1)?;
        }
    } else {
        unused(&f("parts"), &s.parts, &what)?;
    }
    if let Some(map) = &s.per_symbol {
        if !top {
            return Err(LoopError::config(
                f("per_symbol"),
                "per_symbol is only allowed at the top of costs.slippage",
            ));
        }
        for (sym, m) in map {
            symbol_key(&f("per_symbol"), sym)?;
            validate_slippage(&format!("{path}.per_symbol.{sym}"), m, false, depth + 1)?;
        }
    }
    Ok(())
}

fn validate_swap(path: &str, s: &SwapConfig, top: bool) -> Result<()> {
    let f = |name: &str| format!("{path}.{name}");
    finite(&f("long_points"), s.long_points)?;
    finite(&f("short_points"), s.short_points)?;
    if s.rollover_hour_utc > 23 {
        return Err(LoopError::config(
            f("rollover_hour_utc"),
            format!("must be in 0..=23, got {}", s.rollover_hour_utc),
        ));
    }
    if matches!(
        s.triple_day,
        WeekdayConfig::Saturday | WeekdayConfig::Sunday
    ) {
        return Err(LoopError::config(
            f("triple_day"),
            "must be a weekday (monday..friday)",
        ));
    }
    if let Some(c) = &s.currency {
        currency(&f("currency"), c)?;
        if s.unit != SwapUnitConfig::Money {
            return Err(LoopError::config(
                f("currency"),
                "is only used with unit \"money\"",
            ));
        }
    }
    if let Some(map) = &s.per_symbol {
        if !top {
            return Err(LoopError::config(
                f("per_symbol"),
                "per_symbol is only allowed at the top of costs.swap",
            ));
        }
        for (sym, m) in map {
            symbol_key(&f("per_symbol"), sym)?;
            validate_swap(&format!("{path}.per_symbol.{sym}"), m, false)?;
        }
    }
    Ok(())
}

impl CostsConfig {
    /// Checks every field; errors name the dotted path (1003; 1008 for a formula that does not
    /// parse, with the column).
    pub fn validate(&self) -> Result<()> {
        validate_slippage("costs.slippage", &self.slippage, true, 0)?;
        if let Some(com) = &self.commission {
            if let Some(d) = &com.default {
                validate_commission("costs.commission.default", d, 0)?;
            }
            for (sym, m) in &com.per_symbol {
                symbol_key("costs.commission.per_symbol", sym)?;
                validate_commission(&format!("costs.commission.per_symbol.{sym}"), m, 0)?;
            }
            if self.legacy_fee.is_some() {
                return Err(LoopError::config(
                    "costs.legacy_fee",
                    "give either costs.commission or costs.legacy_fee, not both",
                ));
            }
        }
        if let Some(l) = &self.legacy_fee {
            non_negative("costs.legacy_fee.per_million", l.per_million)?;
            non_negative("costs.legacy_fee.min_fee", l.min_fee)?;
        }
        if let Some(s) = &self.swap {
            validate_swap("costs.swap", s, true)?;
        }
        if let Some(p) = self.atr_period {
            if !(1..=1_000_000).contains(&p) {
                return Err(LoopError::config(
                    "costs.atr_period",
                    format!("must be in 1..=1000000, got {p}"),
                ));
            }
        }
        Ok(())
    }

    /// The ATR length for cost models that read `atr`.
    pub fn atr_period(&self) -> u32 {
        self.atr_period.unwrap_or(DEFAULT_COST_ATR_PERIOD)
    }

    /// The commission node that applies to `symbol`.
    fn commission_for(&self, symbol: &str) -> Option<&CommissionModelConfig> {
        self.commission
            .as_ref()
            .and_then(|c| c.per_symbol.get(symbol).or(c.default.as_ref()))
    }

    /// Whether the commission needs the model tree (a node other than the classic schemas).
    fn commission_is_tree(&self, symbol: &str) -> bool {
        self.commission_for(symbol).is_some_and(|m| !m.is_classic())
    }

    /// The classic slippage model (zero when a slippage tree is used instead).
    pub fn classic_slippage(&self) -> ec::SlippageModel {
        if self.slippage.is_classic() {
            ec::SlippageModel {
                fixed_pips: self.slippage.fixed_pips,
                random_pips: self.slippage.random_pips,
            }
        } else {
            ec::SlippageModel::default()
        }
    }

    /// The classic commission set for a run on `symbol` (`None` when the commission of the
    /// symbol is a model tree: [`Self::cost_models`] carries it then).
    pub fn classic_commission(&self, symbol: &str) -> Option<ec::CommissionSet> {
        if self.commission_is_tree(symbol) {
            return None;
        }
        self.commission.as_ref().map(|c| ec::CommissionSet {
            default: c.default.as_ref().and_then(classic_commission),
            // A run simulates one symbol: entries of other symbols do not apply to it.
            overrides: c
                .per_symbol
                .iter()
                .filter(|(s, _)| *s == symbol)
                .filter_map(|(s, m)| classic_commission(m).map(|m| (s.clone(), m)))
                .collect(),
        })
    }

    /// The classic legacy fee.
    pub fn classic_legacy_fee(&self) -> Option<ec::LegacyFee> {
        self.legacy_fee.as_ref().map(|l| ec::LegacyFee {
            per_million: l.per_million,
            min_fee: l.min_fee,
        })
    }

    /// The model trees of a run on `symbol` (empty for a classic config, which the simulator
    /// config's classic fields describe completely). Callbacks are looked up in `callbacks`
    /// (4002 for a name that is not there, listing the known ones).
    pub fn cost_models(
        &self,
        symbol: &str,
        callbacks: Option<&CostCallbacks>,
    ) -> Result<CostModels> {
        let mut out = CostModels::default();
        if self.commission_is_tree(symbol) {
            if let Some(m) = self.commission_for(symbol) {
                let path = if self
                    .commission
                    .as_ref()
                    .is_some_and(|c| c.per_symbol.contains_key(symbol))
                {
                    format!("costs.commission.per_symbol.{symbol}")
                } else {
                    "costs.commission.default".to_string()
                };
                out.fees = Some(PerSymbol {
                    default: None,
                    per_symbol: vec![(symbol.to_string(), fee_spec(&path, m, callbacks)?)],
                });
            }
        }
        if !self.slippage.is_classic() {
            let (path, node) = match self
                .slippage
                .per_symbol
                .as_ref()
                .and_then(|m| m.get(symbol))
            {
                Some(n) => (format!("costs.slippage.per_symbol.{symbol}"), n),
                None => ("costs.slippage".to_string(), &self.slippage),
            };
            out.slippage = Some(PerSymbol {
                default: None,
                per_symbol: vec![(symbol.to_string(), slippage_spec(&path, node, callbacks)?)],
            });
        }
        if let Some(sw) = &self.swap {
            let node = sw
                .per_symbol
                .as_ref()
                .and_then(|m| m.get(symbol))
                .unwrap_or(sw);
            out.swap = Some(PerSymbol {
                default: None,
                per_symbol: vec![(symbol.to_string(), swap_model(node))],
            });
        }
        Ok(out)
    }

    /// Every callback name the section refers to.
    pub fn callback_names(&self) -> Vec<&str> {
        fn fee<'a>(m: &'a CommissionModelConfig, out: &mut Vec<&'a str>) {
            if let Some(c) = &m.callback {
                out.push(c);
            }
            for p in m.parts.iter().flatten() {
                fee(p, out);
            }
        }
        fn slip<'a>(s: &'a SlippageConfig, out: &mut Vec<&'a str>) {
            if let Some(c) = &s.callback {
                out.push(c);
            }
            for p in s.parts.iter().flatten() {
                slip(p, out);
            }
            for p in s.per_symbol.iter().flat_map(|m| m.values()) {
                slip(p, out);
            }
        }
        let mut out = Vec::new();
        if let Some(c) = &self.commission {
            for m in c.default.iter().chain(c.per_symbol.values()) {
                fee(m, &mut out);
            }
        }
        slip(&self.slippage, &mut out);
        out
    }
}

fn classic_commission(m: &CommissionModelConfig) -> Option<ec::Commission> {
    let rate = m.rate.unwrap_or(0.0);
    let schema = match m.schema {
        CommissionSchema::PerLot => ec::CommissionSchema::PerLot(rate),
        CommissionSchema::PerMillionNotional => ec::CommissionSchema::PerMillionNotional(rate),
        CommissionSchema::PercentOfNotional => ec::CommissionSchema::PercentOfNotional(rate),
        _ => return None,
    };
    Some(ec::Commission {
        schema,
        side: fee_side(m.side),
        min_fee: m.min_fee,
        max_fee: m.max_fee,
        multiplier: m.multiplier,
        currency: m.currency.clone(),
    })
}

fn fee_side(s: CommissionSide) -> ec::FeeSide {
    match s {
        CommissionSide::Entry => ec::FeeSide::Entry,
        CommissionSide::Exit => ec::FeeSide::Exit,
        CommissionSide::Both => ec::FeeSide::Both,
    }
}

fn lookup(path: &str, name: &str, callbacks: Option<&CostCallbacks>) -> Result<CostCallback> {
    match callbacks.and_then(|c| c.get(name)) {
        Some(cb) => Ok(cb.clone()),
        None => {
            let known: Vec<&str> = callbacks
                .map(|c| c.keys().map(String::as_str).collect())
                .unwrap_or_default();
            Err(LoopError::Exec(ec::ExecError::UnknownCostCallback {
                field: path.to_string(),
                name: name.to_string(),
                known: if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                },
            }))
        }
    }
}

fn fee_spec(
    path: &str,
    m: &CommissionModelConfig,
    callbacks: Option<&CostCallbacks>,
) -> Result<FeeSpec> {
    let terms = || FeeTerms {
        side: fee_side(m.side),
        min_fee: m.min_fee,
        max_fee: m.max_fee,
        multiplier: m.multiplier,
        currency: m.currency.clone(),
    };
    Ok(match m.schema {
        CommissionSchema::PerLot
        | CommissionSchema::PerMillionNotional
        | CommissionSchema::PercentOfNotional => match classic_commission(m) {
            Some(c) => FeeSpec::Commission(c),
            None => {
                return Err(LoopError::Internal {
                    message: format!("{path}: classic schema without a classic model"),
                })
            }
        },
        CommissionSchema::Tiered => FeeSpec::Tiered(Tiered {
            kind: match m.rate_kind.unwrap_or(TierRateKind::PerLot) {
                TierRateKind::PerLot => RateKind::PerLot,
                TierRateKind::PerMillionNotional => RateKind::PerMillionNotional,
                TierRateKind::PercentOfNotional => RateKind::PercentOfNotional,
            },
            basis: match m.basis.unwrap_or(TierBasisConfig::Lots) {
                TierBasisConfig::Lots => TierBasis::Lots,
                TierBasisConfig::Notional => TierBasis::Notional,
            },
            tiers: m
                .tiers
                .iter()
                .flatten()
                .map(|t| Tier {
                    from: t.from,
                    rate: t.rate,
                })
                .collect(),
            terms: terms(),
        }),
        CommissionSchema::Formula => FeeSpec::Formula(FormulaFee {
            formula: parse_formula(
                &format!("{path}.formula"),
                m.formula.as_deref().unwrap_or_default(),
            )?,
            terms: terms(),
        }),
        CommissionSchema::Callback => FeeSpec::Callback(CallbackFee {
            callback: lookup(
                &format!("{path}.callback"),
                m.callback.as_deref().unwrap_or_default(),
                callbacks,
            )?,
            terms: terms(),
        }),
        CommissionSchema::Sum => FeeSpec::Sum(
            m.parts
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| fee_spec(&format!("{path}.parts[{i}]"), p, callbacks))
                .collect::<Result<_>>()?,
        ),
    })
}

fn slippage_spec(
    path: &str,
    s: &SlippageConfig,
    callbacks: Option<&CostCallbacks>,
) -> Result<SlippageSpec> {
    Ok(match s.kind() {
        SlippageKind::Fixed => SlippageSpec::Fixed(ec::SlippageModel {
            fixed_pips: s.fixed_pips,
            random_pips: s.random_pips,
        }),
        SlippageKind::Volatility => SlippageSpec::Volatility(VolatilitySlippage {
            source: match s.source {
                Some(VolatilitySourceConfig::Spread) => VolatilitySource::Spread,
                _ => VolatilitySource::Atr,
            },
            multiplier: s.multiplier.unwrap_or(0.0),
            random_multiplier: s.random_multiplier.unwrap_or(0.0),
            max_pips: s.max_pips,
        }),
        SlippageKind::Formula => SlippageSpec::Formula(parse_formula(
            &format!("{path}.formula"),
            s.formula.as_deref().unwrap_or_default(),
        )?),
        SlippageKind::Callback => SlippageSpec::Callback(lookup(
            &format!("{path}.callback"),
            s.callback.as_deref().unwrap_or_default(),
            callbacks,
        )?),
        SlippageKind::Sum => SlippageSpec::Sum(
            s.parts
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| slippage_spec(&format!("{path}.parts[{i}]"), p, callbacks))
                .collect::<Result<_>>()?,
        ),
    })
}

fn swap_model(s: &SwapConfig) -> SwapModel {
    SwapModel {
        long_points: s.long_points,
        short_points: s.short_points,
        unit: match s.unit {
            SwapUnitConfig::Pips => SwapUnit::Pips,
            SwapUnitConfig::Points => SwapUnit::Points,
            SwapUnitConfig::Price => SwapUnit::Price,
            SwapUnitConfig::Money => SwapUnit::Money,
        },
        triple_day: match s.triple_day {
            WeekdayConfig::Monday => Weekday::Monday,
            WeekdayConfig::Tuesday => Weekday::Tuesday,
            WeekdayConfig::Wednesday => Weekday::Wednesday,
            WeekdayConfig::Thursday => Weekday::Thursday,
            WeekdayConfig::Friday => Weekday::Friday,
            WeekdayConfig::Saturday => Weekday::Saturday,
            WeekdayConfig::Sunday => Weekday::Sunday,
        },
        // Validated to 0..=23.
        rollover_hour_utc: u8::try_from(s.rollover_hour_utc.min(23)).unwrap_or(0),
        currency: s.currency.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn costs(v: serde_json::Value) -> CostsConfig {
        let c: CostsConfig = serde_json::from_value(v).unwrap();
        c.validate().unwrap();
        c
    }

    fn invalid(v: serde_json::Value) -> String {
        let c: CostsConfig = serde_json::from_value(v).unwrap();
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn classic_sections_keep_their_canonical_json() {
        let c = costs(json!({"slippage": {"fixed_pips": 0.2, "random_pips": 0.5},
            "commission": {"default": {"schema": "per_million_notional", "rate": 30, "min_fee": 0.5}}}));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            json!({"slippage": {"fixed_pips": 0.2, "random_pips": 0.5},
                   "commission": {"default": {"schema": "per_million_notional", "rate": 30.0,
                       "side": "both", "min_fee": 0.5, "max_fee": null, "multiplier": 1.0,
                       "currency": null}, "per_symbol": {}},
                   "legacy_fee": null})
        );
        assert_eq!(
            serde_json::to_value(CostsConfig::default()).unwrap(),
            json!({"slippage": {"fixed_pips": 0.0, "random_pips": 0.0}, "commission": null,
                   "legacy_fee": null})
        );
        assert!(c.slippage.is_classic());
        assert_eq!(
            c.classic_slippage(),
            ec::SlippageModel {
                fixed_pips: 0.2,
                random_pips: 0.5
            }
        );
        let set = c.classic_commission("EURUSD").unwrap();
        assert_eq!(
            set.default.unwrap().schema,
            ec::CommissionSchema::PerMillionNotional(30.0)
        );
        assert_eq!(
            c.cost_models("EURUSD", None).unwrap(),
            CostModels::default()
        );
    }

    #[test]
    fn trees_translate_into_cost_models() {
        let c = costs(json!({
            "commission": {"default": {"schema": "sum", "parts": [
                {"schema": "tiered", "rate_kind": "per_million_notional", "basis": "notional",
                 "tiers": [{"from": 0, "rate": 35}, {"from": 1e7, "rate": 30}], "min_fee": 7},
                {"schema": "formula", "formula": "hour >= 21 ? 1 : 0", "side": "entry"}]},
              "per_symbol": {"XAUUSD": {"schema": "per_lot", "rate": 9}}},
            "slippage": {"model": "volatility", "source": "atr", "multiplier": 0.1,
                         "per_symbol": {"XAUUSD": {"fixed_pips": 3}}},
            "swap": {"long_points": -6.5, "short_points": 1.2,
                     "per_symbol": {"XAUUSD": {"long_points": -20, "short_points": 5, "unit": "money"}}},
            "atr_period": 20
        }));
        assert_eq!(c.atr_period(), 20);
        // EURUSD: the default tree
        assert!(c.classic_commission("EURUSD").is_none());
        assert_eq!(c.classic_slippage(), ec::SlippageModel::default());
        let m = c.cost_models("EURUSD", None).unwrap();
        let fees = m.fees.unwrap();
        let FeeSpec::Sum(parts) = fees.for_symbol("EURUSD").unwrap() else {
            panic!("not a sum")
        };
        match &parts[0] {
            FeeSpec::Tiered(t) => {
                assert_eq!(t.kind, RateKind::PerMillionNotional);
                assert_eq!(t.basis, TierBasis::Notional);
                assert_eq!(t.rate_for(2e7), 30.0);
                assert_eq!(t.terms.min_fee, 7.0);
            }
            other => panic!("{other:?}"),
        }
        match &parts[1] {
            FeeSpec::Formula(f) => {
                assert_eq!(f.formula.source(), "hour >= 21 ? 1 : 0");
                assert_eq!(f.terms.side, ec::FeeSide::Entry);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            m.slippage.unwrap().for_symbol("EURUSD"),
            Some(&SlippageSpec::Volatility(VolatilitySlippage {
                source: VolatilitySource::Atr,
                multiplier: 0.1,
                random_multiplier: 0.0,
                max_pips: None
            }))
        );
        let sw = m.swap.unwrap();
        let s = sw.for_symbol("EURUSD").unwrap();
        assert_eq!(
            (
                s.long_points,
                s.short_points,
                s.unit,
                s.triple_day,
                s.rollover_hour_utc
            ),
            (-6.5, 1.2, SwapUnit::Pips, Weekday::Wednesday, 22)
        );
        // XAUUSD: its own classic commission, fixed slippage and money swap
        let set = c.classic_commission("XAUUSD").unwrap();
        assert_eq!(set.overrides[0].1.schema, ec::CommissionSchema::PerLot(9.0));
        let m = c.cost_models("XAUUSD", None).unwrap();
        assert!(m.fees.is_none());
        assert_eq!(
            m.slippage.unwrap().for_symbol("XAUUSD"),
            Some(&SlippageSpec::Fixed(ec::SlippageModel {
                fixed_pips: 3.0,
                random_pips: 0.0
            }))
        );
        assert_eq!(
            m.swap.unwrap().for_symbol("XAUUSD").unwrap().unit,
            SwapUnit::Money
        );
    }

    #[test]
    fn callbacks_resolve_by_name() {
        let c = costs(json!({
            "commission": {"default": {"schema": "callback", "callback": "fee_fn"}},
            "slippage": {"model": "sum", "parts": [{"fixed_pips": 0.1},
                                                   {"model": "callback", "callback": "slip_fn"}]}
        }));
        assert_eq!(c.callback_names(), vec!["fee_fn", "slip_fn"]);
        let e = c.cost_models("EURUSD", None).unwrap_err();
        assert_eq!(e.code().code, 4002);
        assert!(
            e.to_string()
                .contains("costs.commission.default.callback: no cost callback named \"fee_fn\" (known: none)"),
            "{e}"
        );
        let mut table = CostCallbacks::new();
        table.insert(
            "fee_fn".into(),
            CostCallback::new("fee_fn", |i: &ec::CostInputs| Ok(i.lots)),
        );
        let e = c.cost_models("EURUSD", Some(&table)).unwrap_err();
        assert!(e.to_string().contains("slip_fn\" (known: fee_fn)"), "{e}");
        table.insert(
            "slip_fn".into(),
            CostCallback::new("slip_fn", |_: &ec::CostInputs| Ok(0.0)),
        );
        let m = c.cost_models("EURUSD", Some(&table)).unwrap();
        assert!(matches!(
            m.fees.unwrap().for_symbol("EURUSD"),
            Some(FeeSpec::Callback(_))
        ));
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (
                json!({"commission": {"default": {"schema": "per_lot"}}}),
                "costs.commission.default.rate: is required for schema \"per_lot\"",
            ),
            (
                json!({"commission": {"default": {"schema": "formula", "formula": "1", "rate": 2}}}),
                "costs.commission.default.rate: is not used by schema \"formula\"",
            ),
            (
                json!({"commission": {"default": {"schema": "tiered", "tiers": [{"from": 5, "rate": 1}, {"from": 5, "rate": 2}]}}}),
                "costs.commission.default.tiers[1].from: tiers must be strictly increasing",
            ),
            (
                json!({"commission": {"default": {"schema": "tiered", "tiers": []}}}),
                "costs.commission.default.tiers: needs at least one tier",
            ),
            (
                json!({"commission": {"default": {"schema": "sum", "min_fee": 1, "parts": []}}}),
                "not used by schema \"sum\"",
            ),
            (
                json!({"commission": {"per_symbol": {"EURUSD": {"schema": "sum", "parts": [{"schema": "per_lot", "rate": -1}]}}}}),
                "costs.commission.per_symbol.EURUSD.parts[0].rate: must be >= 0",
            ),
            (
                json!({"commission": {"default": {"schema": "callback"}}}),
                "costs.commission.default.callback: is required for schema \"callback\"",
            ),
            (
                json!({"slippage": {"model": "volatility", "multiplier": 0.1}}),
                "costs.slippage.source: is required for model \"volatility\"",
            ),
            (
                json!({"slippage": {"model": "formula", "formula": "1", "fixed_pips": 0.2}}),
                "costs.slippage.fixed_pips: fixed_pips and random_pips are not used by model \"formula\"",
            ),
            (
                json!({"slippage": {"source": "atr"}}),
                "costs.slippage.source: is not used by model \"fixed\"",
            ),
            (
                json!({"slippage": {"model": "sum", "parts": [{"per_symbol": {"X": {}}}]}}),
                "costs.slippage.parts[0].per_symbol: per_symbol is only allowed at the top",
            ),
            (
                json!({"swap": {"rollover_hour_utc": 24}}),
                "costs.swap.rollover_hour_utc: must be in 0..=23, got 24",
            ),
            (
                json!({"swap": {"triple_day": "sunday"}}),
                "costs.swap.triple_day: must be a weekday",
            ),
            (
                json!({"swap": {"currency": "EUR"}}),
                "costs.swap.currency: is only used with unit \"money\"",
            ),
            (
                json!({"swap": {"long_points": 1, "per_symbol": {"EURUSD": {"per_symbol": {}}}}}),
                "costs.swap.per_symbol.EURUSD.per_symbol: per_symbol is only allowed at the top",
            ),
            (json!({"atr_period": 0}), "costs.atr_period: must be in 1..=1000000"),
        ];
        for (v, want) in cases {
            let got = invalid(v.clone());
            assert!(got.contains(want), "{v}: {got}");
            assert!(got.starts_with("[1003] INVALID_CONFIG"), "{got}");
        }
    }

    #[test]
    fn formula_syntax_errors_are_1008_with_the_column() {
        let e = invalid(
            json!({"commission": {"default": {"schema": "formula", "formula": "lots * (1 +"}}}),
        );
        assert!(
            e.starts_with(
                "[1008] FORMULA_SYNTAX: costs.commission.default.formula: unexpected the end of the formula"
            ),
            "{e}"
        );
        assert!(
            e.contains("at column 12\n  lots * (1 +\n             ^"),
            "{e}"
        );
        let e = invalid(
            json!({"slippage": {"model": "sum", "parts": [{"model": "formula", "formula": "foo"}]}}),
        );
        assert!(
            e.starts_with(
                "[1008] FORMULA_SYNTAX: costs.slippage.parts[0].formula: unknown variable 'foo'"
            ),
            "{e}"
        );
    }
}

/// The costs section driven through whole runs (engine + simulator).
#[cfg(test)]
mod run_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::config::{parse_config, RunConfig};
    use crate::data::DataSet;
    use crate::engine::{run_config, RunOutput};
    use crate::indicators::Atr;
    use crate::synthetic::synthetic_bars;

    const MIN15: i64 = 900_000_000;
    /// 2024-01-01 00:00 UTC, a Monday.
    const START: i64 = 1_704_067_200_000_000;

    fn data() -> DataSet {
        DataSet::from_bars(synthetic_bars(
            "EURUSD", 8_000, MIN15, 7, START, 0.0001, 1.1,
        ))
    }

    fn cfg(costs: serde_json::Value) -> RunConfig {
        let v = json!({
            "symbol": "EURUSD",
            "symbol_spec": {"pip_size": 0.0001},
            "strategy": {"name": "sma_cross",
                         "params": {"fast": 12, "slow": 60, "sl_pips": 25, "tp_pips": 60}},
            "account": {"risk_per_trade": 500.0},
            "costs": costs,
            "seed": 3
        });
        parse_config(&v.to_string()).unwrap()
    }

    fn run(c: &RunConfig) -> RunOutput {
        run_config(c, &data(), true, true).unwrap()
    }

    #[test]
    fn formula_models_give_the_trades_of_the_builtins() {
        let builtin = run(&cfg(json!({
            "commission": {"default": {"schema": "per_million_notional", "rate": 30, "min_fee": 2}},
            "slippage": {"fixed_pips": 0.3}
        })));
        let formula = run(&cfg(json!({
            "commission": {"default": {"schema": "formula", "formula": "30 * notional / 1e6",
                                       "min_fee": 2}},
            "slippage": {"model": "formula", "formula": "0.3"}
        })));
        assert!(builtin.trades.len() >= 20, "{}", builtin.trades.len());
        assert_eq!(formula.trades, builtin.trades);
        assert_eq!(
            formula.stats.final_balance.to_bits(),
            builtin.stats.final_balance.to_bits()
        );
        assert!(builtin.stats.fees_total > 0.0);
        // and the tree really was used (not the classic path)
        let c = cfg(json!({"commission": {"default": {"schema": "formula", "formula": "1"}}}));
        assert!(c.cost_models().unwrap().fees.is_some());
        assert!(c.simulator_config().commission.is_none());
    }

    #[test]
    fn swaps_are_booked_per_night_into_trades_balance_and_metrics() {
        let base = run(&cfg(json!({})));
        let with = run(&cfg(
            json!({"swap": {"long_points": -5.0, "short_points": 2.0}}),
        ));
        assert_eq!(base.trades.len(), with.trades.len());
        let model = SwapModel::new(-5.0, 2.0);
        let mut held = 0;
        let mut total = 0.0;
        for (a, b) in base.trades.iter().zip(&with.trades) {
            assert_eq!(
                (a.entry_price, a.exit_price, a.lots),
                (b.entry_price, b.exit_price, b.lots)
            );
            let nights = f64::from(model.nights(b.entry_time, b.exit_time));
            let points = match b.direction {
                ec::Direction::Long => -5.0,
                ec::Direction::Short => 2.0,
            };
            // pips * pip * value per price (100,000 USD per 1.0 per lot) * lots
            let want = nights * points * 0.0001 * 100_000.0 * b.lots;
            assert!((b.swap - want).abs() < 1e-9, "{} vs {want}", b.swap);
            assert!((b.net_pnl - (a.net_pnl + b.swap)).abs() < 1e-9);
            held += usize::from(nights > 0.0);
            total += b.swap;
        }
        assert!(held >= 5, "{held}");
        assert!((with.metrics.swap_total - total).abs() < 1e-9);
        // every trade is closed by the end (v2): the balance moved by exactly the swaps
        let diff = with.stats.final_balance - base.stats.final_balance;
        assert!((diff - total).abs() < 1e-6, "{diff} vs {total}");
        // the equity curve carries the swaps as they are booked, not only at the exits
        let (eb, ew) = (base.equity.unwrap(), with.equity.unwrap());
        assert!(eb
            .equity
            .iter()
            .zip(&ew.equity)
            .any(|(x, y)| (x - y).abs() > 1e-9));
    }

    #[test]
    fn volatility_slippage_uses_the_atr_of_the_costs_section() {
        let d = data();
        let bars = d.bars.get("EURUSD").unwrap();
        let base = run(&cfg(json!({})));
        let c = cfg(json!({"slippage": {"model": "volatility", "source": "atr",
                                        "multiplier": 0.1},
                           "atr_period": 10}));
        let with = run_config(&c, &d, true, false).unwrap();
        let (a, b) = (&base.trades[0], &with.trades[0]);
        assert_eq!(a.entry_time, b.entry_time);
        // the signal bar's close fill sees the ATR(10) including the signal bar
        let mut atr = Atr::new(10);
        let mut v = 0.0;
        for i in 0..bars.len() {
            let bid = bars.bid_candle(i);
            v = atr.update(bid.high, bid.low, bid.close).unwrap_or(0.0);
            if bid.ts == b.entry_time {
                break;
            }
        }
        assert!(v > 0.0);
        let slip = (b.entry_price - a.entry_price) * b.direction.sign();
        assert!((slip - 0.1 * v).abs() < 1e-12, "{slip} vs {}", 0.1 * v);
    }

    #[test]
    fn callbacks_are_looked_up_by_name() {
        let mut c = cfg(json!({"commission": {"default": {"schema": "callback",
                                                          "callback": "fee"}}}));
        let e = run_config(&c, &data(), true, false).unwrap_err();
        assert_eq!(e.code().code, 4002);
        let calls = Arc::new(AtomicUsize::new(0));
        let n = Arc::clone(&calls);
        let mut table = CostCallbacks::new();
        table.insert(
            "fee".into(),
            CostCallback::new("fee", move |i: &ec::CostInputs| {
                n.fetch_add(1, Ordering::Relaxed);
                Ok(30.0 * i.notional / 1e6)
            }),
        );
        c.cost_callbacks = Some(Arc::new(table));
        let out = run_config(&c, &data(), true, false).unwrap();
        let builtin = run(&cfg(json!({"commission": {"default":
            {"schema": "per_million_notional", "rate": 30}}})));
        assert_eq!(out.trades, builtin.trades);
        assert_eq!(calls.load(Ordering::Relaxed), 2 * out.trades.len());
        // the callback table is not part of the config's identity
        let plain = cfg(json!({"commission": {"default": {"schema": "callback",
                                                           "callback": "fee"}}}));
        assert_eq!(c.config_id(), plain.config_id());
    }

    #[test]
    fn parse_errors_name_the_path() {
        let base = json!({
            "symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001},
            "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "sl_pips": 10,
                                                         "tp_pips": 20}}});
        let with = |costs: serde_json::Value| {
            let mut v = base.clone();
            v["costs"] = costs;
            parse_config(&v.to_string()).unwrap_err().to_string()
        };
        let e = with(json!({"swap": {"long_points": 1, "nights": 3}}));
        assert!(
            e.starts_with("[1004] UNKNOWN_CONFIG_FIELD: unknown field costs.swap.nights"),
            "{e}"
        );
        let e = with(
            json!({"commission": {"default": {"schema": "sum", "parts": [
            {"schema": "tiered", "tiers": [{"from": 0, "rate": 1, "to": 5}]}]}}}),
        );
        assert!(
            e.contains("costs.commission.default.parts[0].tiers[0].to"),
            "{e}"
        );
        let e = with(json!({"slippage": {"model": "volatile"}}));
        assert!(
            e.starts_with("[1003] INVALID_CONFIG: costs.slippage.model"),
            "{e}"
        );
        assert!(e.contains("volatility"), "{e}");
        let e = with(json!({"commission": {"default": {"schema": "formula",
                                                        "formula": "lots *"}}}));
        assert!(
            e.starts_with("[1008] FORMULA_SYNTAX: costs.commission.default.formula:"),
            "{e}"
        );
        assert!(e.contains("column 7"), "{e}");
        let e = with(json!({"swap": {"triple_day": "someday"}}));
        assert!(e.contains("costs.swap.triple_day"), "{e}");
    }
}
