//! `run_many`: parse the configs, run the batch with the GIL released, poll for Ctrl-C.
//!
//! The rayon batch runs on a separate thread. The calling thread gives up the GIL and wakes
//! every [`POLL`] to (a) call `check_signals()` — on Ctrl-C it sets the batch's cancel flag, waits
//! for the batch to stop (the loop checks the flag between configs and inside long runs) and
//! raises KeyboardInterrupt with nothing returned — and (b) report progress to the optional
//! Python callback. Python is only ever called from the calling thread, never from rayon workers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use omega_exec_core::codes;
use omega_loop::runner::{self, BatchResult, RunManyOptions};
use omega_loop::{DataSet, LoopError, RunConfig, SignalTable};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{record_batch, to_pyarrow_table};
use crate::data::{PyBars, PyTicks};
use crate::errors::{coded, guard, panic_message, to_py};

/// How often the waiting thread checks for signals and progress.
const POLL: Duration = Duration::from_millis(50);

type Tables<'py> = (
    Bound<'py, PyAny>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// Parses every config; the first invalid one raises, naming its index.
fn parse_configs(configs: &[String]) -> PyResult<Vec<RunConfig>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            omega_loop::parse_config(c).map_err(|e| {
                let msg = e.to_string();
                let detail = match msg.find(": ") {
                    Some(k) if msg.starts_with('[') => &msg[k + 2..],
                    _ => msg.as_str(),
                };
                coded(e.code(), format!("configs[{i}]: {detail}"))
            })
        })
        .collect()
}

fn data_set(
    bars: &Bound<'_, PyDict>,
    ticks: Option<&Bound<'_, PyDict>>,
    signals: Option<&Bound<'_, PyDict>>,
) -> PyResult<DataSet> {
    let mut ds = DataSet::new();
    for (k, v) in bars.iter() {
        let sym: String = k.extract()?;
        let b = v.cast::<PyBars>().map_err(|_| {
            coded(
                codes::INVALID_PARAMETER,
                format!("bars[{sym:?}]: expected _core.Bars"),
            )
        })?;
        let inner = Arc::clone(&b.get().inner);
        if inner.symbol() != sym {
            return Err(coded(
                codes::INVALID_PARAMETER,
                format!("bars[{sym:?}]: holds the bars of {:?}", inner.symbol()),
            ));
        }
        ds.bars.insert(sym, inner);
    }
    if let Some(t) = ticks {
        for (k, v) in t.iter() {
            let sym: String = k.extract()?;
            let tk = v.cast::<PyTicks>().map_err(|_| {
                coded(
                    codes::INVALID_PARAMETER,
                    format!("ticks[{sym:?}]: expected _core.Ticks"),
                )
            })?;
            ds.ticks.insert(sym, Arc::clone(&tk.get().inner));
        }
    }
    if let Some(s) = signals {
        for (k, v) in s.iter() {
            let name: String = k.extract()?;
            let batch = record_batch(&v, &format!("signals[{name:?}]"))?;
            let table = SignalTable::from_record_batch(&batch).map_err(|e| {
                let msg = e.to_string();
                coded(e.code(), format!("{msg} (signals table {name:?})"))
            })?;
            ds.signals.insert(name, Arc::new(table));
        }
    }
    Ok(ds)
}

