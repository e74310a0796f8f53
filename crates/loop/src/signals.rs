//! Precomputed signal tables (DESIGN §3): strategies computed outside the engine hand their
//! signals over as an Arrow RecordBatch; the `signals` strategy executes them.

use std::sync::{Arc, OnceLock};

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use omega_exec_core::{Direction, OrderType};

use crate::error::{LoopError, Result};

/// A decoded signals table. Numeric columns are plain vectors (decoded once); the optional string
/// columns stay Arrow arrays and are looked up by row only when results are built.
#[derive(Clone, Debug)]
pub struct SignalTable {
    pub(crate) ts: Vec<i64>,
    /// Index into `symbols` per row.
    pub(crate) symbol_idx: Vec<u32>,
    pub(crate) symbols: Vec<String>,
    pub(crate) direction: Vec<Direction>,
    pub(crate) order_type: Vec<OrderType>,
    /// NaN where the entry price is absent (market at the signal bar's close).
    pub(crate) entry_price: Vec<f64>,
    pub(crate) stop_loss: Vec<f64>,
    pub(crate) take_profit: Vec<f64>,
    pub(crate) reason: Option<StringArray>,
    pub(crate) scenario: Option<StringArray>,
    pub(crate) tags: Option<StringArray>,
}

impl SignalTable {
    /// Schema of a signals table.
    pub fn schema() -> SchemaRef {
        static S: OnceLock<SchemaRef> = OnceLock::new();
        S.get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    false,
                ),
                Field::new("symbol", DataType::Utf8, false),
                Field::new("direction", DataType::Utf8, false),
                Field::new("order_type", DataType::Utf8, true),
                Field::new("entry_price", DataType::Float64, true),
                Field::new("stop_loss", DataType::Float64, false),
                Field::new("take_profit", DataType::Float64, false),
                Field::new("reason", DataType::Utf8, true),
                Field::new("scenario", DataType::Utf8, true),
                Field::new("tags", DataType::Utf8, true),
            ]))
        })
        .clone()
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    fn string_at(col: &Option<StringArray>, row: u32) -> Option<&str> {
        let c = col.as_ref()?;
        let r = row as usize;
        if r >= c.len() || c.is_null(r) {
            None
        } else {
            Some(c.value(r))
        }
    }

    pub fn reason(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.reason, row)
    }

    pub fn scenario(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.scenario, row)
    }

    pub fn tags(&self, row: u32) -> Option<&str> {
        Self::string_at(&self.tags, row)
    }

    /// Decodes a RecordBatch (see [`SignalTable::schema`]).
    pub fn from_record_batch(_batch: &RecordBatch) -> Result<Self> {
        Err(LoopError::Internal {
            message: "SignalTable::from_record_batch: not implemented yet".into(),
        })
    }
}
