//! The execution simulator: owns pending orders and open positions of one run and applies
//! SEMANTICS §1–6 (and the trade accounting of §7) in the configured variant.
//!
//! The state is two parts: `positions` (pending and open, creation order — ids increase, so the
//! vector is sorted by id) and `Core` (everything else). Per-bar work walks `positions` with
//! `retain_mut`, which keeps the order, allocates nothing and lets the closure borrow `Core`.

use std::collections::HashMap;

use crate::costs::swap::US_PER_DAY;
use crate::costs::{
    self, CommissionSet, CostInputs, CostModels, FeeContext, FeeLeg, FeeModel, LazyRng, LegacyFee,
    SlippageModel, SlippageSpec, SwapModel, SwapUnit,
};
use crate::error::{ExecError, Result};
use crate::exit::{self, BarPhase, ExitLevel};
use crate::fx::{FxPath, FxRates, FxTable};
use crate::position::{self, Fill};
use crate::rng::{self, SIDE_ENTRY, SIDE_EXIT};
use crate::signal::{self, DEFAULT_MIN_SL_DISTANCE_PIPS};
use crate::sizing::{self, MinLotPolicy, RiskMode};
use crate::trigger;
use crate::types::*;

/// Where market orders fill (SEMANTICS §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MarketFill {
    /// In the signal bar, at the entry price or the close on the trade side.
    #[default]
    SignalClose,
    /// At the next bar's open on the trade side; SL and TP are tested in that bar.
    NextOpen,
}

/// Everything that configures one simulator (one run).
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatorConfig {
    pub variant: Variant,
    /// `buf = pip * pip_buffer_factor` (SEMANTICS §3).
    pub pip_buffer_factor: f64,
    pub market_fill: MarketFill,
    pub gap_fills: bool,
    /// Pending orders expire after this many evaluated bars (ticks in tick mode); `None`: never.
    /// Ignored by v1, which has no expiry.
    pub pending_ttl_bars: Option<u32>,
    pub min_lot_policy: MinLotPolicy,
    pub risk: RiskMode,
    pub account_currency: String,
    pub initial_balance: f64,
    pub fx: FxRates,
    pub slippage: SlippageModel,
    /// Commission models; when set, the legacy fee is not used.
    pub commission: Option<CommissionSet>,
    /// Legacy fee model, used only when `commission` is `None`.
    pub legacy_fee: Option<LegacyFee>,
    pub base_seed: u64,
    /// The run's config_id, mixed into every RNG seed.
    pub run_key: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            variant: Variant::V2,
            pip_buffer_factor: 0.5,
            market_fill: MarketFill::SignalClose,
            gap_fills: false,
            pending_ttl_bars: None,
            min_lot_policy: MinLotPolicy::Reject,
            risk: RiskMode::Fixed(100.0),
            account_currency: "USD".to_string(),
            initial_balance: 100_000.0,
            fx: FxRates::default(),
            slippage: SlippageModel::default(),
            commission: None,
            legacy_fee: None,
            base_seed: 0,
            run_key: 0,
        }
    }
}

/// The signal bar (candle mode): close fills of market orders use its close on the trade side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarQuote {
    pub bid: Candle,
    pub ask: Option<Candle>,
}

/// What became of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalOutcome {
    /// A market order filled: the position is open.
    Opened(PositionId),
    /// A pending order (or a `next_open` market order) was placed.
    Pending(PositionId),
    /// Geometrically impossible or too small: nothing opened, nothing paid, counted in stats.
    Rejected(RejectReason),
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimStats {
    /// Rejected signals (and fills) per [`RejectReason::index`].
    pub rejected: [u64; 4],
    pub orders_expired: u64,
    pub orders_cancelled: u64,
    /// All fees booked (account currency).
    pub fees_total: f64,
    /// All swaps booked (account currency, signed: positive was credited).
    pub swap_total: f64,
    /// Signals that passed input validation.
    pub signals_processed: u64,
}

impl SimStats {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    pub fn rejected_for(&self, r: RejectReason) -> u64 {
        self.rejected[r.index()]
    }
}

/// Where a symbol's value per 1.0 price move per lot comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ValueSource {
    Fixed(f64),
    Converted { contract_size: f64, path: FxPath },
}

/// A symbol's swap model and its rollover clock.
#[derive(Clone, Debug)]
struct SwapState {
    model: SwapModel,
    /// Price units of one point (pips, points, price units); unused for money amounts.
    point: f64,
    /// Swap currency -> account currency, for money amounts only.
    money_to_account: Option<FxPath>,
    /// The next rollover to book; `ROLLOVER_UNSET` until the first event of the symbol.
    next: TimestampUs,
}

const ROLLOVER_UNSET: TimestampUs = TimestampUs::MIN;

/// Per-symbol values precomputed at construction (and the symbol's market context and rollover
/// clock, which `reset` restores).
#[derive(Clone, Debug)]
struct SymState {
    slip: SlippageSpec,
    /// Entry slippage needs the order's size (sized at the price before slippage first).
    slip_needs_size: bool,
    swap: Option<SwapState>,
    /// The latest ATR from `set_market_context` (0 until set).
    atr: f64,
    /// Replaces the spread measured from quotes when set.
    spread_override: Option<f64>,
    pip: f64,
    buf: f64,
    min_sl_distance: f64,
    name_hash: u64,
    value: ValueSource,
    fee: FeeModel,
    contract_size: f64,
    vmin: f64,
    step: f64,
    vmax: f64,
}

/// Everything but the positions, so per-position closures can borrow it mutably.
#[derive(Clone, Debug)]
struct Core {
    config: SimulatorConfig,
    costs: CostModels,
    /// The spread (ask − bid) at the event being processed, set by every entry point.
    spread: f64,
    specs: Vec<SymbolSpec>,
    syms: Vec<SymState>,
    fx: FxTable,
    closed: Vec<ClosedPosition>,
    queued: Vec<(PositionId, f64, StopKind)>,
    stats: SimStats,
    balance: f64,
    equity: f64,
    next_id: PositionId,
}

/// The execution simulator of one run. See the crate doc for the call protocol.
#[derive(Clone, Debug)]
pub struct ExecutionSimulator {
    positions: Vec<Position>,
    index: HashMap<String, SymbolId>,
    core: Core,
    /// Tests only: `evaluate_bar` always takes the general path, so that the quiet-bar path can
    /// be compared with it.
    #[cfg(test)]
    force_general: bool,
}

fn finite_pos(field: String, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ExecError::InvalidParameter {
            field,
            message: format!("must be finite and > 0, got {v}"),
        })
    }
}

#[inline]
fn check_candle(c: &Candle, side: &str) -> Result<()> {
    // The common case in one branch (this runs every bar); the loop below names the field.
    if c.open.is_finite() && c.high.is_finite() && c.low.is_finite() && c.close.is_finite() {
        return Ok(());
    }
    for (name, v) in [
        ("open", c.open),
        ("high", c.high),
        ("low", c.low),
        ("close", c.close),
    ] {
        if !v.is_finite() {
            return Err(ExecError::NonFinitePrice {
                field: format!("{side}.{name} at ts {}", c.ts),
            });
        }
    }
    Ok(())
}

