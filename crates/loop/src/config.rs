//! Run configuration: one config = one strategy with its parameters on one symbol.
//!
//! Parsed with serde from JSON (`deny_unknown_fields`, defaults for everything optional), then
//! validated field by field. Errors name the dotted path of the field: 1003 for a bad value
//! (`strategy.params.fast: must be < slow (10 >= 5)`), 1004 for an unknown field, 1005 for an
//! unknown strategy (listing the known ones).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{LoopError, Result};

fn default_contract_size() -> f64 {
    100_000.0
}
fn default_volume_min() -> f64 {
    0.01
}
fn default_volume_step() -> f64 {
    0.01
}
fn default_volume_max() -> f64 {
    100.0
}
fn default_pip_buffer_factor() -> f64 {
    0.5
}
fn default_currency() -> String {
    "USD".to_string()
}
fn default_initial_balance() -> f64 {
    100_000.0
}
fn default_atr_period() -> u32 {
    14
}
fn default_one() -> f64 {
    1.0
}
fn default_max_open() -> u32 {
    1
}

/// Instrument specification (DESIGN §3). Base/quote currencies default to the two halves of a
/// six-letter symbol (EURUSD → EUR, USD).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolSpecConfig {
    pub pip_size: f64,
    #[serde(default)]
    pub tick_size: Option<f64>,
    #[serde(default)]
    pub tick_value: Option<f64>,
    #[serde(default = "default_contract_size")]
    pub contract_size: f64,
    #[serde(default = "default_volume_min")]
    pub volume_min: f64,
    #[serde(default = "default_volume_step")]
    pub volume_step: f64,
    #[serde(default = "default_volume_max")]
    pub volume_max: f64,
    #[serde(default)]
    pub base_currency: Option<String>,
    #[serde(default)]
    pub quote_currency: Option<String>,
    #[serde(default)]
    pub min_sl_distance_pips: Option<f64>,
}

/// Stops shared by all built-in strategies: SL from `sl_pips` or `sl_atr` (× ATR(atr_period)),
/// TP from `tp_pips` or `tp_atr`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopParams {
    pub sl_pips: Option<f64>,
    pub tp_pips: Option<f64>,
    pub sl_atr: Option<f64>,
    pub tp_atr: Option<f64>,
    pub atr_period: u32,
}

impl StopParams {
    /// True when SL or TP is ATR-based (the strategy then keeps an ATR).
    pub fn needs_atr(&self) -> bool {
        self.sl_atr.is_some() || self.tp_atr.is_some()
    }
}

/// Defines a strategy parameter struct with its own fields plus the common stop fields (serde's
/// `flatten` does not combine with `deny_unknown_fields`, hence the macro).
macro_rules! strategy_params {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            #[serde(default)]
            pub sl_pips: Option<f64>,
            #[serde(default)]
            pub tp_pips: Option<f64>,
            #[serde(default)]
            pub sl_atr: Option<f64>,
            #[serde(default)]
            pub tp_atr: Option<f64>,
            #[serde(default = "default_atr_period")]
            pub atr_period: u32,
        }

        impl $name {
            pub fn stops(&self) -> StopParams {
                StopParams {
                    sl_pips: self.sl_pips,
                    tp_pips: self.tp_pips,
                    sl_atr: self.sl_atr,
                    tp_atr: self.tp_atr,
                    atr_period: self.atr_period,
                }
            }
        }
    };
}

strategy_params!(
    /// `sma_cross` / `ema_cross`: long when the fast average crosses above the slow one, short
    /// when it crosses below.
    MaCrossParams { fast: u32, slow: u32 }
);
strategy_params!(
    /// `donchian_breakout`: stop entries at the previous `lookback` bars' high (long) and low
    /// (short); the orders live `execution.pending_ttl_bars` bars.
    DonchianParams { lookback: u32 }
);
strategy_params!(
    /// `zscore_reversion`: z = (close − mean) / std over `window`; long when z <= −z_entry,
    /// short when z >= z_entry; market entries, or limit entries `limit_offset_pips` better than
    /// the close when > 0.
    ZScoreParams {
        window: u32,
        z_entry: f64,
        #[serde(default)]
        limit_offset_pips: f64,
    }
);
strategy_params!(
    /// `rsi_reversion`: long when RSI(period) crosses below `lower`, short when it crosses above
    /// `upper`.
    RsiParams { period: u32, lower: f64, upper: f64 }
);

