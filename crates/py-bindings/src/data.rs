//! `Bars` and `Ticks` pyclasses over `omega_loop::data`, the synthetic generator, the schema
//! registry and config canonicalization.

use std::sync::Arc;

use arrow_array::{Array, TimestampMicrosecondArray};
use arrow_pyarrow::ToPyArrow;
use omega_exec_core::codes;
use omega_loop::{Bars, Ticks};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{record_batch, to_pyarrow_schema, to_pyarrow_table};
use crate::errors::{coded, guard, to_py};

/// Validated bid/ask bars of one symbol (zero-copy from Arrow).
#[pyclass(name = "Bars", module = "omega_engine._core", frozen)]
pub struct PyBars {
    pub inner: Arc<Bars>,
}

#[pymethods]
impl PyBars {
    #[new]
    #[pyo3(signature = (symbol, table, *, spread_pips=None, pip_size=None))]
    fn new(
        py: Python<'_>,
        symbol: String,
        table: &Bound<'_, PyAny>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> PyResult<Self> {
        guard("Bars()", || {
            let batch = record_batch(table, "bars")?;
            let bars = py
                .detach(|| Bars::from_record_batch(symbol, &batch, spread_pips, pip_size))
                .map_err(to_py)?;
            Ok(PyBars {
                inner: Arc::new(bars),
            })
        })
    }

    /// Bars from a bid table and an optional ask table, each with timestamp/open/high/low/close
    /// (and optionally volume, taken from the bid table); identical timestamps required (2006).
    #[staticmethod]
    #[pyo3(signature = (symbol, bid, ask=None, *, spread_pips=None, pip_size=None))]
    fn from_sides(
        py: Python<'_>,
        symbol: String,
        bid: &Bound<'_, PyAny>,
        ask: Option<&Bound<'_, PyAny>>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> PyResult<Self> {
        guard("Bars.from_sides()", || {
            let bid = record_batch(bid, "bid")?;
            let ask = ask.map(|a| record_batch(a, "ask")).transpose()?;
            let bars = py
                .detach(|| {
                    Bars::from_side_batches(symbol, &bid, ask.as_ref(), spread_pips, pip_size)
                })
                .map_err(to_py)?;
            Ok(PyBars {
                inner: Arc::new(bars),
            })
        })
    }

    #[getter]
    fn symbol(&self) -> &str {
        self.inner.symbol()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The bars in the canonical schema, sharing memory with the engine's columns.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("Bars.to_arrow()", || {
            to_pyarrow_table(py, self.inner.to_arrow())
        })
    }

    /// Rows `[start, end)` (zero-copy).
    fn slice(&self, start: usize, end: usize) -> PyResult<PyBars> {
        guard("Bars.slice()", || {
            let n = self.inner.len();
            if start > end || end > n {
                return Err(coded(
                    codes::INVALID_PARAMETER,
                    format!("slice: [{start}, {end}) is not a range within 0..{n}"),
                ));
            }
            Ok(PyBars {
                inner: Arc::new(self.inner.slice(start, end)),
            })
        })
    }

    /// The bar open times as a `timestamp[us, UTC]` array (no copy).
    fn timestamps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("Bars.timestamps()", || {
            let a = TimestampMicrosecondArray::new(self.inner.ts_buffer().clone(), None)
                .with_timezone("UTC");
            a.to_data().to_pyarrow(py)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "_core.Bars({:?}, {} rows)",
            self.inner.symbol(),
            self.inner.len()
        )
    }
}

/// Validated ticks of one symbol.
#[pyclass(name = "Ticks", module = "omega_engine._core", frozen)]
pub struct PyTicks {
    pub inner: Arc<Ticks>,
}

#[pymethods]
impl PyTicks {
    #[new]
    #[pyo3(signature = (symbol, table, *, spread_pips=None, pip_size=None))]
    fn new(
        py: Python<'_>,
        symbol: String,
        table: &Bound<'_, PyAny>,
        spread_pips: Option<f64>,
        pip_size: Option<f64>,
    ) -> PyResult<Self> {
        guard("Ticks()", || {
            let batch = record_batch(table, "ticks")?;
            let ticks = py
                .detach(|| Ticks::from_record_batch(symbol, &batch, spread_pips, pip_size))
                .map_err(to_py)?;
            Ok(PyTicks {
                inner: Arc::new(ticks),
            })
        })
    }

    #[getter]
    fn symbol(&self) -> &str {
        self.inner.symbol()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard("Ticks.to_arrow()", || {
            to_pyarrow_table(py, self.inner.to_arrow())
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "_core.Ticks({:?}, {} rows)",
            self.inner.symbol(),
            self.inner.len()
        )
    }
}

/// A seeded synthetic bar series (volatility regimes, session spreads, bid/ask consistent).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn synthetic_bars(
    py: Python<'_>,
    symbol: String,
    n: usize,
    timeframe_us: i64,
    seed: u64,
    start_us: i64,
    pip_size: f64,
    start_price: f64,
) -> PyResult<PyBars> {
    guard("synthetic_bars()", || {
        let bars = py
            .detach(|| {
                omega_loop::synthetic::try_synthetic_bars(
                    &symbol,
                    n,
                    timeframe_us,
                    seed,
                    start_us,
                    pip_size,
                    start_price,
                )
            })
            .map_err(to_py)?;
        Ok(PyBars {
            inner: Arc::new(bars),
        })
    })
}

/// Every Arrow schema that crosses the boundary, by name.
#[pyfunction]
pub fn schemas(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    guard("schemas()", || {
        let d = PyDict::new(py);
        for (name, schema) in omega_loop::results::schemas() {
            d.set_item(name, to_pyarrow_schema(py, &schema)?)?;
        }
        for (name, schema) in crate::simulator::schemas() {
            d.set_item(name, to_pyarrow_schema(py, &schema)?)?;
        }
        Ok(d)
    })
}

/// Validates one config; returns (canonical JSON, config_id as 16 hex digits).
#[pyfunction]
pub fn canonical_config(config_json: &str) -> PyResult<(String, String)> {
    guard("canonical_config()", || {
        let cfg = omega_loop::parse_config(config_json).map_err(to_py)?;
        Ok((cfg.canonical_json(), cfg.config_id_hex()))
    })
}

/// `(table, column, documentation)` for every fixed column of the result tables.
#[pyfunction]
pub fn column_docs() -> Vec<(&'static str, &'static str, &'static str)> {
    omega_loop::results::column_docs()
}

/// Parses a cost formula; returns the variables it uses (1008 FORMULA_SYNTAX with the column).
#[pyfunction]
pub fn check_formula(expr: &str) -> PyResult<Vec<&'static str>> {
    use omega_exec_core::costs::formula::{Formula, VARIABLES};
    guard("check_formula()", || {
        let f = Formula::parse(expr).map_err(|e| to_py(e.into_exec("formula")))?;
        Ok(VARIABLES.iter().copied().filter(|v| f.uses(v)).collect())
    })
}