fn check_tick(t: &Tick) -> Result<()> {
    if !t.bid.is_finite() {
        return Err(ExecError::NonFinitePrice {
            field: format!("tick.bid at ts {}", t.ts),
        });
    }
    if !t.ask.is_finite() {
        return Err(ExecError::NonFinitePrice {
            field: format!("tick.ask at ts {}", t.ts),
        });
    }
    Ok(())
}

fn validate_config(c: &SimulatorConfig) -> Result<()> {
    if !(c.pip_buffer_factor.is_finite() && c.pip_buffer_factor >= 0.0) {
        return Err(ExecError::invalid(
            "pip_buffer_factor",
            format!("must be finite and >= 0, got {}", c.pip_buffer_factor),
        ));
    }
    if c.pending_ttl_bars == Some(0) {
        return Err(ExecError::invalid(
            "pending_ttl_bars",
            "must be >= 1 when set",
        ));
    }
    match c.risk {
        RiskMode::Fixed(a) => finite_pos("risk_per_trade".into(), a)?,
        RiskMode::FixedLots(l) => finite_pos("fixed_lots".into(), l)?,
        RiskMode::Percent(p) => {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                return Err(ExecError::invalid(
                    "risk_percent",
                    format!("must be in (0, 100], got {p}"),
                ));
            }
        }
    }
    if c.account_currency.is_empty() {
        return Err(ExecError::invalid("account_currency", "must not be empty"));
    }
    finite_pos("initial_balance".into(), c.initial_balance)?;
    c.fx.validate()?;
    costs::validate_slippage(&c.slippage)?;
    if let Some(set) = &c.commission {
        if let Some(d) = &set.default {
            d.validate("commission.default")?;
        }
        for (sym, m) in &set.overrides {
            m.validate(&format!("commission.overrides[{sym}]"))?;
        }
    }
    if let Some(l) = &c.legacy_fee {
        costs::validate_legacy(l)?;
    }
    Ok(())
}

fn validate_spec(s: &SymbolSpec) -> Result<()> {
    let f = |name: &str| format!("symbol_specs[{}].{name}", s.symbol);
    if s.symbol.is_empty() {
        return Err(ExecError::invalid(
            "symbol_specs[].symbol",
            "must not be empty",
        ));
    }
    finite_pos(f("pip_size"), s.pip_size)?;
    finite_pos(f("contract_size"), s.contract_size)?;
    finite_pos(f("volume_min"), s.volume_min)?;
    finite_pos(f("volume_step"), s.volume_step)?;
    finite_pos(f("volume_max"), s.volume_max)?;
    if s.volume_max < s.volume_min {
        return Err(ExecError::invalid(f("volume_max"), "must be >= volume_min"));
    }
    if let Some(t) = s.tick_size {
        finite_pos(f("tick_size"), t)?;
    }
    if let Some(t) = s.tick_value {
        finite_pos(f("tick_value"), t)?;
    }
    if let Some(d) = s.min_sl_distance_pips {
        if !(d.is_finite() && d >= 0.0) {
            return Err(ExecError::invalid(
                f("min_sl_distance_pips"),
                format!("must be finite and >= 0, got {d}"),
            ));
        }
    }
    if s.quote_currency.is_empty() {
        return Err(ExecError::invalid(f("quote_currency"), "must not be empty"));
    }
    Ok(())
}

impl Core {
    #[inline]
    fn variant(&self) -> Variant {
        self.config.variant
    }