/// `signals`: executes the precomputed signal table `table` of the DataSet (rows of other
/// symbols are ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalsParams {
    pub table: String,
}

/// The names of the built-in strategies.
pub const STRATEGY_NAMES: [&str; 6] = [
    "sma_cross",
    "ema_cross",
    "donchian_breakout",
    "zscore_reversion",
    "rsi_reversion",
    "signals",
];

/// Typed strategy parameters, one variant per built-in strategy.
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyParams {
    SmaCross(MaCrossParams),
    EmaCross(MaCrossParams),
    DonchianBreakout(DonchianParams),
    ZScoreReversion(ZScoreParams),
    RsiReversion(RsiParams),
    Signals(SignalsParams),
}

impl StrategyParams {
    pub fn name(&self) -> &'static str {
        match self {
            StrategyParams::SmaCross(_) => "sma_cross",
            StrategyParams::EmaCross(_) => "ema_cross",
            StrategyParams::DonchianBreakout(_) => "donchian_breakout",
            StrategyParams::ZScoreReversion(_) => "zscore_reversion",
            StrategyParams::RsiReversion(_) => "rsi_reversion",
            StrategyParams::Signals(_) => "signals",
        }
    }

    /// The stop parameters (None for `signals`, whose rows carry their own SL/TP).
    pub fn stops(&self) -> Option<StopParams> {
        match self {
            StrategyParams::SmaCross(p) | StrategyParams::EmaCross(p) => Some(p.stops()),
            StrategyParams::DonchianBreakout(p) => Some(p.stops()),
            StrategyParams::ZScoreReversion(p) => Some(p.stops()),
            StrategyParams::RsiReversion(p) => Some(p.stops()),
            StrategyParams::Signals(_) => None,
        }
    }
}

/// `strategy`: `{"name": ..., "params": {...}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig {
    pub params: StrategyParams,
}

impl StrategyConfig {
    pub fn name(&self) -> &'static str {
        self.params.name()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExecutionVariant {
    #[default]
    #[serde(rename = "v2")]
    V2,
    #[serde(rename = "v1_parity")]
    V1Parity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketFill {
    #[default]
    SignalClose,
    NextOpen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MinLotPolicy {
    #[default]
    Reject,
    Clamp,
}

/// `execution`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionConfig {
    #[serde(default)]
    pub variant: ExecutionVariant,
    #[serde(default = "default_pip_buffer_factor")]
    pub pip_buffer_factor: f64,
    #[serde(default)]
    pub market_fill: MarketFill,
    #[serde(default)]
    pub gap_fills: bool,
    #[serde(default)]
    pub pending_ttl_bars: Option<u32>,
    #[serde(default)]
    pub min_lot_policy: MinLotPolicy,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            variant: ExecutionVariant::V2,
            pip_buffer_factor: default_pip_buffer_factor(),
            market_fill: MarketFill::SignalClose,
            gap_fills: false,
            pending_ttl_bars: None,
            min_lot_policy: MinLotPolicy::Reject,
        }
    }
}

/// An FX rate: a constant, or an as-of series `[[ts_us, rate], ...]` (the last rate at or before
/// the conversion time applies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FxRate {
    Static(f64),
    Series(Vec<(i64, f64)>),
}

