//! Every conversion between Python objects and Rust/Arrow values lives here.
//!
//! Arrow crosses the boundary through the Arrow PyCapsule interface (`__arrow_c_stream__` /
//! `__arrow_c_array__`), so pyarrow, polars (and pandas converted by pyarrow) tables all import
//! without copying: the imported buffers stay owned by the exporter and are released when the
//! last Rust reference drops. Outputs are `pyarrow.Table`s built from the Rust `RecordBatch`es,
//! again without copying.

use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::ScalarBuffer;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table, ToPyArrow};
use arrow_schema::{ArrowError, SchemaRef};
use omega_exec_core::codes;
use pyo3::prelude::*;

use crate::errors::coded;

/// One `RecordBatch` from a table-like Python object (pyarrow Table/RecordBatch, polars
/// DataFrame, anything with the Arrow PyCapsule interface). Several chunks are concatenated
/// (the only case that copies); one chunk is taken as is.
pub fn record_batch(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<RecordBatch> {
    let py = obj.py();
    // A RecordBatch (or any __arrow_c_array__ struct export) imports directly.
    if obj.hasattr("__arrow_c_array__")? && !obj.hasattr("__arrow_c_stream__")? {
        return RecordBatch::from_pyarrow_bound(obj).map_err(|e| ffi_error(py, what, &e));
    }
    if !obj.hasattr("__arrow_c_stream__")? {
        return Err(coded(
            codes::FFI_SCHEMA_MISMATCH,
            format!(
                "{what}: expected an Arrow table (pyarrow, polars, or an object with \
                 __arrow_c_stream__), got {}",
                obj.get_type().name()?
            ),
        ));
    }
    let table = Table::from_pyarrow_bound(obj).map_err(|e| ffi_error(py, what, &e))?;
    let (batches, schema) = table.into_inner();
    concat_batches(schema, batches, what)
}

fn concat_batches(
    schema: SchemaRef,
    mut batches: Vec<RecordBatch>,
    what: &str,
) -> PyResult<RecordBatch> {
    batches.retain(|b| b.num_rows() > 0);
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.remove(0)),
        _ => concat(&schema, &batches).map_err(|e| {
            coded(
                codes::FFI_SCHEMA_MISMATCH,
                format!("{what}: cannot combine the chunks: {e}"),
            )
        }),
    }
}

/// Column-wise concatenation of batches with one schema.
fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for i in 0..schema.fields().len() {
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
        columns.push(arrow_select::concat::concat(&arrays)?);
    }
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn ffi_error(py: Python<'_>, what: &str, e: &PyErr) -> PyErr {
    coded(
        codes::FFI_SCHEMA_MISMATCH,
        format!("{what}: the Arrow import failed: {}", e.value(py)),
    )
}

/// A `pyarrow.Table` from one batch (no copy).
pub fn to_pyarrow_table<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let schema = batch.schema();
    Table::try_new(vec![batch], schema)
        .map_err(|e| coded(codes::INTERNAL_ERROR, format!("result table: {e}")))?
        .into_pyarrow(py)
}

/// A `pyarrow.Schema`.
pub fn to_pyarrow_schema<'py>(py: Python<'py>, schema: &SchemaRef) -> PyResult<Bound<'py, PyAny>> {
    schema.as_ref().to_pyarrow(py)
}

fn column<'a>(batch: &'a RecordBatch, name: &str, what: &str) -> PyResult<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        coded(
            codes::SCHEMA_VIOLATION,
            format!("{what}.{name}: column is missing"),
        )
    })
}

/// A non-null float64 column (zero-copy); a null is a non-finite price (2001) naming the row.
pub fn f64_column(batch: &RecordBatch, name: &str, what: &str) -> PyResult<ScalarBuffer<f64>> {
    let col = column(batch, name, what)?;
    let a = col.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
        coded(
            codes::SCHEMA_VIOLATION,
            format!("{what}.{name}: expected float64, got {}", col.data_type()),
        )
    })?;
    if let Some(row) = first_null(a) {
        return Err(coded(
            codes::NON_FINITE_PRICE,
            format!("{what}.{name} at row {row}: value is null"),
        ));
    }
    Ok(a.values().clone())
}

/// A non-null timestamp column: timestamp[us] (any zone) or int64 µs (zero-copy).
pub fn timestamp_column(
    batch: &RecordBatch,
    name: &str,
    what: &str,
) -> PyResult<ScalarBuffer<i64>> {
    let col = column(batch, name, what)?;
    if let Some(row) = first_null(col.as_ref()) {
        return Err(coded(
            codes::SCHEMA_VIOLATION,
            format!("{what}.{name} at row {row}: timestamps must not be null"),
        ));
    }
    if let Some(a) = col.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        return Ok(a.values().clone());
    }
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return Ok(a.values().clone());
    }
    Err(coded(
        codes::SCHEMA_VIOLATION,
        format!(
            "{what}.{name}: expected timestamp[us, UTC] or int64 microseconds, got {}",
            col.data_type()
        ),
    ))
}

/// A utf8 column (nulls allowed; the caller decides).
pub fn utf8_column(batch: &RecordBatch, name: &str, what: &str) -> PyResult<StringArray> {
    let col = column(batch, name, what)?;
    match col.as_any().downcast_ref::<StringArray>() {
        Some(a) => Ok(a.clone()),
        None => Err(coded(
            codes::SCHEMA_VIOLATION,
            format!("{what}.{name}: expected utf8, got {}", col.data_type()),
        )),
    }
}

fn first_null(a: &dyn Array) -> Option<usize> {
    let nulls = a.logical_nulls()?;
    if nulls.null_count() == 0 {
        return None;
    }
    (0..a.len()).find(|&i| nulls.is_null(i))
}