    /// The signed slippage offset of one fill of `p` at `price` (before slippage): `+s*pip` for a
    /// buy, `−s*pip` for a sell. `buy` decides the sign (v1 exits use the position's own
    /// direction); `lots` is what models reading the size see.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn slip(
        &self,
        p: &Position,
        ts: TimestampUs,
        side: u64,
        buy: bool,
        price: f64,
        lots: f64,
    ) -> Result<f64> {
        let st = &self.syms[p.symbol as usize];
        let seed = || {
            rng::event_seed(
                self.config.base_seed,
                self.config.run_key,
                st.name_hash,
                ts,
                side,
                p.id,
            )
        };
        let pips = match st.slip.as_fixed() {
            // The classic model: no inputs to build.
            Some(model) => {
                if model.is_random() {
                    model.pips(rng::event_uniform(seed()))
                } else {
                    model.fixed_pips
                }
            }
            None => {
                let is_entry = side == SIDE_ENTRY;
                let order_buys = is_entry == (p.direction == Direction::Long);
                let mut inputs = CostInputs {
                    lots,
                    price,
                    notional: lots * st.contract_size * price,
                    contract_size: st.contract_size,
                    pip: st.pip,
                    side: if order_buys { 1.0 } else { -1.0 },
                    direction: p.direction.sign(),
                    is_entry: if is_entry { 1.0 } else { 0.0 },
                    atr: st.atr,
                    spread: self.spread,
                    ..CostInputs::default()
                }
                .with_time(ts);
                st.slip.pips(&mut inputs, &mut LazyRng::new(seed()))?
            }
        };
        let off = pips * st.pip;
        Ok(if buy { off } else { -off })
    }

    /// Entry slippage of `p` filling at `price` (before slippage).
    #[inline]
    fn entry_slip(&self, p: &Position, ts: TimestampUs, price: f64) -> Result<f64> {
        let st = &self.syms[p.symbol as usize];
        let lots = if st.slip_needs_size {
            self.size(p.symbol, price, p.stop_loss, ts)?
                .map_or(0.0, |(l, _, _)| l)
        } else {
            0.0
        };
        self.slip(
            p,
            ts,
            SIDE_ENTRY,
            p.direction == Direction::Long,
            price,
            lots,
        )
    }

    /// Exit slippage: adverse in v2 (a long exit sells); v1 uses the position's own direction.
    #[inline]
    fn exit_slip(&self, p: &Position, ts: TimestampUs, price: f64) -> Result<f64> {
        let buy = match self.variant() {
            Variant::V2 => p.direction == Direction::Short,
            Variant::V1Parity => p.direction == Direction::Long,
        };
        self.slip(p, ts, SIDE_EXIT, buy, price, p.lots)
    }

    /// Size for a fill: `(lots, value_per_price, risk_amount)`, or `None` (size_below_min).
    #[inline]
    fn size(
        &self,
        sym: SymbolId,
        fill: f64,
        stop_loss: f64,
        ts: TimestampUs,
    ) -> Result<Option<(f64, f64, f64)>> {
        let st = &self.syms[sym as usize];
        let vpp = match st.value {
            ValueSource::Fixed(v) => v,
            ValueSource::Converted {
                contract_size,
                path,
            } => contract_size * path.factor(&self.fx, ts)?,
        };
        let distance = (fill - stop_loss).abs();
        let (raw, risk) = match (self.config.risk, self.config.risk.amount(self.equity)) {
            // Fixed lots: the size is given; the risk is what it loses at the initial SL.
            (RiskMode::FixedLots(l), _) => (l, None),
            (_, Some(risk)) if risk.is_finite() && risk > 0.0 => (
                sizing::raw_lots(risk, distance, vpp, st.pip, self.variant()),
                Some(risk),
            ),
            // Zero, negative or non-finite risk (e.g. equity wiped out) never trades.
            _ => return Ok(None),
        };
        let lots = sizing::quantize_lots(
            raw,
            st.vmin,
            st.step,
            st.vmax,
            self.variant(),
            self.config.min_lot_policy,
        );
        Ok(lots.map(|l| (l, vpp, risk.unwrap_or(l * distance * vpp))))
    }

    #[inline]
    fn fee(
        &self,
        sym: SymbolId,
        leg: FeeLeg,
        direction: Direction,
        lots: f64,
        price: f64,
        ts: TimestampUs,
    ) -> Result<f64> {
        let st = &self.syms[sym as usize];
        st.fee.fee(&FeeContext {
            leg,
            direction,
            lots,
            price,
            ts,
            contract_size: st.contract_size,
            pip_size: st.pip,
            variant: self.variant(),
            fx: &self.fx,
            atr: st.atr,
            spread: self.spread,
        })
    }

    #[inline]
    fn reject(&mut self, r: RejectReason) {
        self.stats.rejected[r.index()] += 1;
    }

    /// One pending order met by a bar or tick later than its placement (SEMANTICS §2): a held
    /// next_open market order fills at `market` (the trade-side open or tick price); a limit/stop
    /// order fills per `pending_fill` when `triggered` says so, otherwise it ages by one bar and
    /// may expire. Returns whether the order stays in the book; an error is stored in `err` (the
    /// order is kept and the caller stops).
    #[inline]
    fn step_pending(
        &mut self,
        p: &mut Position,
        ts: TimestampUs,
        ttl: Option<u32>,
        market: f64,
        err: &mut Option<ExecError>,
        triggered: impl FnOnce(&Position) -> bool,
    ) -> bool {
        let result = match p.order_type {
            OrderType::Market => self.fill(p, ts, Some(ts), market, true, Some(market)),
            _ if triggered(p) => {
                let v = self.variant();
                let price =
                    trigger::pending_fill(v, p.direction, p.order_type, p.entry_price, market);
                self.fill(p, ts, Some(ts), price, v == Variant::V2, None)
            }
            _ => {
                p.bars_pending += 1;
                if ttl.is_some_and(|t| p.bars_pending >= t) {
                    self.stats.orders_expired += 1;
                    return false;
                }
                return true;
            }
        };
        match result {
            Ok(None) => true,
            Ok(Some(r)) => {
                self.reject(r);
                false
            }
            Err(e) => {
                *err = Some(e);
                true
            }
        }
    }

    /// Fills `p` at `price` (before slippage): optional geometry check against the fill, sizing,
    /// entry fee. On `Ok(Some(reason))` and on `Err` nothing changed (the caller counts and drops
    /// a rejected order); on `Ok(None)` the position is open and its fee booked.
    #[inline]
    fn fill(
        &mut self,
        p: &mut Position,
        time: TimestampUs,
        trigger_time: Option<TimestampUs>,
        price: f64,
        slippage: bool,
        geometry: Option<f64>,
    ) -> Result<Option<RejectReason>> {
        let fill = if slippage {
            price + self.entry_slip(p, time, price)?
        } else {
            price
        };
        if let Some(check_price) = geometry {
            let st = &self.syms[p.symbol as usize];
            // v2 checks the fill itself; v1 checks the price before slippage.
            let at = match self.variant() {
                Variant::V2 => fill,
                Variant::V1Parity => check_price,
            };
            if let Some(r) = signal::check_geometry(
                self.variant(),
                p.direction,
                p.order_type,
                at,
                p.stop_loss,
                p.take_profit,
                st.min_sl_distance,
            ) {
                return Ok(Some(r));
            }
        }
        let Some((lots, vpp, risk)) = self.size(p.symbol, fill, p.stop_loss, time)? else {
            return Ok(Some(RejectReason::SizeBelowMin));
        };
        let fee = self.fee(p.symbol, FeeLeg::Entry, p.direction, lots, fill, time)?;
        position::open(
            p,
            &Fill {
                time,
                trigger_time,
                price: fill,
                lots,
                value_per_price: vpp,
                risk_amount: risk,
                entry_fee: fee,
            },
        );
        self.balance -= fee;
        self.stats.fees_total += fee;
        Ok(None)
    }

    /// Closes `p` at `price` (before slippage) and books gross PnL and the exit fee.
    fn finish(
        &mut self,
        p: &Position,
        time: TimestampUs,
        price: f64,
        reason: ExitReason,
        ambiguous: bool,
        charge: bool,
    ) -> Result<()> {
        let (exit_price, fee) = if charge {
            let px = price + self.exit_slip(p, time, price)?;
            (
                px,
                self.fee(p.symbol, FeeLeg::Exit, p.direction, p.lots, px, time)?,
            )
        } else {
            (price, 0.0)
        };
        let rec = position::close(self.variant(), p, time, exit_price, reason, fee, ambiguous);
        // Swaps were booked into the balance at each rollover already.
        self.balance += rec.gross_pnl - fee;
        self.stats.fees_total += fee;
        self.closed.push(rec);
        Ok(())
    }

    /// The pip buffer for an exit test of a position of `sym`. v1 uses the pip size of the first
    /// open position (any symbol), or 0.0001 when none is open (`v1_buf`, computed by the caller).
    #[inline]
    fn buf(&self, sym: SymbolId, v1_buf: f64) -> f64 {
        match self.variant() {
            Variant::V2 => self.syms[sym as usize].buf,
            Variant::V1Parity => v1_buf,
        }
    }
}

impl ExecutionSimulator {
    /// Validates the config and the symbol specs (1001 naming the field; 1006 for a currency route
    /// that no configured rate provides) and precomputes per-symbol values.
    pub fn new(config: SimulatorConfig, specs: Vec<SymbolSpec>) -> Result<Self> {
        Self::with_costs(config, specs, CostModels::default())
    }