/// Runs every config (GIL released, rayon pool of `threads`); returns (summary, trades,
/// equity) in config order.
#[pyfunction]
#[pyo3(signature = (configs_json, bars, *, ticks=None, signals=None, threads=None, include_trades=true, include_equity=false, progress=None, memory_budget_bytes=None, cost_callbacks=None, _panic_on_config=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_many<'py>(
    py: Python<'py>,
    configs_json: Vec<String>,
    bars: &Bound<'py, PyDict>,
    ticks: Option<&Bound<'py, PyDict>>,
    signals: Option<&Bound<'py, PyDict>>,
    threads: Option<usize>,
    include_trades: bool,
    include_equity: bool,
    progress: Option<Bound<'py, PyAny>>,
    memory_budget_bytes: Option<u64>,
    cost_callbacks: Option<&Bound<'py, PyDict>>,
    _panic_on_config: Option<usize>,
) -> PyResult<Tables<'py>> {
    guard("run_many()", || {
        if threads == Some(0) {
            return Err(coded(codes::INVALID_PARAMETER, "threads: must be >= 1"));
        }
        let data = data_set(bars, ticks, signals)?;
        let mut cfgs = py.detach(|| parse_configs(&configs_json))?;
        // PythonCallable cost models: every config sees the table; a batch that has one runs on
        // a single thread, since each call takes the GIL anyway (crate::costs).
        let serialize = match cost_callbacks {
            Some(table) if !table.is_empty() => {
                let table = crate::costs::callbacks(table)?;
                for c in &mut cfgs {
                    c.cost_callbacks = Some(Arc::clone(&table));
                }
                true
            }
            _ => false,
        };
        let total = cfgs.len();
        let cancel = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicUsize::new(0));
        let opts = RunManyOptions {
            threads: if serialize { 1 } else { threads.unwrap_or(0) },
            include_trades,
            include_equity,
            cancel: Arc::clone(&cancel),
            progress: Arc::clone(&counter),
            memory_budget_bytes: memory_budget_bytes.unwrap_or(runner::DEFAULT_MEMORY_BUDGET_BYTES),
            panic_on_config: _panic_on_config,
        };
        let result = drive(py, &cfgs, &data, &opts, progress.as_ref(), total)?;
        let summary = to_pyarrow_table(py, result.summary)?;
        let trades = result.trades.map(|t| to_pyarrow_table(py, t)).transpose()?;
        let equity = result.equity.map(|t| to_pyarrow_table(py, t)).transpose()?;
        Ok((summary, trades, equity))
    })
}

/// Runs the batch on a worker thread while this thread polls for Ctrl-C and progress.
fn drive(
    py: Python<'_>,
    cfgs: &[RunConfig],
    data: &DataSet,
    opts: &RunManyOptions,
    progress: Option<&Bound<'_, PyAny>>,
    total: usize,
) -> PyResult<BatchResult> {
    // Python objects are only touched on this (the calling) thread, with the GIL held.
    let callback: Option<Py<PyAny>> = progress.map(|b| b.clone().unbind());
    let mut reported = usize::MAX;
    let mut report = |py: Python<'_>, done: usize| -> PyResult<()> {
        if let Some(cb) = &callback {
            if done != reported {
                reported = done;
                cb.bind(py).call1((done, total))?;
            }
        }
        Ok(())
    };
    report(py, 0)?;
    // Any Python error seen while polling (KeyboardInterrupt, a failing progress callback).
    let mut interrupt: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel();
            s.spawn(move || {
                // The runner isolates panics per config; this catches anything outside them.
                let r = catch_unwind(AssertUnwindSafe(|| runner::run_many(cfgs, data, opts)));
                let _ = tx.send(r);
            });
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(r) => return r,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Ok(Err(LoopError::Internal {
                            message: "the batch thread ended without a result".into(),
                        }))
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                if interrupt.is_some() {
                    continue; // cancelled: wait for the batch to stop
                }
                let polled = Python::attach(|py| -> PyResult<()> {
                    py.check_signals()?;
                    report(py, opts.progress.load(Ordering::Relaxed))
                });
                if let Err(e) = polled {
                    opts.cancel.store(true, Ordering::Relaxed);
                    interrupt = Some(e);
                }
            }
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    let result = match outcome {
        Ok(r) => r.map_err(to_py)?,
        Err(payload) => {
            return Err(coded(
                codes::FFI_PANIC_CAUGHT,
                format!("panic in the batch: {}", panic_message(payload.as_ref())),
            ))
        }
    };
    report(py, total)?;
    Ok(result)
}
