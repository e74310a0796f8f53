//! Rust errors → `omega_engine._core.OmegaCoreError` (message `[NNNN] NAME: ...`, `.code`).
//!
//! Every entry point of the module runs its Rust work inside [`guard`], which turns a panic into
//! error 5005 instead of aborting the interpreter. The Python package maps `OmegaCoreError` onto its
//! exception hierarchy (`omega_engine.errors`) by `code`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use omega_exec_core::codes::{self, ErrorCode};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    omega_engine._core,
    OmegaCoreError,
    PyException,
    "Raised by the extension for every Rust error; `code` is the numeric error code."
);

/// Builds the Python exception for a code and a full message (which already starts with `[NNNN]`).
pub fn core_error(code: u16, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let err = OmegaCoreError::new_err(message.clone());
        // Setting an attribute on a fresh exception instance cannot fail short of memory
        // exhaustion; if it does, the message still carries the code.
        let _ = err.value(py).setattr("code", code);
        err
    })
}

/// An error formatted from the table entry: `[NNNN] NAME: detail`.
pub fn coded(code: ErrorCode, detail: impl std::fmt::Display) -> PyErr {
    core_error(
        code.code,
        format!("[{}] {}: {detail}", code.code, code.name),
    )
}

/// Anything that knows its code and renders `[NNNN] NAME: ...`.
pub trait CodedError: std::fmt::Display {
    fn error_code(&self) -> ErrorCode;
}

impl CodedError for omega_exec_core::ExecError {
    fn error_code(&self) -> ErrorCode {
        self.code()
    }
}

impl CodedError for omega_loop::LoopError {
    fn error_code(&self) -> ErrorCode {
        self.code()
    }
}

/// Converts a crate error into the Python exception.
pub fn to_py<E: CodedError>(e: E) -> PyErr {
    core_error(e.error_code().code, e.to_string())
}

/// Extracts a readable message from a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `f`, turning a Rust panic into error 5005 (FFI_PANIC_CAUGHT) naming `what`.
pub fn guard<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(coded(
            codes::FFI_PANIC_CAUGHT,
            format!("panic in {what}: {}", panic_message(payload.as_ref())),
        )),
    }
}

/// The error-code table as `(code, NAME, description)` tuples, ascending.
#[pyfunction]
pub fn error_codes() -> Vec<(u16, &'static str, &'static str)> {
    codes::ALL
        .iter()
        .map(|c| (c.code, c.name, c.description))
        .collect()
}
