//! # omega-loop — the bar loop of omega_engine
//!
//! Runs one config on one symbol's data from first bar to last with no Python involved, and fans
//! many configs out with rayon. Rules: SEMANTICS.md §7–9; contracts: DESIGN.md §3–5, §7.