/// `account`. When neither `risk_per_trade` nor `risk_percent` is given, `risk_per_trade`
/// defaults to 100 (account currency).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_initial_balance")]
    pub initial_balance: f64,
    #[serde(default)]
    pub risk_per_trade: Option<f64>,
    #[serde(default)]
    pub risk_percent: Option<f64>,
    /// Pair name (e.g. "EURUSD": 1 EUR = rate USD) → rate.
    #[serde(default)]
    pub fx_rates: BTreeMap<String, FxRate>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            currency: default_currency(),
            initial_balance: default_initial_balance(),
            risk_per_trade: None,
            risk_percent: None,
            fx_rates: BTreeMap::new(),
        }
    }
}

/// `costs.slippage`: `fixed_pips + U(0, random_pips)` pips, always adverse.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlippageConfig {
    #[serde(default)]
    pub fixed_pips: f64,
    #[serde(default)]
    pub random_pips: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionSchema {
    PerLot,
    PerMillionNotional,
    PercentOfNotional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionSide {
    Entry,
    Exit,
    #[default]
    Both,
}

/// One commission model (SEMANTICS §5). `currency` defaults to the account currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionModelConfig {
    pub schema: CommissionSchema,
    pub rate: f64,
    #[serde(default)]
    pub side: CommissionSide,
    #[serde(default)]
    pub min_fee: f64,
    #[serde(default = "default_one")]
    pub multiplier: f64,
    #[serde(default)]
    pub currency: Option<String>,
}

/// `costs.commission`: a default model with per-symbol overrides.
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
}

/// `trade_management.break_even`: once the favourable excursion reaches `trigger_pips`, the SL
/// moves to entry + `offset_pips` (in the trade's favour).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakEvenConfig {
    pub trigger_pips: f64,
    #[serde(default)]
    pub offset_pips: f64,
}

/// `trade_management.trailing`: SL trails the best exit-side extreme by `distance_pips`, or by
/// `atr_mult` × ATR(`atr_period`) (exactly one of the two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailingConfig {
    #[serde(default)]
    pub distance_pips: Option<f64>,
    #[serde(default)]
    pub atr_mult: Option<f64>,
    #[serde(default = "default_atr_period")]
    pub atr_period: u32,
}

/// `trade_management`.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeManagementConfig {
    #[serde(default)]
    pub max_holding_bars: Option<u32>,
    #[serde(default)]
    pub break_even: Option<BreakEvenConfig>,
    #[serde(default)]
    pub trailing: Option<TrailingConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectionFilter {
    #[default]
    Both,
    Long,
    Short,
}

/// `limits`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default = "default_max_open")]
    pub max_open_positions: u32,
    #[serde(default)]
    pub direction: DirectionFilter,
    #[serde(default)]
    pub exit_on_opposite_signal: bool,
    #[serde(default)]
    pub cooldown_bars: u32,
    /// `[start_hour, end_hour]` UTC: new signals only in bars whose hour h satisfies
    /// start <= h < end (wrapping over midnight when start > end).
    #[serde(default)]
    pub session_hours: Option<[u32; 2]>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_open_positions: 1,
            direction: DirectionFilter::Both,
            exit_on_opposite_signal: false,
            cooldown_bars: 0,
            session_hours: None,
        }
    }
}

/// One run's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub symbol: String,
    pub symbol_spec: SymbolSpecConfig,
    pub strategy: StrategyConfig,
    pub execution: ExecutionConfig,
    pub account: AccountConfig,
    pub costs: CostsConfig,
    pub trade_management: TradeManagementConfig,
    pub limits: LimitsConfig,
    /// First bar (µs) that trades; earlier bars only warm the indicators up.
    pub start: Option<i64>,
    /// Last bar time (µs, inclusive) of the run.
    pub end: Option<i64>,
    pub seed: u64,
}

/// Parses and validates a config from JSON.
pub fn parse_config(json: &str) -> Result<RunConfig> {
    let _ = json;
    Err(LoopError::Internal {
        message: "parse_config: not implemented yet".into(),
    })
}
