//! # omega-exec-core — the execution simulator of omega_engine
//!
//! A deterministic state machine over plain structs: signals in, positions out. It implements
//! SEMANTICS.md §1–6 in both execution variants (`v2`, `v1_parity`). No Arrow, no Python, no
//! threads: the bar loop (`omega-loop`) and the Python bindings drive it.
//!
//! ## Public API (the contract the loop and the bindings build on)
//!
//! ```text
//! ExecutionSimulator::new(config: SimulatorConfig, specs: Vec<SymbolSpec>) -> Result<Self>
//! sim.symbol_id(name: &str) -> Result<SymbolId>            // 1002 for unknown names
//! sim.spec(id: SymbolId) -> &SymbolSpec
//! sim.set_equity(equity: f64)                               // equity used by risk_percent sizing
//! sim.process_signal(&Signal, bar: &BarQuote) -> Result<SignalOutcome>   // candle mode
//! sim.process_signal_tick(&Signal, &Tick) -> Result<SignalOutcome>       // tick mode
//! sim.evaluate_bar(symbol: SymbolId, bid: &Candle, ask: Option<&Candle>) -> Result<()>
//!     // pending triggers (§2) then exits (§3) for that symbol's positions, in creation order
//! sim.evaluate_tick(symbol: SymbolId, &Tick) -> Result<()>  // §4
//! sim.fill_next_open(symbol, bid: &Candle, ask: &Candle)    // market_fill = next_open (part of evaluate_bar)
//! sim.close_position(id, ts, bid_close, ask_close, reason) -> Result<()>  // timeout/signal_exit/end_of_data
//! sim.queue_stop_update(id, new_sl, kind: StopKind)         // applied at the start of the next evaluate_bar
//! sim.apply_queued_stop_updates()
//! sim.cancel_pending(symbol) -> usize                      // pending orders dropped (end of data)
//! sim.active_positions() -> &[Position]                     // pending and open, creation order
//! sim.drain_closed() -> impl Iterator<Item = ClosedPosition> (or swap into a caller Vec)
//! sim.stats() -> &SimStats     // rejections per RejectReason, orders_expired, fees booked
//! sim.balance() -> f64         // initial balance + realized net PnL (fees booked when incurred)
//! ```
//!
//! No call allocates per signal or per bar once the internal vectors have grown to their
//! working size.

pub mod codes;
pub mod error;
pub mod types;

pub use error::{ExecError, Result};
pub use types::*;