    /// As [`Self::new`], with cost model trees: for every symbol a fee tree covers (its entry or
    /// the tree's default) it replaces `config.commission`/`legacy_fee`, a slippage tree likewise
    /// replaces `config.slippage`; swaps add overnight financing. Per-symbol entries must name
    /// known symbols (1002).
    pub fn with_costs(
        config: SimulatorConfig,
        specs: Vec<SymbolSpec>,
        costs: CostModels,
    ) -> Result<Self> {
        validate_config(&config)?;
        costs.validate()?;
        if specs.len() > usize::from(SymbolId::MAX) + 1 {
            return Err(ExecError::invalid(
                "symbol_specs",
                format!("at most 65536 symbols, got {}", specs.len()),
            ));
        }
        let fx = config.fx.compile();
        let mut index = HashMap::with_capacity(specs.len());
        let mut syms = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            validate_spec(s)?;
            if index.insert(s.symbol.clone(), i as SymbolId).is_some() {
                return Err(ExecError::invalid(
                    format!("symbol_specs[{}]", s.symbol),
                    "duplicate symbol",
                ));
            }
            let route = |what: &str| {
                fx.path(
                    &s.quote_currency,
                    &config.account_currency,
                    &format!("symbol_specs[{}].quote_currency ({what})", s.symbol),
                )
            };
            let value = match (config.variant, s.tick_value, s.tick_size) {
                (Variant::V2, Some(tv), Some(ts)) => ValueSource::Fixed(tv / ts),
                // v1 sizes from contract_size * pip converted, whatever tick values say.
                _ => {
                    let path = route("value per price")?;
                    if path.is_identity() {
                        ValueSource::Fixed(s.contract_size)
                    } else {
                        ValueSource::Converted {
                            contract_size: s.contract_size,
                            path,
                        }
                    }
                }
            };
            // A tree covers the symbols it has a model for (its own entry or its default);
            // other symbols keep the classic fields.
            let fee = match costs.fees.as_ref().and_then(|t| t.for_symbol(&s.symbol)) {
                Some(spec) => FeeModel::compile_spec(
                    spec,
                    &s.symbol,
                    &s.quote_currency,
                    &config.account_currency,
                    &fx,
                    "costs.fees",
                )?,
                None => FeeModel::compile(
                    config.commission.as_ref(),
                    config.legacy_fee.as_ref(),
                    config.variant,
                    &s.symbol,
                    &s.quote_currency,
                    &config.account_currency,
                    &fx,
                )?,
            };
            let slip = match costs
                .slippage
                .as_ref()
                .and_then(|t| t.for_symbol(&s.symbol))
            {
                Some(spec) => spec.clone(),
                None => SlippageSpec::Fixed(config.slippage),
            };
            let swap = match costs.swap.as_ref().and_then(|t| t.for_symbol(&s.symbol)) {
                Some(m) => Some(SwapState {
                    point: match m.unit {
                        SwapUnit::Pips => s.pip_size,
                        SwapUnit::Points => s.pip_size / 10.0,
                        SwapUnit::Price | SwapUnit::Money => 1.0,
                    },
                    money_to_account: match m.unit {
                        SwapUnit::Money => Some(fx.path(
                            m.currency.as_deref().unwrap_or(&config.account_currency),
                            &config.account_currency,
                            &format!("costs.swap[{}].currency", s.symbol),
                        )?),
                        _ => None,
                    },
                    model: m.clone(),
                    next: ROLLOVER_UNSET,
                }),
                None => None,
            };
            syms.push(SymState {
                slip_needs_size: slip.needs_size(),
                slip,
                swap,
                atr: 0.0,
                spread_override: None,
                pip: s.pip_size,
                buf: s.pip_size * config.pip_buffer_factor,
                min_sl_distance: s
                    .min_sl_distance_pips
                    .unwrap_or(DEFAULT_MIN_SL_DISTANCE_PIPS)
                    * s.pip_size,
                name_hash: rng::fnv1a64(s.symbol.as_bytes()),
                value,
                fee,
                contract_size: s.contract_size,
                vmin: s.volume_min,
                step: s.volume_step,
                vmax: s.volume_max,
            });
        }
        if let Some(set) = &config.commission {
            for (sym, _) in &set.overrides {
                if !index.contains_key(sym) {
                    return Err(ExecError::UnknownSymbol {
                        symbol: format!("{sym} (commission.overrides)"),
                    });
                }
            }
        }
        for sym in costs.named_symbols() {
            if !index.contains_key(sym) {
                return Err(ExecError::UnknownSymbol {
                    symbol: format!("{sym} (costs per_symbol)"),
                });
            }
        }
        let balance = config.initial_balance;
        Ok(ExecutionSimulator {
            positions: Vec::new(),
            index,
            core: Core {
                config,
                costs,
                spread: 0.0,
                specs,
                syms,
                fx,
                closed: Vec::new(),
                queued: Vec::new(),
                stats: SimStats::default(),
                balance,
                equity: balance,
                next_id: 0,
            },
            #[cfg(test)]
            force_general: false,
        })
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.core.config
    }

    /// The id of a symbol by name (1002 when it has no spec).
    pub fn symbol_id(&self, name: &str) -> Result<SymbolId> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| ExecError::UnknownSymbol {
                symbol: name.to_string(),
            })
    }

    /// The spec of a symbol. Panics for an id not obtained from [`Self::symbol_id`].
    pub fn spec(&self, id: SymbolId) -> &SymbolSpec {
        &self.core.specs[id as usize]
    }

    pub fn specs(&self) -> &[SymbolSpec] {
        &self.core.specs
    }

    /// Sets the equity that `RiskMode::Percent` sizes from at the next fills.
    pub fn set_equity(&mut self, equity: f64) {
        self.core.equity = equity;
    }

    /// Reserves room for `n` more positions and closed records (so later calls do not grow).
    pub fn reserve(&mut self, n: usize) {
        self.positions.reserve(n);
        self.core.closed.reserve(n);
        self.core.queued.reserve(n);
    }

    /// Back to the state right after construction (no positions, no closed records, zero stats,
    /// initial balance and equity, ids from 0), keeping the config and every allocation, so one
    /// simulator can run many times without allocating.
    pub fn reset(&mut self) {
        self.positions.clear();
        let c = &mut self.core;
        c.closed.clear();
        c.queued.clear();
        c.stats = SimStats::default();
        c.balance = c.config.initial_balance;
        c.equity = c.config.initial_balance;
        c.next_id = 0;
        c.spread = 0.0;
        for st in &mut c.syms {
            st.atr = 0.0;
            st.spread_override = None;
            if let Some(sw) = &mut st.swap {
                sw.next = ROLLOVER_UNSET;
            }
        }
    }

    /// The cost model trees given to [`Self::with_costs`].
    pub fn cost_models(&self) -> &CostModels {
        &self.core.costs
    }

    /// Whether some cost model reads the ATR (the caller should then call
    /// [`Self::set_market_context`] every bar).
    pub fn needs_atr(&self) -> bool {
        self.core.costs.needs_atr()
    }

    /// Whether some symbol's fee or slippage model is a callback (e.g. a Python callable: runs
    /// using it serialize on the GIL).
    pub fn has_callback(&self) -> bool {
        self.core
            .syms
            .iter()
            .any(|s| s.fee.has_callback() || slip_has_callback(&s.slip))
    }

    /// Market data that cost models read for `symbol`: `atr` (price units; non-finite counts as
    /// 0, i.e. unknown) for `VolatilitySlippage(atr)` and formulas using `atr`, used by every
    /// later fill until changed; `spread` (price units), when given, replaces the spread the
    /// simulator measures from quotes (candle mode: the bar's open spread for fills inside
    /// `evaluate_bar`, the close spread for signal-bar fills and `close_position`; tick mode:
    /// the tick's). Unknown symbols are ignored.
    pub fn set_market_context(&mut self, symbol: SymbolId, atr: f64, spread: Option<f64>) {
        if let Some(st) = self.core.syms.get_mut(symbol as usize) {
            st.atr = if atr.is_finite() { atr } else { 0.0 };
            st.spread_override = spread.filter(|s| s.is_finite());
        }
    }

    /// Sets the spread of the event being processed (an override wins over the quotes).
    #[inline]
    fn set_spread(&mut self, symbol: SymbolId, measured: f64) {
        let st = &self.core.syms[symbol as usize];
        self.core.spread = match st.spread_override {
            Some(s) => s,
            None if measured.is_finite() => measured,
            None => 0.0,
        };
    }

    /// Books the swaps of every rollover `R <= ts` not booked yet for `symbol`'s open positions
    /// with `entry_time < R` (see [`crate::costs::swap`]). Once per rollover, not per bar.
    fn roll_swaps(&mut self, symbol: SymbolId, ts: TimestampUs) -> Result<()> {
        let Core {
            syms,
            fx,
            balance,
            stats,
            ..
        } = &mut self.core;
        let Some(sw) = syms[symbol as usize].swap.as_mut() else {
            return Ok(());
        };
        if sw.next == ROLLOVER_UNSET {
            sw.next = sw.model.rollover_at_or_after(ts);
        }
        while sw.next <= ts {
            let r = sw.next;
            sw.next += US_PER_DAY;
            let weight = sw.model.weight(r);
            if weight == 0 {
                continue;
            }
            let money = match &sw.money_to_account {
                Some(path) => path.factor(fx, r)?,
                None => 0.0,
            };
            for p in self.positions.iter_mut().filter(|p| {
                p.symbol == symbol && p.status == PositionStatus::Open && p.entry_time < r
            }) {
                let points = match p.direction {
                    Direction::Long => sw.model.long_points,
                    Direction::Short => sw.model.short_points,
                };
                let per_lot = match sw.model.unit {
                    SwapUnit::Money => points * money,
                    _ => points * sw.point * p.value_per_price,
                };
                let amount = f64::from(weight) * per_lot * p.lots;
                p.swap += amount;
                *balance += amount;
                stats.swap_total += amount;
            }
        }
        Ok(())
    }

    fn check_symbol(&self, symbol: SymbolId) -> Result<()> {
        if (symbol as usize) < self.core.syms.len() {
            Ok(())
        } else {
            Err(ExecError::UnknownSymbol {
                symbol: format!("#{symbol}"),
            })
        }
    }

    /// Candle mode (SEMANTICS §1–2): validates the signal and executes it against its signal bar.
    /// `bar.bid.ts` must equal `s.ts`. Market orders fill now (or, with `NextOpen`, are held and
    /// filled by the next `evaluate_bar` of the symbol); limit/stop orders are placed.
    pub fn process_signal(&mut self, s: &Signal, bar: &BarQuote) -> Result<SignalOutcome> {
        signal::validate_input(s)?;
        self.check_symbol(s.symbol)?;
        check_candle(&bar.bid, "bar.bid")?;
        if let Some(a) = &bar.ask {
            check_candle(a, "bar.ask")?;
            if a.ts != bar.bid.ts {
                return Err(ExecError::BidAskMismatch {
                    field: format!("bar.ask.ts {} != bar.bid.ts {}", a.ts, bar.bid.ts),
                });
            }
        }
        if bar.bid.ts != s.ts {
            return Err(ExecError::invalid(
                "signal.ts",
                format!("{} is not the signal bar's ts {}", s.ts, bar.bid.ts),
            ));
        }
        let v = self.core.variant();
        let reference = match s.entry_price {
            Some(e) => e,
            None => {
                // The close on the trade side: ask for long, bid for short.
                let ask = match (bar.ask, v) {
                    (Some(a), _) => a,
                    (None, Variant::V1Parity) => bar.bid,
                    (None, Variant::V2) if s.direction == Direction::Short => bar.bid,
                    (None, Variant::V2) => {
                        return Err(ExecError::MissingSide {
                            field: format!("bar.ask at ts {} (long market close fill)", s.ts),
                        })
                    }
                };
                match s.direction {
                    Direction::Long => ask.close,
                    Direction::Short => bar.bid.close,
                }
            }
        };
        self.roll_swaps(s.symbol, s.ts)?;
        self.set_spread(s.symbol, bar.ask.map_or(0.0, |a| a.close - bar.bid.close));
        let immediate = s.order_type == OrderType::Market
            && self.core.config.market_fill == MarketFill::SignalClose;
        self.place_or_fill(s, reference, immediate, Some(s.ts))
    }

    /// Tick mode (SEMANTICS §4). Market orders fill at the tick (v2: ask for long, bid for short;
    /// v1: bid for long, ask for short, and no trigger time); `market_fill` does not apply.
    pub fn process_signal_tick(&mut self, s: &Signal, tick: &Tick) -> Result<SignalOutcome> {
        signal::validate_input(s)?;
        self.check_symbol(s.symbol)?;
        check_tick(tick)?;
        if tick.ts != s.ts {
            return Err(ExecError::invalid(
                "signal.ts",
                format!("{} is not the tick's ts {}", s.ts, tick.ts),
            ));
        }
        let v = self.core.variant();
        let reference = s.entry_price.unwrap_or(match (v, s.direction) {
            (Variant::V2, Direction::Long) | (Variant::V1Parity, Direction::Short) => tick.ask,
            (Variant::V2, Direction::Short) | (Variant::V1Parity, Direction::Long) => tick.bid,
        });
        let trigger = match v {
            Variant::V2 => Some(s.ts),
            Variant::V1Parity => None,
        };
        self.roll_swaps(s.symbol, s.ts)?;
        self.set_spread(s.symbol, tick.ask - tick.bid);
        self.place_or_fill(s, reference, s.order_type == OrderType::Market, trigger)
    }

    /// Shared tail of the two signal entry points. `reference` is the entry price, or the price a
    /// market order without one fills at (before slippage). Nothing is stored unless it succeeds.
    fn place_or_fill(
        &mut self,
        s: &Signal,
        reference: f64,
        immediate: bool,
        trigger_time: Option<TimestampUs>,
    ) -> Result<SignalOutcome> {
        let id = self.core.next_id;
        let mut p = position::new_pending(id, s, reference);
        let outcome = if immediate {
            match self
                .core
                .fill(&mut p, s.ts, trigger_time, reference, true, Some(reference))?
            {
                Some(r) => SignalOutcome::Rejected(r),
                None => SignalOutcome::Opened(id),
            }
        } else {
            // Pending orders (and held next_open market orders) are checked against their order
            // (reference) price now; sizing waits for the fill.
            let st = &self.core.syms[s.symbol as usize];
            match signal::check_geometry(
                self.core.variant(),
                s.direction,
                s.order_type,
                reference,
                s.stop_loss,
                s.take_profit,
                st.min_sl_distance,
            ) {
                Some(r) => SignalOutcome::Rejected(r),
                None => SignalOutcome::Pending(id),
            }
        };
        self.core.stats.signals_processed += 1;
        match outcome {
            SignalOutcome::Rejected(r) => self.core.reject(r),
            _ => {
                self.core.next_id += 1;
                self.positions.push(p);
            }
        }
        Ok(outcome)
    }

    /// The common bar of a bar loop, in one read-only pass and then in place: `v2`, valid
    /// finite candles of the same time, no swap model on the symbol, no queued stop update, no
    /// pending order of the symbol, and no open position of it that exits in this bar. Then the
    /// bar changes only the open positions' `bars_held`/`best_price`, exactly as the general
    /// path would (which also sets the spread, read only by the events that set it first).
    /// Returns false, having changed nothing, otherwise.
    #[inline(always)]
    fn quiet_bar(&mut self, symbol: SymbolId, bid: &Candle, ask: &Candle) -> bool {
        let core = &self.core;
        let Some(st) = core.syms.get(symbol as usize) else {
            return false;
        };
        if core.config.variant != Variant::V2
            || st.swap.is_some()
            || !core.queued.is_empty()
            || ask.ts != bid.ts
            // One test for all eight prices: a sum is finite only when every term is (a NaN or
            // an infinity propagates); a finite sum that overflows only sends the bar to the
            // general path, which checks each price itself.
            || !(bid.open + bid.high + bid.low + bid.close + ask.open + ask.high + ask.low + ask.close)
                .is_finite()
        {
            return false;
        }
        let ts = bid.ts;
        let buf = st.buf;
        for p in &self.positions {
            if p.symbol != symbol {
                continue;
            }
            if p.status == PositionStatus::Pending || p.placement_time >= ts || p.entry_time >= ts {
                return false;
            }
            let candle = match p.direction {
                Direction::Long => bid,
                Direction::Short => ask,
            };
            // `candle_exit` returns Some exactly when SL or TP lies inside the candle (the
            // gap-fill rule only picks the price then), so `touches` decides quietness alone.
            if exit::touches(p.direction, p.stop_loss, p.take_profit, buf, candle) {
                return false;
            }
        }
        // No `set_spread`: see `advance_quiet`.
        for p in self.positions.iter_mut().filter(|p| p.symbol == symbol) {
            p.bars_held += 1;
            p.best_price = match p.direction {
                Direction::Long => p.best_price.max(bid.high),
                Direction::Short => p.best_price.min(ask.low),
            };
        }
        true
    }

    /// Candle mode, one bar of one symbol: next_open fills, pending triggers (§2, with TTL) then
    /// exits (§3), each in creation order. Applies queued stop updates first (idempotent with an
    /// explicit [`Self::apply_queued_stop_updates`]). v2 needs the ask candle (2007); v1 falls back
    /// to the bid for shorts and long triggers.
    #[inline]
    pub fn evaluate_bar(
        &mut self,
        symbol: SymbolId,
        bid: &Candle,
        ask: Option<&Candle>,
    ) -> Result<()> {
        #[cfg(test)]
        if self.force_general {
            return self.evaluate_bar_general(symbol, bid, ask);
        }
        if let Some(a) = ask {
            if self.quiet_bar(symbol, bid, a) {
                return Ok(());
            }
        }
        self.evaluate_bar_general(symbol, bid, ask)
    }

    /// [`Self::evaluate_bar`] with both sides given by value: the same result, for bar loops. The
    /// quiet-bar test reads the prices straight from registers, and only a bar that is not quiet
    /// puts the candles in memory for the general path.
    #[inline(always)]
    pub fn evaluate_bar_pair(&mut self, symbol: SymbolId, bid: Candle, ask: Candle) -> Result<()> {
        #[cfg(test)]
        if self.force_general {
            return self.evaluate_bar_general(symbol, &bid, Some(&ask));
        }
        if self.quiet_bar(symbol, &bid, &ask) {
            return Ok(());
        }
        self.evaluate_bar_pair_general(symbol, bid, ask)
    }

    /// The general path of [`Self::evaluate_bar_pair`], out of line.
    #[inline(never)]
    fn evaluate_bar_pair_general(
        &mut self,
        symbol: SymbolId,
        bid: Candle,
        ask: Candle,
    ) -> Result<()> {
        self.evaluate_bar_general(symbol, &bid, Some(&ask))
    }

    /// [`Self::evaluate_bar_pair`] for the bars `from..` of `bars` as long as they are quiet (see
    /// `quiet_bar`): returns the first bar of `from..to` that is not (`to` when all are), having
    /// applied every bar before it exactly as `evaluate_bar_pair` would have, one by one; that
    /// bar and the ones after it are left to the caller. Whether a bar is quiet depends on the
    /// positions alone, and they do not change on a quiet bar, so one test of the state and one
    /// tight scan of the exit-side extremes decide a whole span.
    ///
    /// `bars` must hold validated prices (finite, `low <= high`) and strictly increasing times,
    /// as a checked data set does: the scan reads only the columns a quiet bar depends on (the
    /// exit-side highs and lows, and the opens of the last bar for the spread), and a NaN among
    /// the highs and lows ends the span, so the general path reports it.
    pub fn advance_quiet(
        &mut self,
        symbol: SymbolId,
        bars: &CandleColumns<'_>,
        from: usize,
        to: usize,
    ) -> usize {
        #[cfg(test)]
        if self.force_general {
            return from;
        }
        let to = to.min(bars.len());
        if from >= to {
            return from;
        }
        let Some(st) = self.core.syms.get(symbol as usize) else {
            return from;
        };
        if self.core.config.variant != Variant::V2
            || st.swap.is_some()
            || !self.core.queued.is_empty()
        {
            return from;
        }
        let ts = bars.ts[from];
        let buf = st.buf;
        let mut count = 0usize;
        for p in &self.positions {
            if p.symbol != symbol {
                continue;
            }
            if p.status == PositionStatus::Pending || p.placement_time >= ts || p.entry_time >= ts {
                return from;
            }
            count += 1;
        }
        let end = match count {
            0 => to,
            1 => {
                let Some(p) = self.positions.iter().find(|p| p.symbol == symbol) else {
                    return from;
                };
                // The comparisons of `exit::touches`, negated so that a NaN counts as a touch.
                let (extremes_low, extremes_high, low_limit, high_limit) = match p.direction {
                    Direction::Long => (
                        &bars.bid_low[from..to],
                        &bars.bid_high[from..to],
                        p.stop_loss + buf,
                        p.take_profit - buf,
                    ),
                    Direction::Short => (
                        &bars.ask_low[from..to],
                        &bars.ask_high[from..to],
                        p.take_profit + buf,
                        p.stop_loss - buf,
                    ),
                };
                from + quiet_prefix(extremes_low, extremes_high, low_limit, high_limit)
            }
            _ => {
                let mut j = from;
                while j < to {
                    let (bid, ask) = (bars.bid_candle(j), bars.ask_candle(j));
                    let exits = self.positions.iter().any(|p| {
                        p.symbol == symbol && {
                            let c = match p.direction {
                                Direction::Long => &bid,
                                Direction::Short => &ask,
                            };
                            !(c.high.is_finite() && c.low.is_finite())
                                || exit::touches(p.direction, p.stop_loss, p.take_profit, buf, c)
                        }
                    });
                    if exits {
                        break;
                    }
                    j += 1;
                }
                j
            }
        };
        if end == from {
            return from;
        }
        let n = (end - from) as u32;
        let (bid_high, ask_low) = (&bars.bid_high[from..end], &bars.ask_low[from..end]);
        for p in self.positions.iter_mut().filter(|p| p.symbol == symbol) {
            p.bars_held += n;
            // max/min are exact and order-free on finite prices: the fold equals the per-bar
            // updates.
            p.best_price = match p.direction {
                Direction::Long => bid_high.iter().fold(p.best_price, |b, &h| b.max(h)),
                Direction::Short => ask_low.iter().fold(p.best_price, |b, &l| b.min(l)),
            };
        }
        // The spread (`set_spread`) is not set: every event that reads it (fills, exits,
        // signals, closes) sets it first, so a quiet bar's spread is never read.
        end
    }

    /// [`Self::evaluate_bar`] for every bar that is not quiet (see `quiet_bar`).
    #[inline(never)]
    fn evaluate_bar_general(
        &mut self,
        symbol: SymbolId,
        bid: &Candle,
        ask: Option<&Candle>,
    ) -> Result<()> {
        self.check_symbol(symbol)?;
        check_candle(bid, "bid")?;
        let ask = match (ask, self.core.variant()) {
            (Some(a), _) => {
                check_candle(a, "ask")?;
                if a.ts != bid.ts {
                    return Err(ExecError::BidAskMismatch {
                        field: format!("ask.ts {} != bid.ts {}", a.ts, bid.ts),
                    });
                }
                *a
            }
            (None, Variant::V1Parity) => *bid,
            (None, Variant::V2) => {
                return Err(ExecError::MissingSide {
                    field: format!("ask candle at ts {} (v2 needs both sides)", bid.ts),
                })
            }
        };
        if self.core.syms[symbol as usize].swap.is_some() {
            self.roll_swaps(symbol, bid.ts)?;
        }
        self.set_spread(symbol, ask.open - bid.open);
        self.apply_queued_stop_updates();
        let ts = bid.ts;
        let core = &mut self.core;
        let v = core.config.variant;
        // v1 has no expiry (SEMANTICS §2).
        let ttl = match v {
            Variant::V2 => core.config.pending_ttl_bars,
            Variant::V1Parity => None,
        };
        let mut err: Option<ExecError> = None;

        // Pass 1: fills of held next_open market orders and pending triggers (skipped when no
        // order of the symbol is pending, the common case of a bar loop).
        let any_pending = self
            .positions
            .iter()
            .any(|p| p.symbol == symbol && p.status == PositionStatus::Pending);
        if any_pending {
            self.positions.retain_mut(|p| {
                if err.is_some()
                    || p.symbol != symbol
                    || p.status != PositionStatus::Pending
                    || p.placement_time >= ts
                {
                    return true;
                }
                let open = match p.direction {
                    Direction::Long => ask.open,
                    Direction::Short => bid.open,
                };
                core.step_pending(p, ts, ttl, open, &mut err, |p| {
                    trigger::triggered_candle(p.direction, p.order_type, p.entry_price, bid, &ask)
                })
            });
        }
        if let Some(e) = err {
            return Err(e);
        }

        let v1_buf = match v {
            Variant::V2 => 0.0,
            Variant::V1Parity => {
                let pip = self
                    .positions
                    .iter()
                    .find(|p| p.status == PositionStatus::Open)
                    .map_or(0.0001, |p| core.syms[p.symbol as usize].pip);
                pip * core.config.pip_buffer_factor
            }
        };
        let gap_fills = core.config.gap_fills;

        // Pass 2: exits of open positions.
        self.positions.retain_mut(|p| {
            // A market order filled at the signal bar's close is first tested on the next bar.
            if err.is_some()
                || p.symbol != symbol
                || p.status != PositionStatus::Open
                || p.placement_time >= ts
            {
                return true;
            }
            let phase = if p.entry_time < ts {
                BarPhase::Normal
            } else if p.order_type == OrderType::Market {
                BarPhase::FillBar
            } else {
                BarPhase::TriggerBar
            };
            let candle = match p.direction {
                Direction::Long => bid,
                Direction::Short => &ask,
            };
            let buf = core.buf(p.symbol, v1_buf);
            match exit::candle_exit(
                v,
                p.direction,
                p.order_type,
                p.stop_loss,
                p.take_profit,
                buf,
                candle,
                phase,
                gap_fills,
            ) {
                Some(hit) => {
                    let reason = match hit.level {
                        ExitLevel::StopLoss => {
                            exit::stop_reason(v, p.stop_loss, p.initial_stop_loss, p.stop_kind)
                        }
                        ExitLevel::TakeProfit => ExitReason::TakeProfit,
                    };
                    match core.finish(p, ts, hit.price, reason, hit.ambiguous, true) {
                        Ok(()) => false,
                        Err(e) => {
                            err = Some(e);
                            true
                        }
                    }
                }
                None => {
                    if phase == BarPhase::Normal {
                        p.bars_held += 1;
                        p.best_price = match p.direction {
                            Direction::Long => p.best_price.max(bid.high),
                            Direction::Short => p.best_price.min(ask.low),
                        };
                    }
                    true
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Tick mode, one tick of one symbol (SEMANTICS §4): pending triggers for orders placed before
    /// this tick, then exits for positions filled before it. TTL counts ticks.
    pub fn evaluate_tick(&mut self, symbol: SymbolId, tick: &Tick) -> Result<()> {
        self.check_symbol(symbol)?;
        check_tick(tick)?;
        self.roll_swaps(symbol, tick.ts)?;
        self.set_spread(symbol, tick.ask - tick.bid);
        self.apply_queued_stop_updates();
        let ts = tick.ts;
        let core = &mut self.core;
        let v = core.config.variant;
        // v1 has no expiry (SEMANTICS §2).
        let ttl = match v {
            Variant::V2 => core.config.pending_ttl_bars,
            Variant::V1Parity => None,
        };
        let mut err: Option<ExecError> = None;

        self.positions.retain_mut(|p| {
            if err.is_some()
                || p.symbol != symbol
                || p.status != PositionStatus::Pending
                || p.placement_time >= ts
            {
                return true;
            }
            let market = match p.direction {
                Direction::Long => tick.ask,
                Direction::Short => tick.bid,
            };
            // A held next_open order met in tick mode fills at the tick.
            core.step_pending(p, ts, ttl, market, &mut err, |p| {
                trigger::triggered_tick(
                    p.direction,
                    p.order_type,
                    p.entry_price,
                    tick.bid,
                    tick.ask,
                )
            })
        });
        if let Some(e) = err {
            return Err(e);
        }

        self.positions.retain_mut(|p| {
            if err.is_some()
                || p.symbol != symbol
                || p.status != PositionStatus::Open
                || p.entry_time >= ts
            {
                return true;
            }
            match exit::tick_exit(
                v,
                p.direction,
                p.stop_loss,
                p.take_profit,
                tick.bid,
                tick.ask,
            ) {
                Some((level, price)) => {
                    let reason = match level {
                        ExitLevel::StopLoss => {
                            exit::stop_reason(v, p.stop_loss, p.initial_stop_loss, p.stop_kind)
                        }
                        ExitLevel::TakeProfit => ExitReason::TakeProfit,
                    };
                    match core.finish(p, ts, price, reason, false, true) {
                        Ok(()) => false,
                        Err(e) => {
                            err = Some(e);
                            true
                        }
                    }
                }
                None => {
                    p.bars_held += 1;
                    p.best_price = match p.direction {
                        Direction::Long => p.best_price.max(tick.bid),
                        Direction::Short => p.best_price.min(tick.ask),
                    };
                    true
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn find(&self, id: PositionId) -> Option<usize> {
        // Ids increase in creation order, and `positions` keeps creation order.
        self.positions.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// Closes an open position at the bar close on its exit side (long: `bid_close`, short:
    /// `ask_close`) for `reason` (timeout, signal_exit, end_of_data). v2: adverse slippage and the
    /// exit fee; v1: the same with v1 slippage, except a `Timeout` pays no slippage and no fee.
    pub fn close_position(
        &mut self,
        id: PositionId,
        ts: TimestampUs,
        bid_close: f64,
        ask_close: f64,
        reason: ExitReason,
    ) -> Result<()> {
        let Some(i) = self.find(id) else {
            return Err(ExecError::invalid(
                "position_id",
                format!("no active position with id {id}"),
            ));
        };
        if self.positions[i].status != PositionStatus::Open {
            return Err(ExecError::invalid(
                "position_id",
                format!("position {id} is a pending order, not open"),
            ));
        }
        let p = &self.positions[i];
        let price = match p.direction {
            Direction::Long => bid_close,
            Direction::Short => ask_close,
        };
        if !price.is_finite() {
            let side = if p.direction == Direction::Long {
                "bid_close"
            } else {
                "ask_close"
            };
            return Err(ExecError::NonFinitePrice {
                field: format!("{side} at ts {ts}"),
            });
        }
        let charge = !(self.core.variant() == Variant::V1Parity && reason == ExitReason::Timeout);
        let symbol = p.symbol;
        self.roll_swaps(symbol, ts)?;
        self.set_spread(symbol, ask_close - bid_close);
        let p = &self.positions[i];
        self.core.finish(p, ts, price, reason, false, charge)?;
        self.positions.remove(i);
        Ok(())
    }

    /// Queues a stop change decided by trade management; applied by
    /// [`Self::apply_queued_stop_updates`] (also called at the start of every evaluate call).
    /// Non-finite stops are ignored (they cannot come from a finite price plus finite pips).
    pub fn queue_stop_update(&mut self, id: PositionId, new_sl: f64, kind: StopKind) {
        if new_sl.is_finite() {
            self.core.queued.push((id, new_sl, kind));
        }
    }

    /// Applies the queued stop changes in queue order (ids no longer active are skipped).
    pub fn apply_queued_stop_updates(&mut self) {
        if self.core.queued.is_empty() {
            return;
        }
        for k in 0..self.core.queued.len() {
            let (id, sl, kind) = self.core.queued[k];
            if let Some(i) = self.find(id) {
                let p = &mut self.positions[i];
                p.stop_loss = sl;
                p.stop_kind = kind;
            }
        }
        self.core.queued.clear();
    }

    /// Drops the pending orders (and held next_open orders) of `symbol`; counted as cancelled.
    pub fn cancel_pending(&mut self, symbol: SymbolId) -> usize {
        let before = self.positions.len();
        self.positions
            .retain(|p| !(p.symbol == symbol && p.status == PositionStatus::Pending));
        let n = before - self.positions.len();
        self.core.stats.orders_cancelled += n as u64;
        n
    }

    /// Pending orders and open positions, in creation order.
    pub fn active_positions(&self) -> &[Position] {
        &self.positions
    }

    /// Moves the closed records out (in closing order); allocates nothing when `out` has room.
    pub fn drain_closed_into(&mut self, out: &mut Vec<ClosedPosition>) {
        out.append(&mut self.core.closed);
    }

    pub fn stats(&self) -> &SimStats {
        &self.core.stats
    }

    /// Initial balance + realized gross PnL − fees + swaps booked so far (v1: gross = R * risk).
    pub fn balance(&self) -> f64 {
        self.core.balance
    }

    /// Unrealized PnL of the open positions of `symbol`, marked on the exit side (long at
    /// `bid_close`, short at `ask_close`). Always 0.0 in v1, whose equity is the realized balance
    /// only (SEMANTICS §7).
    pub fn unrealized_pnl(&self, symbol: SymbolId, bid_close: f64, ask_close: f64) -> f64 {
        if self.core.variant() == Variant::V1Parity {
            return 0.0;
        }
        self.positions
            .iter()
            .filter(|p| p.symbol == symbol && p.status == PositionStatus::Open)
            .map(|p| p.unrealized_pnl(bid_close, ask_close))
            .sum()
    }
}

/// The number of leading bars with `low > low_limit` and `high < high_limit` (a NaN fails
/// both). Eight bars per step without early exit (branch-free, vectorizable), then bar by bar
/// inside the first step that fails.
#[inline]
fn quiet_prefix(low: &[f64], high: &[f64], low_limit: f64, high_limit: f64) -> usize {
    const STEP: usize = 8;
    let n = low.len().min(high.len());
    let (low, high) = (&low[..n], &high[..n]);
    let quiet = |lo: f64, hi: f64| (lo > low_limit) & (hi < high_limit);
    let mut j = 0;
    for (lo, hi) in low.chunks_exact(STEP).zip(high.chunks_exact(STEP)) {
        if !lo.iter().zip(hi).fold(true, |q, (&l, &h)| q & quiet(l, h)) {
            break;
        }
        j += STEP;
    }
    while j < n && quiet(low[j], high[j]) {
        j += 1;
    }
    j
}

fn slip_has_callback(s: &SlippageSpec) -> bool {
    match s {
        SlippageSpec::Callback(_) => true,
        SlippageSpec::Sum(p) => p.iter().any(slip_has_callback),
        _ => false,
    }
}

#[cfg(test)]
#[path = "simulator_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "simulator_quiet_tests.rs"]
mod quiet_tests;
