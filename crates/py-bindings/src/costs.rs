//! Cost models at the boundary: `PythonCallable` callbacks (formula checks: `data::check_formula`).
//!
//! A Python callable becomes an `omega_exec_core::CostCallback` that takes the GIL for every
//! call. Batches that use one therefore run on a single thread (see `runs::run_many`): they
//! serialize on the GIL anyway, and one thread keeps the order of calls deterministic.

use std::sync::Arc;

use omega_exec_core::codes;
use omega_exec_core::costs::{CostCallback, CostInputs};
use omega_loop::costs::CostCallbacks;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::coded;

/// What a `PythonCallable` receives: the order's fields (the formula variables) and `ts`.
#[pyclass(
    frozen,
    get_all,
    skip_from_py_object,
    name = "CostInputs",
    module = "omega_engine._core"
)]
#[derive(Clone, Copy)]
pub struct PyCostInputs {
    pub lots: f64,
    pub price: f64,
    pub notional: f64,
    pub contract_size: f64,
    pub pip: f64,
    pub side: f64,
    pub direction: f64,
    pub is_entry: f64,
    pub hour: f64,
    pub minute: f64,
    pub weekday: f64,
    pub atr: f64,
    pub spread: f64,
    pub u: f64,
    pub ts: i64,
}

impl From<&CostInputs> for PyCostInputs {
    fn from(i: &CostInputs) -> Self {
        PyCostInputs {
            lots: i.lots,
            price: i.price,
            notional: i.notional,
            contract_size: i.contract_size,
            pip: i.pip,
            side: i.side,
            direction: i.direction,
            is_entry: i.is_entry,
            hour: i.hour,
            minute: i.minute,
            weekday: i.weekday,
            atr: i.atr,
            spread: i.spread,
            u: i.u,
            ts: i.ts,
        }
    }
}

#[pymethods]
impl PyCostInputs {
    fn __repr__(&self) -> String {
        format!(
            "CostInputs(lots={}, price={}, notional={}, contract_size={}, pip={}, side={}, \
             direction={}, is_entry={}, hour={}, minute={}, weekday={}, atr={}, spread={}, u={}, \
             ts={})",
            self.lots,
            self.price,
            self.notional,
            self.contract_size,
            self.pip,
            self.side,
            self.direction,
            self.is_entry,
            self.hour,
            self.minute,
            self.weekday,
            self.atr,
            self.spread,
            self.u,
            self.ts
        )
    }
}

/// Wraps the `{name: callable}` mapping into callbacks that take the GIL per call. A Python
/// exception becomes the callback's error message (`TypeName: message`), reported as 4001.
pub fn callbacks(table: &Bound<'_, PyDict>) -> PyResult<Arc<CostCallbacks>> {
    let mut out = CostCallbacks::new();
    for (k, v) in table.iter() {
        let name: String = k.extract()?;
        if !v.is_callable() {
            return Err(coded(
                codes::INVALID_PARAMETER,
                format!("cost_callbacks[{name:?}]: not callable"),
            ));
        }
        let func: Py<PyAny> = v.unbind();
        let cb = CostCallback::new(name.clone(), move |inputs: &CostInputs| {
            Python::attach(|py| -> PyResult<f64> {
                let arg = Py::new(py, PyCostInputs::from(inputs))?;
                func.call1(py, (arg,))?.extract::<f64>(py)
            })
            .map_err(|e| e.to_string())
        });
        out.insert(name, cb);
    }
    Ok(Arc::new(out))
}
