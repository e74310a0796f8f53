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

/// `strategy`: `{"name": ..., "params": {...}}`; the params are typed by the name.
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

/// `account`. When none of `risk_per_trade`, `risk_percent` and `fixed_lots` is given,
/// `risk_per_trade` defaults to 100 (account currency).
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
    /// A fixed size in lots for every trade instead of risk-based sizing (quantized like any
    /// size). Left out of the canonical JSON when unset, so existing config ids do not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_lots: Option<f64>,
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
            fixed_lots: None,
            fx_rates: BTreeMap::new(),
        }
    }
}

// The `costs` section lives in `crate::costs` (model trees, validation, translation into the
// simulator's cost models); re-exported here for the config's users.
pub use crate::costs::{
    CommissionConfig, CommissionModelConfig, CommissionSchema, CommissionSide, CostCallbacks,
    CostsConfig, LegacyFeeConfig, SlippageConfig, SwapConfig,
};

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
    /// Skip the signals of a bar in which a position of this run closed: one order per bar,
    /// the rule of engines where a stop exit takes the bar (vectorbt). Off by default (a new
    /// entry may follow an exit in the same bar); left out of the canonical JSON when off, so
    /// existing config ids do not change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_exit_bar_signals: bool,
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
            skip_exit_bar_signals: false,
            session_hours: None,
        }
    }
}

/// One run's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub symbol: String,
    pub symbol_spec: SymbolSpecConfig,
    pub strategy: StrategyConfig,
    #[serde(default)]
    pub execution: ExecutionConfig,
    #[serde(default)]
    pub account: AccountConfig,
    #[serde(default)]
    pub costs: CostsConfig,
    #[serde(default)]
    pub trade_management: TradeManagementConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// First bar (µs) that trades; earlier bars only warm the indicators up.
    #[serde(default)]
    pub start: Option<i64>,
    /// Last bar time (µs, inclusive) of the run.
    #[serde(default)]
    pub end: Option<i64>,
    /// Base seed of the slippage RNG (DESIGN §7).
    #[serde(default)]
    pub seed: u64,
    /// Functions that `"callback"` cost models refer to by name, attached by the caller after
    /// parsing (not part of the JSON, the canonical form or the config id).
    #[serde(skip)]
    pub cost_callbacks: Option<std::sync::Arc<CostCallbacks>>,
}

// ---------------------------------------------------------------------------------------------
// serde for StrategyConfig: the params are typed by the name, so the name is read first.

impl Serialize for StrategyConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("StrategyConfig", 2)?;
        st.serialize_field("name", self.name())?;
        match &self.params {
            StrategyParams::SmaCross(p) | StrategyParams::EmaCross(p) => {
                st.serialize_field("params", p)?
            }
            StrategyParams::DonchianBreakout(p) => st.serialize_field("params", p)?,
            StrategyParams::ZScoreReversion(p) => st.serialize_field("params", p)?,
            StrategyParams::RsiReversion(p) => st.serialize_field("params", p)?,
            StrategyParams::Signals(p) => st.serialize_field("params", p)?,
        }
        st.end()
    }
}

const STRATEGY_FIELDS: &[&str] = &["name", "params"];

/// Deserializes the params of the strategy `name`.
struct ParamsSeed<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for ParamsSeed<'_> {
    type Value = StrategyParams;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<StrategyParams, D::Error> {
        Ok(match self.0 {
            "sma_cross" => StrategyParams::SmaCross(MaCrossParams::deserialize(d)?),
            "ema_cross" => StrategyParams::EmaCross(MaCrossParams::deserialize(d)?),
            "donchian_breakout" => {
                StrategyParams::DonchianBreakout(DonchianParams::deserialize(d)?)
            }
            "zscore_reversion" => StrategyParams::ZScoreReversion(ZScoreParams::deserialize(d)?),
            "rsi_reversion" => StrategyParams::RsiReversion(RsiParams::deserialize(d)?),
            "signals" => StrategyParams::Signals(SignalsParams::deserialize(d)?),
            other => return Err(serde::de::Error::unknown_variant(other, &STRATEGY_NAMES)),
        })
    }
}

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrategyConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object {\"name\": ..., \"params\": {...}}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<StrategyConfig, A::Error> {
                use serde::de::Error;
                let mut name: Option<String> = None;
                let mut params: Option<StrategyParams> = None;
                // Params seen before the name (only possible with an order-preserving source)
                // are buffered and typed afterwards.
                let mut buffered: Option<serde_json::Value> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => {
                            let n: String = map.next_value()?;
                            if !STRATEGY_NAMES.contains(&n.as_str()) {
                                return Err(A::Error::unknown_variant(&n, &STRATEGY_NAMES));
                            }
                            name = Some(n);
                        }
                        "params" => match &name {
                            Some(n) => params = Some(map.next_value_seed(ParamsSeed(n))?),
                            None => buffered = Some(map.next_value()?),
                        },
                        other => return Err(A::Error::unknown_field(other, STRATEGY_FIELDS)),
                    }
                }
                let name = name.ok_or_else(|| A::Error::missing_field("name"))?;
                if params.is_none() {
                    if let Some(v) = buffered {
                        use serde::de::DeserializeSeed;
                        params = Some(ParamsSeed(&name).deserialize(v).map_err(A::Error::custom)?);
                    }
                }
                let params = params.ok_or_else(|| A::Error::missing_field("params"))?;
                Ok(StrategyConfig { params })
            }
        }
        d.deserialize_struct("StrategyConfig", STRATEGY_FIELDS, V)
    }
}

// ---------------------------------------------------------------------------------------------
// Path-tracking deserialization: a serde Deserializer over a parsed `serde_json::Value` that
// remembers where it is, so every serde error can name the dotted field path (1003/1004/1005).

