//! # omega-loop — the bar loop of omega_engine
//!
//! Runs one config on one symbol's data from first bar to last with no Python involved, and fans
//! many configs out with rayon. Rules: SEMANTICS.md §7–9; contracts: DESIGN.md §3–5, §7.
pub mod metrics;
pub mod results;
pub mod runner;

pub use metrics::{Metrics, MetricsAccumulator};
pub use results::{equity_schema, schemas, summary_schema, trades_schema};
pub use runner::{run_many, run_one, BatchResult, Include, RunManyOptions};

pub mod config;
pub mod data;
pub mod error;
pub mod signals;

pub use config::{parse_config, RunConfig};
pub use data::{bars_schema, ticks_schema, Bars, DataSet, Ticks};
pub use error::LoopError;
pub use signals::SignalTable;
pub mod engine;
pub mod indicators;
pub mod strategies;
pub mod synthetic;

pub use data::BarView;
pub use engine::{run_config, run_config_recording, EquitySeries, RunOutput, RunStats};
pub use signals::SignalRow;
pub use strategies::{Strategy, StrategySignal};
pub use synthetic::{synthetic_bars, try_synthetic_bars};
pub mod costs;
