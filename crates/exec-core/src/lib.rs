//! # omega-exec-core — the execution simulator of omega_engine
//!
//! A deterministic state machine over plain structs: signals in, positions out. It implements
//! SEMANTICS.md §1–6 (and the per-trade accounting of §7) in both execution variants (`v2`,
//! `v1_parity`). No Arrow, no Python, no threads: the bar loop (`omega-loop`) and the Python
//! bindings drive it.
//!
//! ## Public API (the contract the loop and the bindings build on)
//!
//! ```text
//! ExecutionSimulator::new(config: SimulatorConfig, specs: Vec<SymbolSpec>) -> Result<Self>
//!     // validates config and specs (1001 naming the field, 1002 unknown override symbol,
//!     // 1006 a currency route no configured rate provides)
//! ExecutionSimulator::with_costs(config, specs, costs: CostModels) -> Result<Self>
//!     // cost model trees (costs module): fee trees (commission, tiered, formula, callback, sum)
//!     // and slippage trees (fixed/random, volatility, formula, callback, sum) per symbol with a
//!     // default, replacing the classic config fields; swaps booked per rollover
//! sim.set_market_context(symbol, atr: f64, spread: Option<f64>)  // what cost models read
//! sim.needs_atr() -> bool      // some model reads the ATR: call set_market_context each bar
//! sim.has_callback() -> bool   // some model is a callback (Python: serializes on the GIL)
//! sim.config() -> &SimulatorConfig
//! sim.symbol_id(name: &str) -> Result<SymbolId>            // 1002 for unknown names
//! sim.spec(id: SymbolId) -> &SymbolSpec                     // sim.specs() -> &[SymbolSpec]
//! sim.set_equity(equity: f64)                               // equity used by RiskMode::Percent
//! sim.reserve(n: usize)                                     // pre-grow internal vectors
//! sim.reset()                  // back to the just-constructed state, keeping allocations
//! sim.process_signal(&Signal, bar: &BarQuote) -> Result<SignalOutcome>   // candle mode §1–2;
//!     // bar.bid.ts must equal signal.ts; with MarketFill::NextOpen market orders are held
//!     // (Pending) and filled by the next evaluate_bar of the symbol
//! sim.process_signal_tick(&Signal, &Tick) -> Result<SignalOutcome>       // tick mode §4
//! sim.evaluate_bar(symbol: SymbolId, bid: &Candle, ask: Option<&Candle>) -> Result<()>
//!     // applies queued stop updates, then next_open fills and pending triggers (TTL), then
//!     // exits, in creation order; v2 needs ask (2007), v1 falls back to bid
//! sim.evaluate_tick(symbol: SymbolId, &Tick) -> Result<()>  // §4
//! sim.close_position(id, ts, bid_close, ask_close, reason) -> Result<()>
//!     // market close on the exit side (timeout/signal_exit/end_of_data)
//! sim.queue_stop_update(id, new_sl, kind: StopKind)         // applied at the next evaluate call
//! sim.apply_queued_stop_updates()                           // or explicitly (SEMANTICS §8 step 1)
//! sim.cancel_pending(symbol) -> usize                       // pending orders dropped (counted)
//! sim.active_positions() -> &[Position]                     // pending and open, creation order
//! sim.drain_closed_into(out: &mut Vec<ClosedPosition>)      // no allocation when out has room
//! sim.stats() -> &SimStats     // rejected[RejectReason::index()], orders_expired,
//!                              // orders_cancelled, fees_total, swap_total, signals_processed
//! sim.balance() -> f64         // initial + realized gross PnL − fees + swaps booked so far
//! sim.unrealized_pnl(symbol, bid_close, ask_close) -> f64   // v2 mark on the exit side; v1: 0.0
//! ```
//!
//! Building blocks are public too, each in its module: [`signal`] (validation, rejections),
//! [`trigger`] (pending triggers and fills), [`exit`] (SL/TP rules, reasons), [`sizing`]
//! (quantization, risk), [`fx`] (rates, as-of series, routes), [`costs`] (slippage, commission
//! schemas, legacy fee, tiered/formula/callback fee models, volatility slippage, swaps, the
//! [`FeeModel`] enum they compile into; formulas in [`costs::formula`]), [`rng`] (the documented
//! per-event ChaCha8 seeding), [`position`] (lifecycle and accounting).
//!
//! No call allocates per signal or per bar once the internal vectors have grown to their
//! working size.

pub mod codes;
pub mod costs;
pub mod error;
pub mod exit;
pub mod fx;
pub mod position;
pub mod rng;
pub mod signal;
pub mod simulator;
pub mod sizing;
pub mod trigger;
pub mod types;

pub use costs::{
    CallbackFee, Commission, CommissionSchema, CommissionSet, CostCallback, CostInputs, CostModels,
    FeeContext, FeeLeg, FeeModel, FeeSide, FeeSpec, FeeTerms, Formula, FormulaError, FormulaFee,
    LegacyFee, PerSymbol, RateKind, SlippageModel, SlippageSpec, SwapModel, SwapUnit, Tier,
    TierBasis, Tiered, VolatilitySlippage, VolatilitySource, Weekday,
};
pub use error::{ExecError, Result};
pub use fx::{FxPath, FxRates, FxSeries, FxTable};
pub use simulator::{
    BarQuote, ExecutionSimulator, MarketFill, SignalOutcome, SimStats, SimulatorConfig,
};
pub use sizing::{MinLotPolicy, RiskMode};
pub use types::*;