mod path_de {
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Kind {
        Invalid,
        UnknownField {
            field: String,
            expected: &'static [&'static str],
        },
        UnknownVariant {
            variant: String,
            expected: &'static [&'static str],
        },
        Missing {
            field: &'static str,
        },
    }

    /// A serde error with the path of the value it happened at (set by the innermost frame).
    #[derive(Debug, Clone, PartialEq)]
    pub(super) struct PathError {
        pub kind: Kind,
        pub path: Option<String>,
        pub msg: String,
    }

    impl std::fmt::Display for PathError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.msg)
        }
    }
    impl std::error::Error for PathError {}

    impl de::Error for PathError {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            PathError {
                kind: Kind::Invalid,
                path: None,
                msg: msg.to_string(),
            }
        }
        fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
            PathError {
                kind: Kind::UnknownField {
                    field: field.to_string(),
                    expected,
                },
                path: None,
                msg: format!("unknown field `{field}`"),
            }
        }
        fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
            PathError {
                kind: Kind::UnknownVariant {
                    variant: variant.to_string(),
                    expected,
                },
                path: None,
                msg: format!(
                    "unknown value {variant:?}, expected one of: {}",
                    expected.join(", ")
                ),
            }
        }
        fn missing_field(field: &'static str) -> Self {
            PathError {
                kind: Kind::Missing { field },
                path: None,
                msg: format!("missing field `{field}`"),
            }
        }
    }

    impl PathError {
        fn at(mut self, path: &str) -> Self {
            if self.path.is_none() {
                self.path = Some(path.to_string());
            }
            self
        }
    }

    pub(super) struct PathDe<'a> {
        pub value: &'a Value,
        pub path: String,
    }

    fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    }

    type R<T> = std::result::Result<T, PathError>;

    impl<'a> PathDe<'a> {
        fn visit<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
            let path = self.path.clone();
            let r = match self.value {
                Value::Null => visitor.visit_unit(),
                Value::Bool(b) => visitor.visit_bool(*b),
                Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        visitor.visit_u64(u)
                    } else if let Some(i) = n.as_i64() {
                        visitor.visit_i64(i)
                    } else {
                        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                Value::String(s) => visitor.visit_borrowed_str(s),
                Value::Array(items) => visitor.visit_seq(Seq {
                    items: items.iter(),
                    index: 0,
                    path: &self.path,
                }),
                Value::Object(map) => visitor.visit_map(Map {
                    iter: map.iter(),
                    value: None,
                    path: &self.path,
                }),
            };
            r.map_err(|e| e.at(&path))
        }

        /// Integer fields accept integral floats (10.0), as written by numeric grids.
        fn integral<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
            if let Value::Number(n) = self.value {
                if n.as_u64().is_none() && n.as_i64().is_none() {
                    if let Some(f) = n.as_f64() {
                        if f.fract() == 0.0 && f.abs() < 9.0e15 {
                            let path = self.path.clone();
                            let r = if f >= 0.0 {
                                visitor.visit_u64(f as u64)
                            } else {
                                visitor.visit_i64(f as i64)
                            };
                            return r.map_err(|e: PathError| e.at(&path));
                        }
                    }
                }
            }
            self.visit(visitor)
        }
    }

    struct Seq<'a, 'p> {
        items: std::slice::Iter<'a, Value>,
        index: usize,
        path: &'p str,
    }

    impl<'a> SeqAccess<'a> for Seq<'a, '_> {
        type Error = PathError;
        fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> R<Option<T::Value>> {
            match self.items.next() {
                None => Ok(None),
                Some(v) => {
                    let path = format!("{}[{}]", self.path, self.index);
                    self.index += 1;
                    // Also tag errors raised after the value was read (untagged enums).
                    seed.deserialize(PathDe {
                        value: v,
                        path: path.clone(),
                    })
                    .map(Some)
                    .map_err(|e| e.at(&path))
                }
            }
        }
        fn size_hint(&self) -> Option<usize> {
            Some(self.items.len())
        }
    }

    struct Map<'a, 'p> {
        iter: serde_json::map::Iter<'a>,
        value: Option<(&'a String, &'a Value)>,
        path: &'p str,
    }

    impl<'a> MapAccess<'a> for Map<'a, '_> {
        type Error = PathError;
        fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> R<Option<K::Value>> {
            match self.iter.next() {
                None => Ok(None),
                Some((k, v)) => {
                    self.value = Some((k, v));
                    // No path on key errors: the enclosing struct's frame sets its own path and
                    // the unknown field's name is appended when the error is converted.
                    let key: de::value::BorrowedStrDeserializer<'a, PathError> =
                        de::value::BorrowedStrDeserializer::new(k.as_str());
                    seed.deserialize(key).map(Some)
                }
            }
        }
        fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> R<V::Value> {
            match self.value.take() {
                Some((k, v)) => {
                    let path = join(self.path, k);
                    seed.deserialize(PathDe {
                        value: v,
                        path: path.clone(),
                    })
                    .map_err(|e| e.at(&path))
                }
                None => Err(de::Error::custom("value requested before key")),
            }
        }
        fn size_hint(&self) -> Option<usize> {
            Some(self.iter.len())
        }
    }

    macro_rules! forward_integral {
        ($($m:ident)*) => {$(
            fn $m<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> { self.integral(visitor) }
        )*};
    }

    impl<'a> de::Deserializer<'a> for PathDe<'a> {
        type Error = PathError;

        fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
            self.visit(visitor)
        }

        forward_integral!(deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64);

        fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
            if self.value.is_null() {
                let path = self.path.clone();
                visitor.visit_none().map_err(|e: PathError| e.at(&path))
            } else {
                let path = self.path.clone();
                visitor.visit_some(self).map_err(|e| e.at(&path))
            }
        }

        fn deserialize_enum<V: Visitor<'a>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> R<V::Value> {
            match self.value {
                Value::String(s) => {
                    let d: de::value::BorrowedStrDeserializer<'a, PathError> =
                        de::value::BorrowedStrDeserializer::new(s.as_str());
                    visitor.visit_enum(d).map_err(|e| e.at(&self.path))
                }
                other => Err(PathError {
                    kind: Kind::Invalid,
                    path: Some(self.path.clone()),
                    msg: format!("expected a string, got {other}"),
                }),
            }
        }

        serde::forward_to_deserialize_any! {
            <W: Visitor<'a>>
            bool f32 f64 i128 u128 char str string bytes byte_buf unit unit_struct newtype_struct seq
            tuple tuple_struct map struct identifier ignored_any
        }
    }
}

use path_de::{Kind, PathDe, PathError};

