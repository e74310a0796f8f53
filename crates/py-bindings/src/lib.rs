//! omega_engine._core — conversion, GIL release and error mapping only; no trading logic.
//!
//! Modules: `errors` (Rust errors → `OmegaCoreError`, panic guard), `convert` (every Arrow/Python
//! conversion), `data` (Bars/Ticks), `runs` (run_many), `simulator` (ExecutionSimulator).
use pyo3::prelude::*;

mod convert;
mod costs;
mod data;
mod errors;
mod runs;
mod simulator;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "OmegaCoreError",
        m.py().get_type::<errors::OmegaCoreError>(),
    )?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    m.add_class::<data::PyBars>()?;
    m.add_class::<data::PyTicks>()?;
    m.add_function(wrap_pyfunction!(data::synthetic_bars, m)?)?;
    m.add_function(wrap_pyfunction!(data::schemas, m)?)?;
    m.add_function(wrap_pyfunction!(data::column_docs, m)?)?;
    m.add_function(wrap_pyfunction!(data::check_formula, m)?)?;
    m.add_function(wrap_pyfunction!(data::canonical_config, m)?)?;
    m.add_class::<simulator::PySimulator>()?;
    m.add_class::<costs::PyCostInputs>()?;
    m.add_function(wrap_pyfunction!(runs::run_many, m)?)?;
    Ok(())
}