fn convert_error(e: PathError) -> LoopError {
    let path = e.path.unwrap_or_default();
    let join = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    match e.kind {
        Kind::UnknownField { field, expected } => LoopError::UnknownConfigField {
            path: join(&field),
            expected: if expected.is_empty() {
                String::new()
            } else {
                format!(" (expected one of: {})", expected.join(", "))
            },
        },
        Kind::UnknownVariant { variant, expected } if expected == STRATEGY_NAMES => {
            LoopError::UnknownStrategy {
                name: variant,
                known: STRATEGY_NAMES.join(", "),
            }
        }
        Kind::Missing { field } => LoopError::config(join(field), "is required"),
        Kind::UnknownVariant { .. } | Kind::Invalid => LoopError::config(
            if path.is_empty() {
                "<config>".to_string()
            } else {
                path
            },
            e.msg,
        ),
    }
}

/// Parses and validates a config from JSON (see the module docs for the error codes).
pub fn parse_config(json: &str) -> Result<RunConfig> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| LoopError::config("<json>", format!("not valid JSON: {e}")))?;
    parse_config_value(&value)
}

/// Parses and validates a config from an already parsed JSON value.
pub fn parse_config_value(value: &serde_json::Value) -> Result<RunConfig> {
    let mut cfg = RunConfig::deserialize(PathDe {
        value,
        path: String::new(),
    })
    .map_err(convert_error)?;
    cfg.normalize();
    cfg.validate()?;
    Ok(cfg)
}

// ---------------------------------------------------------------------------------------------
// Validation

fn finite(path: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(LoopError::config(path, format!("must be finite, got {v}")))
    }
}
fn positive(path: &str, v: f64) -> Result<()> {
    if finite(path, v)? > 0.0 {
        Ok(())
    } else {
        Err(LoopError::config(path, format!("must be > 0, got {v}")))
    }
}
fn non_negative(path: &str, v: f64) -> Result<()> {
    if finite(path, v)? >= 0.0 {
        Ok(())
    } else {
        Err(LoopError::config(path, format!("must be >= 0, got {v}")))
    }
}
fn opt_positive(path: &str, v: Option<f64>) -> Result<()> {
    v.map_or(Ok(()), |v| positive(path, v))
}
/// Window lengths: at least `min`, at most 1,000,000 (indicator buffers are allocated up front).
fn period(path: &str, v: u32, min: u32) -> Result<()> {
    if v < min {
        return Err(LoopError::config(
            path,
            format!("must be >= {min}, got {v}"),
        ));
    }
    if v > 1_000_000 {
        return Err(LoopError::config(
            path,
            format!("must be <= 1000000, got {v}"),
        ));
    }
    Ok(())
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

fn validate_stops(s: &StopParams) -> Result<()> {
    let p = "strategy.params";
    match (s.sl_pips, s.sl_atr) {
        (Some(v), None) => positive(&format!("{p}.sl_pips"), v)?,
        (None, Some(v)) => positive(&format!("{p}.sl_atr"), v)?,
        (Some(_), Some(_)) => {
            return Err(LoopError::config(
                format!("{p}.sl_atr"),
                "give either sl_pips or sl_atr, not both",
            ))
        }
        (None, None) => {
            return Err(LoopError::config(
                format!("{p}.sl_pips"),
                "a stop loss is required: give sl_pips or sl_atr",
            ))
        }
    }
    match (s.tp_pips, s.tp_atr) {
        (Some(v), None) => positive(&format!("{p}.tp_pips"), v)?,
        (None, Some(v)) => positive(&format!("{p}.tp_atr"), v)?,
        (Some(_), Some(_)) => {
            return Err(LoopError::config(
                format!("{p}.tp_atr"),
                "give either tp_pips or tp_atr, not both",
            ))
        }
        (None, None) => {
            return Err(LoopError::config(
                format!("{p}.tp_pips"),
                "a take profit is required: give tp_pips or tp_atr",
            ))
        }
    }
    period(&format!("{p}.atr_period"), s.atr_period, 1)
}

impl RunConfig {
    /// Fills the defaults that depend on other fields (currencies from the symbol, risk).
    fn normalize(&mut self) {
        let sym = self.symbol.as_bytes();
        if sym.len() == 6 && sym.iter().all(|b| b.is_ascii_alphabetic()) {
            let up = self.symbol.to_ascii_uppercase();
            if self.symbol_spec.base_currency.is_none() {
                self.symbol_spec.base_currency = Some(up[..3].to_string());
            }
            if self.symbol_spec.quote_currency.is_none() {
                self.symbol_spec.quote_currency = Some(up[3..].to_string());
            }
        }
        if self.account.risk_per_trade.is_none()
            && self.account.risk_percent.is_none()
            && self.account.fixed_lots.is_none()
        {
            self.account.risk_per_trade = Some(100.0);
        }
    }

    /// Checks every field; the first problem is reported with its dotted path (1003).
    pub fn validate(&self) -> Result<()> {
        if self.symbol.trim().is_empty() {
            return Err(LoopError::config("symbol", "must not be empty"));
        }
        // symbol_spec
        let s = &self.symbol_spec;
        positive("symbol_spec.pip_size", s.pip_size)?;
        opt_positive("symbol_spec.tick_size", s.tick_size)?;
        opt_positive("symbol_spec.tick_value", s.tick_value)?;
        if s.tick_size.is_some() != s.tick_value.is_some() {
            return Err(LoopError::config(
                "symbol_spec.tick_value",
                "give tick_size and tick_value together, or neither",
            ));
        }
        positive("symbol_spec.contract_size", s.contract_size)?;
        positive("symbol_spec.volume_min", s.volume_min)?;
        positive("symbol_spec.volume_step", s.volume_step)?;
        positive("symbol_spec.volume_max", s.volume_max)?;
        if s.volume_max < s.volume_min {
            return Err(LoopError::config(
                "symbol_spec.volume_max",
                format!(
                    "must be >= volume_min ({} < {})",
                    s.volume_max, s.volume_min
                ),
            ));
        }
        match &s.base_currency {
            Some(c) => currency("symbol_spec.base_currency", c)?,
            None => {
                return Err(LoopError::config(
                    "symbol_spec.base_currency",
                    "is required when the symbol is not a six-letter pair",
                ))
            }
        }
        match &s.quote_currency {
            Some(c) => currency("symbol_spec.quote_currency", c)?,
            None => {
                return Err(LoopError::config(
                    "symbol_spec.quote_currency",
                    "is required when the symbol is not a six-letter pair",
                ))
            }
        }
        if let Some(v) = s.min_sl_distance_pips {
            non_negative("symbol_spec.min_sl_distance_pips", v)?;
        }
        self.validate_strategy()?;
        // execution
        non_negative(
            "execution.pip_buffer_factor",
            self.execution.pip_buffer_factor,
        )?;
        if self.execution.pending_ttl_bars == Some(0) {
            return Err(LoopError::config(
                "execution.pending_ttl_bars",
                "must be >= 1 (omit it for no expiry)",
            ));
        }
        // account
        let a = &self.account;
        currency("account.currency", &a.currency)?;
        positive("account.initial_balance", a.initial_balance)?;
        match (a.risk_per_trade, a.risk_percent) {
            (Some(_), Some(_)) => {
                return Err(LoopError::config(
                    "account.risk_percent",
                    "give either risk_per_trade or risk_percent, not both",
                ))
            }
            (Some(r), None) => positive("account.risk_per_trade", r)?,
            (None, Some(p)) => {
                positive("account.risk_percent", p)?;
                if p > 100.0 {
                    return Err(LoopError::config(
                        "account.risk_percent",
                        format!("must be <= 100, got {p}"),
                    ));
                }
            }
            (None, None) => {}
        }
        if let Some(l) = a.fixed_lots {
            if a.risk_per_trade.is_some() || a.risk_percent.is_some() {
                return Err(LoopError::config(
                    "account.fixed_lots",
                    "give one of risk_per_trade, risk_percent and fixed_lots",
                ));
            }
            positive("account.fixed_lots", l)?;
        }
        for (pair, rate) in &a.fx_rates {
            let path = format!("account.fx_rates.{pair}");
            if pair.len() != 6 || !pair.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(LoopError::config(
                    path,
                    "the key must be a six-letter upper-case pair such as EURUSD",
                ));
            }
            match rate {
                FxRate::Static(r) => positive(&path, *r)?,
                FxRate::Series(points) => {
                    if points.is_empty() {
                        return Err(LoopError::config(path, "the rate series must not be empty"));
                    }
                    for (i, (ts, r)) in points.iter().enumerate() {
                        positive(&format!("{path}[{i}]"), *r)?;
                        if i > 0 && *ts <= points[i - 1].0 {
                            return Err(LoopError::config(
                                format!("{path}[{i}]"),
                                "timestamps must be strictly increasing",
                            ));
                        }
                    }
                }
            }
        }
        // costs
        self.costs.validate()?;
        // trade management
        let t = &self.trade_management;
        if t.max_holding_bars == Some(0) {
            return Err(LoopError::config(
                "trade_management.max_holding_bars",
                "must be >= 1 (omit it for no timeout)",
            ));
        }
        if let Some(b) = &t.break_even {
            positive("trade_management.break_even.trigger_pips", b.trigger_pips)?;
            finite("trade_management.break_even.offset_pips", b.offset_pips)?;
            if b.offset_pips >= b.trigger_pips {
                return Err(LoopError::config(
                    "trade_management.break_even.offset_pips",
                    format!(
                        "must be < trigger_pips ({} >= {})",
                        b.offset_pips, b.trigger_pips
                    ),
                ));
            }
        }
        if let Some(tr) = &t.trailing {
            match (tr.distance_pips, tr.atr_mult) {
                (Some(d), None) => positive("trade_management.trailing.distance_pips", d)?,
                (None, Some(m)) => positive("trade_management.trailing.atr_mult", m)?,
                (Some(_), Some(_)) => {
                    return Err(LoopError::config(
                        "trade_management.trailing.atr_mult",
                        "give either distance_pips or atr_mult, not both",
                    ))
                }
                (None, None) => {
                    return Err(LoopError::config(
                        "trade_management.trailing.distance_pips",
                        "give distance_pips or atr_mult",
                    ))
                }
            }
            period("trade_management.trailing.atr_period", tr.atr_period, 1)?;
        }
        // limits
        let l = &self.limits;
        if l.max_open_positions == 0 {
            return Err(LoopError::config(
                "limits.max_open_positions",
                "must be >= 1",
            ));
        }
        if let Some([start, end]) = l.session_hours {
            if start > 23 {
                return Err(LoopError::config(
                    "limits.session_hours[0]",
                    format!("must be in 0..=23, got {start}"),
                ));
            }
            if end > 24 {
                return Err(LoopError::config(
                    "limits.session_hours[1]",
                    format!("must be in 0..=24, got {end}"),
                ));
            }
            if start == end {
                return Err(LoopError::config(
                    "limits.session_hours",
                    "start and end hour must differ",
                ));
            }
        }
        if let (Some(s), Some(e)) = (self.start, self.end) {
            if e < s {
                return Err(LoopError::config(
                    "end",
                    format!("must be >= start ({e} < {s})"),
                ));
            }
        }
        Ok(())
    }

    fn validate_strategy(&self) -> Result<()> {
        let p = "strategy.params";
        match &self.strategy.params {
            StrategyParams::SmaCross(m) | StrategyParams::EmaCross(m) => {
                period(&format!("{p}.fast"), m.fast, 1)?;
                period(&format!("{p}.slow"), m.slow, 2)?;
                if m.fast >= m.slow {
                    return Err(LoopError::config(
                        format!("{p}.fast"),
                        format!("must be < slow ({} >= {})", m.fast, m.slow),
                    ));
                }
                validate_stops(&m.stops())
            }
            StrategyParams::DonchianBreakout(d) => {
                period(&format!("{p}.lookback"), d.lookback, 1)?;
                validate_stops(&d.stops())
            }
            StrategyParams::ZScoreReversion(z) => {
                period(&format!("{p}.window"), z.window, 2)?;
                positive(&format!("{p}.z_entry"), z.z_entry)?;
                non_negative(&format!("{p}.limit_offset_pips"), z.limit_offset_pips)?;
                validate_stops(&z.stops())
            }
            StrategyParams::RsiReversion(r) => {
                period(&format!("{p}.period"), r.period, 1)?;
                finite(&format!("{p}.lower"), r.lower)?;
                finite(&format!("{p}.upper"), r.upper)?;
                if !(r.lower > 0.0 && r.lower < 100.0) {
                    return Err(LoopError::config(
                        format!("{p}.lower"),
                        format!("must be in (0, 100), got {}", r.lower),
                    ));
                }
                if !(r.upper > 0.0 && r.upper < 100.0) {
                    return Err(LoopError::config(
                        format!("{p}.upper"),
                        format!("must be in (0, 100), got {}", r.upper),
                    ));
                }
                if r.lower >= r.upper {
                    return Err(LoopError::config(
                        format!("{p}.lower"),
                        format!("must be < upper ({} >= {})", r.lower, r.upper),
                    ));
                }
                validate_stops(&r.stops())
            }
            StrategyParams::Signals(s) => {
                if s.table.is_empty() {
                    return Err(LoopError::config(
                        format!("{p}.table"),
                        "must name a signal table",
                    ));
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON and config id

/// Writes `v` canonically: object keys sorted (byte order), no whitespace, integers as
/// integers, floats in Rust's shortest round-trip decimal notation (never an exponent) with a
/// `.0` suffix when integral, strings escaped as serde_json escapes them.
fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                let s = format!("{f}");
                out.push_str(&s);
                if !s.contains('.') {
                    out.push_str(".0");
                }
            }
        }
        Value::String(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

/// FNV-1a 64-bit hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl RunConfig {
    /// The config as JSON with every default filled in, keys sorted, no whitespace and a stable
    /// number format (see [`write_canonical`]). Parsing it gives back an equal config.
    pub fn canonical_json(&self) -> String {
        // Serializing plain structs to a Value cannot fail (no maps with non-string keys, and
        // floats are validated finite).
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut out = String::with_capacity(1024);
        write_canonical(&v, &mut out);
        out
    }

    /// The config id: FNV-1a 64 ([`fnv1a64`]) over the UTF-8 bytes of [`Self::canonical_json`].
    /// Identical on every platform for the same config.
    pub fn config_id(&self) -> u64 {
        fnv1a64(self.canonical_json().as_bytes())
    }

    /// [`Self::config_id`] as 16 lower-case hex digits.
    pub fn config_id_hex(&self) -> String {
        format!("{:016x}", self.config_id())
    }

    pub fn strategy_name(&self) -> &str {
        self.strategy.name()
    }

    pub fn variant(&self) -> omega_exec_core::Variant {
        match self.execution.variant {
            ExecutionVariant::V2 => omega_exec_core::Variant::V2,
            ExecutionVariant::V1Parity => omega_exec_core::Variant::V1Parity,
        }
    }

    /// The numeric strategy parameters (stops included) in canonical (sorted) name order; absent
    /// optional ones are NaN so every config of a strategy has the same names.
    pub fn summary_params(&self) -> Vec<(String, f64)> {
        let v = serde_json::to_value(&self.strategy).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        if let Some(params) = v.get("params").and_then(|p| p.as_object()) {
            let mut keys: Vec<&String> = params.keys().collect();
            keys.sort();
            for k in keys {
                match &params[k.as_str()] {
                    serde_json::Value::Number(n) => {
                        out.push((k.clone(), n.as_f64().unwrap_or(f64::NAN)))
                    }
                    serde_json::Value::Null => out.push((k.clone(), f64::NAN)),
                    _ => {}
                }
            }
        }
        out
    }

    /// The simulator configuration of this run (`run_key` = [`Self::config_id`]).
    pub fn simulator_config(&self) -> omega_exec_core::SimulatorConfig {
        use omega_exec_core as ec;
        let mut fx = ec::FxRates::default();
        for (pair, rate) in &self.account.fx_rates {
            fx = match rate {
                FxRate::Static(r) => fx.with_rate(pair, *r),
                FxRate::Series(points) => fx.with_series(
                    pair,
                    points.iter().map(|p| p.0).collect(),
                    points.iter().map(|p| p.1).collect(),
                ),
            };
        }
        ec::SimulatorConfig {
            variant: self.variant(),
            pip_buffer_factor: self.execution.pip_buffer_factor,
            market_fill: match self.execution.market_fill {
                MarketFill::SignalClose => ec::MarketFill::SignalClose,
                MarketFill::NextOpen => ec::MarketFill::NextOpen,
            },
            gap_fills: self.execution.gap_fills,
            pending_ttl_bars: self.execution.pending_ttl_bars,
            min_lot_policy: match self.execution.min_lot_policy {
                MinLotPolicy::Reject => ec::MinLotPolicy::Reject,
                MinLotPolicy::Clamp => ec::MinLotPolicy::Clamp,
            },
            risk: match (
                self.account.fixed_lots,
                self.account.risk_per_trade,
                self.account.risk_percent,
            ) {
                (Some(l), _, _) => ec::RiskMode::FixedLots(l),
                (None, _, Some(p)) => ec::RiskMode::Percent(p),
                (None, Some(r), None) => ec::RiskMode::Fixed(r),
                (None, None, None) => ec::RiskMode::Fixed(100.0),
            },
            account_currency: self.account.currency.clone(),
            initial_balance: self.account.initial_balance,
            fx,
            // The classic cost fields; model trees come from `cost_models` (crate::costs).
            slippage: self.costs.classic_slippage(),
            commission: self.costs.classic_commission(&self.symbol),
            legacy_fee: self.costs.classic_legacy_fee(),
            base_seed: self.seed,
            run_key: self.config_id(),
        }
    }

    /// The cost model trees of this run (commission trees, slippage models, swaps; empty for a
    /// classic costs section). Callback names resolve against [`Self::cost_callbacks`] (4002).
    pub fn cost_models(&self) -> Result<omega_exec_core::CostModels> {
        self.costs
            .cost_models(&self.symbol, self.cost_callbacks.as_deref())
    }

    /// A simulator for this run with every cost model applied.
    pub fn simulator(&self) -> Result<omega_exec_core::ExecutionSimulator> {
        Ok(omega_exec_core::ExecutionSimulator::with_costs(
            self.simulator_config(),
            vec![self.symbol_spec()],
            self.cost_models()?,
        )?)
    }

    /// The symbol spec for the simulator.
    pub fn symbol_spec(&self) -> omega_exec_core::SymbolSpec {
        let s = &self.symbol_spec;
        omega_exec_core::SymbolSpec {
            symbol: self.symbol.clone(),
            pip_size: s.pip_size,
            tick_size: s.tick_size,
            tick_value: s.tick_value,
            contract_size: s.contract_size,
            volume_min: s.volume_min,
            volume_step: s.volume_step,
            volume_max: s.volume_max,
            base_currency: s.base_currency.clone().unwrap_or_default(),
            quote_currency: s.quote_currency.clone().unwrap_or_default(),
            min_sl_distance_pips: s.min_sl_distance_pips,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MINIMAL: &str = r#"{
        "symbol": "EURUSD",
        "symbol_spec": {"pip_size": 0.0001},
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30, "sl_pips": 20, "tp_pips": 40}}
    }"#;

    fn with(path: &[&str], value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        let mut cur = &mut v;
        for (i, k) in path.iter().enumerate() {
            if i + 1 == path.len() {
                cur.as_object_mut()
                    .unwrap()
                    .insert(k.to_string(), value.clone());
                break;
            }
            let obj = cur.as_object_mut().unwrap();
            cur = obj
                .entry(k.to_string())
                .or_insert_with(|| serde_json::json!({}));
        }
        v.to_string()
    }

    fn err(json: &str) -> (u16, String) {
        let e = parse_config(json).unwrap_err();
        (e.code().code, e.to_string())
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse_config(MINIMAL).unwrap();
        assert_eq!(c.strategy_name(), "sma_cross");
        assert_eq!(c.execution.pip_buffer_factor, 0.5);
        assert_eq!(c.account.risk_per_trade, Some(100.0));
        assert_eq!(c.symbol_spec.base_currency.as_deref(), Some("EUR"));
        assert_eq!(c.symbol_spec.quote_currency.as_deref(), Some("USD"));
        assert_eq!(c.limits.max_open_positions, 1);
        assert_eq!(c.variant(), omega_exec_core::Variant::V2);
        let StrategyParams::SmaCross(p) = &c.strategy.params else {
            panic!()
        };
        assert_eq!((p.fast, p.slow, p.atr_period), (10, 30, 14));
        assert_eq!(p.sl_pips, Some(20.0));
    }

    #[test]
    fn canonical_json_round_trips_and_id_is_pinned() {
        let c = parse_config(MINIMAL).unwrap();
        let j = c.canonical_json();
        assert!(
            j.starts_with(
                r#"{"account":{"currency":"USD","fx_rates":{},"initial_balance":100000.0,"#
            ),
            "{j}"
        );
        assert!(j.contains(r#""strategy":{"name":"sma_cross","params":{"atr_period":14,"fast":10,"sl_atr":null,"sl_pips":20.0,"slow":30,"tp_atr":null,"tp_pips":40.0}}"#), "{j}");
        let back = parse_config(&j).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.canonical_json(), j);
        // Key order and whitespace do not change the id; values do.
        let reordered = r#"{"strategy": {"params": {"tp_pips": 40, "slow": 30, "sl_pips": 20.0, "fast": 10.0}, "name": "sma_cross"},
            "symbol_spec": {"pip_size": 0.0001, "contract_size": 100000}, "symbol": "EURUSD"}"#;
        assert_eq!(parse_config(reordered).unwrap().config_id(), c.config_id());
        let other = parse_config(&with(&["seed"], serde_json::json!(1))).unwrap();
        assert_ne!(other.config_id(), c.config_id());
        // Pinned: FNV-1a 64 of the canonical bytes. Changing any default or the format changes it.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(c.config_id(), fnv1a64(j.as_bytes()));
        assert_eq!(c.config_id_hex().len(), 16);
        assert_eq!(j, PINNED_CANONICAL);
        assert_eq!(c.config_id_hex(), PINNED_ID);
    }

    #[test]
    fn fixed_lots_and_skip_exit_bar_signals() {
        let c = parse_config(&with(&["account", "fixed_lots"], serde_json::json!(0.5))).unwrap();
        assert_eq!(c.account.fixed_lots, Some(0.5));
        assert_eq!(
            c.account.risk_per_trade, None,
            "no risk default next to fixed lots"
        );
        assert_eq!(
            c.simulator_config().risk,
            omega_exec_core::RiskMode::FixedLots(0.5)
        );
        let j = c.canonical_json();
        assert!(j.contains(r#""fixed_lots":0.5"#), "{j}");
        assert_eq!(parse_config(&j).unwrap(), c);
        let m = parse_config(MINIMAL).unwrap();
        assert_ne!(c.config_id(), m.config_id());
        assert!(
            !m.canonical_json().contains("fixed_lots"),
            "unset: not in the id"
        );
        for (v, what) in [
            (serde_json::json!(0.0), "> 0"),
            (serde_json::json!(-1.0), "> 0"),
        ] {
            let e = parse_config(&with(&["account", "fixed_lots"], v)).unwrap_err();
            assert!(e.to_string().contains("account.fixed_lots"), "{e} ({what})");
        }
        let mut both: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        both["account"] = serde_json::json!({"fixed_lots": 0.5, "risk_per_trade": 50.0});
        let e = parse_config(&both.to_string()).unwrap_err();
        assert!(e.to_string().contains("[1003]") && e.to_string().contains("account.fixed_lots"));

        let s = parse_config(&with(
            &["limits", "skip_exit_bar_signals"],
            serde_json::json!(true),
        ))
        .unwrap();
        assert!(s.limits.skip_exit_bar_signals);
        assert!(s
            .canonical_json()
            .contains(r#""skip_exit_bar_signals":true"#));
        assert!(
            !m.canonical_json().contains("skip_exit_bar_signals"),
            "off: not in the id"
        );
        assert_ne!(s.config_id(), m.config_id());
    }

    /// The canonical JSON of MINIMAL, and its FNV-1a 64 (cross-checked with an independent Python
    /// implementation of FNV-1a 64 over these bytes).
    const PINNED_CANONICAL: &str = r#"{"account":{"currency":"USD","fx_rates":{},"initial_balance":100000.0,"risk_per_trade":100.0,"risk_percent":null},"costs":{"commission":null,"legacy_fee":null,"slippage":{"fixed_pips":0.0,"random_pips":0.0}},"end":null,"execution":{"gap_fills":false,"market_fill":"signal_close","min_lot_policy":"reject","pending_ttl_bars":null,"pip_buffer_factor":0.5,"variant":"v2"},"limits":{"cooldown_bars":0,"direction":"both","exit_on_opposite_signal":false,"max_open_positions":1,"session_hours":null},"seed":0,"start":null,"strategy":{"name":"sma_cross","params":{"atr_period":14,"fast":10,"sl_atr":null,"sl_pips":20.0,"slow":30,"tp_atr":null,"tp_pips":40.0}},"symbol":"EURUSD","symbol_spec":{"base_currency":"EUR","contract_size":100000.0,"min_sl_distance_pips":null,"pip_size":0.0001,"quote_currency":"USD","tick_size":null,"tick_value":null,"volume_max":100.0,"volume_min":0.01,"volume_step":0.01},"trade_management":{"break_even":null,"max_holding_bars":null,"trailing":null}}"#;
    const PINNED_ID: &str = "e7e5574d51beac93";

    #[test]
    fn summary_params_are_sorted_with_nan_for_absent() {
        let c = parse_config(MINIMAL).unwrap();
        let p = c.summary_params();
        let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "atr_period",
                "fast",
                "sl_atr",
                "sl_pips",
                "slow",
                "tp_atr",
                "tp_pips"
            ]
        );
        assert_eq!(p[1].1, 10.0);
        assert!(p[2].1.is_nan());
    }

    #[test]
    fn unknown_fields_1004_name_the_path() {
        let (c, m) = err(&with(&["bogus"], serde_json::json!(1)));
        assert_eq!(c, 1004, "{m}");
        assert!(m.contains("unknown field bogus"), "{m}");
        let (c, m) = err(&with(&["execution", "varient"], serde_json::json!("v2")));
        assert_eq!(c, 1004);
        assert!(m.contains("execution.varient"), "{m}");
        let (c, m) = err(&with(
            &["strategy", "params", "fastt"],
            serde_json::json!(3),
        ));
        assert_eq!(c, 1004);
        assert!(m.contains("strategy.params.fastt"), "{m}");
        let (c, m) = err(&with(
            &["costs", "commission", "default"],
            serde_json::json!({"schema": "per_lot", "rate": 3, "foo": 1}),
        ));
        assert_eq!(c, 1004);
        assert!(m.contains("costs.commission.default.foo"), "{m}");
        let (c, m) = err(&with(&["strategy", "extra"], serde_json::json!(1)));
        assert_eq!(c, 1004);
        assert!(m.contains("strategy.extra"), "{m}");
    }

    #[test]
    fn unknown_strategy_1005_lists_known() {
        let (c, m) = err(&with(&["strategy", "name"], serde_json::json!("macd")));
        assert_eq!(c, 1005);
        assert!(
            m.contains("\"macd\"") && m.contains("sma_cross") && m.contains("signals"),
            "{m}"
        );
    }

    #[test]
    fn invalid_values_1003_name_the_path() {
        let cases: Vec<(Vec<&str>, serde_json::Value, &str)> = vec![
            (
                vec!["strategy", "params", "fast"],
                serde_json::json!(30),
                "strategy.params.fast: must be < slow",
            ),
            (
                vec!["strategy", "params", "fast"],
                serde_json::json!("x"),
                "strategy.params.fast",
            ),
            (
                vec!["strategy", "params", "fast"],
                serde_json::json!(2.5),
                "strategy.params.fast",
            ),
            (
                vec!["strategy", "params", "sl_atr"],
                serde_json::json!(2.0),
                "strategy.params.sl_atr: give either",
            ),
            (
                vec!["strategy", "params", "tp_pips"],
                serde_json::json!(-1),
                "strategy.params.tp_pips: must be > 0",
            ),
            (
                vec!["strategy", "params", "tp_pips"],
                serde_json::Value::Null,
                "strategy.params.tp_pips: a take profit",
            ),
            (
                vec!["symbol_spec", "pip_size"],
                serde_json::json!(0),
                "symbol_spec.pip_size",
            ),
            (
                vec!["symbol_spec", "volume_max"],
                serde_json::json!(0.001),
                "symbol_spec.volume_max",
            ),
            (
                vec!["symbol_spec", "tick_size"],
                serde_json::json!(0.00001),
                "symbol_spec.tick_value",
            ),
            (
                vec!["execution", "variant"],
                serde_json::json!("v3"),
                "execution.variant",
            ),
            (
                vec!["execution", "market_fill"],
                serde_json::json!(1),
                "execution.market_fill",
            ),
            (
                vec!["execution", "pending_ttl_bars"],
                serde_json::json!(0),
                "execution.pending_ttl_bars",
            ),
            (
                vec!["execution", "pip_buffer_factor"],
                serde_json::json!(-0.5),
                "execution.pip_buffer_factor",
            ),
            (
                vec!["execution", "gap_fills"],
                serde_json::json!("yes"),
                "execution.gap_fills",
            ),
            (
                vec!["account", "currency"],
                serde_json::json!("usd"),
                "account.currency",
            ),
            (
                vec!["account", "initial_balance"],
                serde_json::json!(-5),
                "account.initial_balance",
            ),
            (
                vec!["account", "risk_percent"],
                serde_json::json!(150),
                "account.risk_percent",
            ),
            (
                vec!["account", "fx_rates"],
                serde_json::json!({"EURUSD": [[2, 1.1], [1, 1.2]]}),
                "account.fx_rates.EURUSD[1]",
            ),
            (
                vec!["account", "fx_rates"],
                serde_json::json!({"EURUSD": "high"}),
                "account.fx_rates.EURUSD",
            ),
            (
                vec!["account", "fx_rates"],
                serde_json::json!({"EUR": 1.1}),
                "account.fx_rates.EUR",
            ),
            (
                vec!["costs", "slippage", "random_pips"],
                serde_json::json!(-1),
                "costs.slippage.random_pips",
            ),
            (
                vec!["costs", "commission", "default"],
                serde_json::json!({"schema": "per_lot", "rate": -3}),
                "costs.commission.default.rate",
            ),
            (
                vec!["costs", "commission", "default"],
                serde_json::json!({"schema": "per_trade", "rate": 3}),
                "costs.commission.default.schema",
            ),
            (
                vec!["costs", "commission", "default"],
                serde_json::json!({"rate": 3}),
                "costs.commission.default.schema: is required",
            ),
            (
                vec!["costs", "legacy_fee"],
                serde_json::json!({"per_million": -1}),
                "costs.legacy_fee.per_million",
            ),
            (
                vec!["trade_management", "max_holding_bars"],
                serde_json::json!(0),
                "trade_management.max_holding_bars",
            ),
            (
                vec!["trade_management", "break_even"],
                serde_json::json!({"trigger_pips": 5, "offset_pips": 5}),
                "trade_management.break_even.offset_pips",
            ),
            (
                vec!["trade_management", "trailing"],
                serde_json::json!({}),
                "trade_management.trailing.distance_pips",
            ),
            (
                vec!["trade_management", "trailing"],
                serde_json::json!({"distance_pips": 5, "atr_mult": 2}),
                "trade_management.trailing.atr_mult",
            ),
            (
                vec!["limits", "max_open_positions"],
                serde_json::json!(0),
                "limits.max_open_positions",
            ),
            (
                vec!["limits", "direction"],
                serde_json::json!("up"),
                "limits.direction",
            ),
            (
                vec!["limits", "session_hours"],
                serde_json::json!([8, 25]),
                "limits.session_hours[1]",
            ),
            (
                vec!["limits", "session_hours"],
                serde_json::json!([8]),
                "limits.session_hours",
            ),
            (
                vec!["limits", "cooldown_bars"],
                serde_json::json!(-1),
                "limits.cooldown_bars",
            ),
            (vec!["end"], serde_json::json!(-1), "end: must be >= start"),
            (
                vec!["symbol"],
                serde_json::json!(""),
                "symbol: must not be empty",
            ),
            (vec!["seed"], serde_json::json!("abc"), "seed"),
        ];
        for (path, value, expect) in cases {
            let mut json = with(&path, value.clone());
            if path == ["end"] {
                json = with(&["start"], serde_json::json!(0))
                    .replace("\"start\":0", "\"start\":0,\"end\":-1");
            }
            let (c, m) = err(&json);
            assert_eq!(c, 1003, "{path:?}={value}: {m}");
            assert!(
                m.contains(expect),
                "{path:?}={value}: expected {expect:?} in {m}"
            );
        }
        // missing required fields and bad JSON
        let (c, m) = err(
            r#"{"symbol": "EURUSD", "strategy": {"name": "signals", "params": {"table": "t"}}}"#,
        );
        assert_eq!(c, 1003);
        assert!(m.contains("symbol_spec: is required"), "{m}");
        let (c, m) = err("{not json");
        assert_eq!(c, 1003);
        assert!(m.contains("<json>"), "{m}");
        let (c, m) = err(
            r#"{"symbol": "XAUUSD1", "symbol_spec": {"pip_size": 0.1}, "strategy": {"name": "signals", "params": {"table": "t"}}}"#,
        );
        assert_eq!(c, 1003);
        assert!(m.contains("symbol_spec.base_currency"), "{m}");
    }

    #[test]
    fn every_strategy_parses_with_its_params() {
        let strategies = [
            (
                r#"{"name": "ema_cross", "params": {"fast": 5, "slow": 20, "sl_atr": 2, "tp_atr": 3, "atr_period": 10}}"#,
                "ema_cross",
            ),
            (
                r#"{"name": "donchian_breakout", "params": {"lookback": 20, "sl_pips": 10, "tp_pips": 20}}"#,
                "donchian_breakout",
            ),
            (
                r#"{"name": "zscore_reversion", "params": {"window": 50, "z_entry": 2.0, "limit_offset_pips": 1.5, "sl_pips": 10, "tp_pips": 20}}"#,
                "zscore_reversion",
            ),
            (
                r#"{"name": "rsi_reversion", "params": {"period": 14, "lower": 30, "upper": 70, "sl_pips": 10, "tp_pips": 20}}"#,
                "rsi_reversion",
            ),
            (
                r#"{"name": "signals", "params": {"table": "mine"}}"#,
                "signals",
            ),
        ];
        for (s, name) in strategies {
            let json = format!(
                r#"{{"symbol": "EURUSD", "symbol_spec": {{"pip_size": 0.0001}}, "strategy": {s}}}"#
            );
            let c = parse_config(&json).unwrap();
            assert_eq!(c.strategy_name(), name);
            assert_eq!(parse_config(&c.canonical_json()).unwrap(), c);
        }
        let bad = r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001}, "strategy": {"name": "rsi_reversion", "params": {"period": 14, "lower": 70, "upper": 30, "sl_pips": 10, "tp_pips": 20}}}"#;
        let (c, m) = err(bad);
        assert_eq!(c, 1003);
        assert!(m.contains("strategy.params.lower: must be < upper"), "{m}");
        let bad = r#"{"symbol": "EURUSD", "symbol_spec": {"pip_size": 0.0001}, "strategy": {"name": "signals", "params": {"table": "t", "sl_pips": 3}}}"#;
        assert_eq!(err(bad).0, 1004);
    }

    #[test]
    fn full_config_round_trips() {
        let json = r#"{
            "symbol": "GBPJPY", "symbol_spec": {"pip_size": 0.01, "tick_size": 0.001, "tick_value": 0.65, "min_sl_distance_pips": 1},
            "strategy": {"name": "zscore_reversion", "params": {"window": 50, "z_entry": 2.0, "sl_pips": 10, "tp_pips": 20}},
            "execution": {"variant": "v1_parity", "market_fill": "next_open", "gap_fills": true, "pending_ttl_bars": 5, "min_lot_policy": "clamp"},
            "account": {"currency": "EUR", "initial_balance": 50000, "risk_percent": 1.0,
                        "fx_rates": {"EURUSD": 1.08, "GBPJPY": [[0, 190.0], [1000, 191.5]]}},
            "costs": {"slippage": {"fixed_pips": 0.2, "random_pips": 0.5},
                      "commission": {"default": {"schema": "per_million_notional", "rate": 30, "side": "both", "min_fee": 0.5, "currency": "USD"},
                                     "per_symbol": {"GBPJPY": {"schema": "per_lot", "rate": 3.5, "side": "entry"}}}},
            "trade_management": {"max_holding_bars": 100, "break_even": {"trigger_pips": 10, "offset_pips": 1},
                                 "trailing": {"atr_mult": 2.5, "atr_period": 20}},
            "limits": {"max_open_positions": 3, "direction": "long", "exit_on_opposite_signal": true, "cooldown_bars": 5, "session_hours": [22, 6]},
            "start": 1000, "end": 2000, "seed": 42
        }"#;
        let c = parse_config(json).unwrap();
        assert_eq!(c.symbol_spec.base_currency.as_deref(), Some("GBP"));
        assert_eq!(c.account.risk_per_trade, None);
        assert_eq!(
            c.account.fx_rates["GBPJPY"],
            FxRate::Series(vec![(0, 190.0), (1000, 191.5)])
        );
        assert_eq!(c.variant(), omega_exec_core::Variant::V1Parity);
        assert_eq!(parse_config(&c.canonical_json()).unwrap(), c);
        let spec = c.symbol_spec();
        assert_eq!(spec.symbol, "GBPJPY");
        assert_eq!(spec.tick_value, Some(0.65));
    }
}
