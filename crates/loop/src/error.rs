//! The one error enum of omega-loop. Every variant maps to an entry of the shared code table
//! (`omega_exec_core::codes`) and its Display renders `[NNNN] NAME: ...` naming the field, column
//! or row that was bad, so the Python layer can show it unchanged.

use omega_exec_core::codes::{self, ErrorCode};
use omega_exec_core::ExecError;

/// Errors of the bar loop crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoopError {
    /// A parameter outside the config (e.g. a `spread_pips` argument, a signal row) is invalid.
    #[error("[{}] {}: {field}: {message}", codes::INVALID_PARAMETER.code, codes::INVALID_PARAMETER.name)]
    InvalidParameter { field: String, message: String },
    /// A symbol without data (or without a spec).
    #[error("[{}] {}: symbol {symbol:?}: {message}", codes::UNKNOWN_SYMBOL.code, codes::UNKNOWN_SYMBOL.name)]
    UnknownSymbol { symbol: String, message: String },
    /// A config value out of range or inconsistent; `path` is the dotted field path.
    #[error("[{}] {}: {path}: {message}", codes::INVALID_CONFIG.code, codes::INVALID_CONFIG.name)]
    InvalidConfig { path: String, message: String },
    /// A config field the engine does not know; `path` is its dotted path.
    #[error("[{}] {}: unknown field {path}{expected}", codes::UNKNOWN_CONFIG_FIELD.code, codes::UNKNOWN_CONFIG_FIELD.name)]
    UnknownConfigField {
        path: String,
        /// Either empty or `" (expected one of: a, b)"`.
        expected: String,
    },
    /// `strategy.name` is not a built-in strategy; `known` lists them.
    #[error("[{}] {}: strategy.name {name:?} is not a built-in strategy (known: {known})", codes::UNKNOWN_STRATEGY.code, codes::UNKNOWN_STRATEGY.name)]
    UnknownStrategy { name: String, known: String },
    /// Bad input data (2001..=2008): `code` is one of the 2xxx entries; `column` and `row` name
    /// the offending cell where there is one.
    #[error("[{}] {}: {}{message}", code.code, code.name, location(column, *row))]
    Data {
        code: ErrorCode,
        column: String,
        row: Option<usize>,
        message: String,
    },
    /// An Arrow table lacks a column or has a wrong type (3001).
    #[error("[{}] {}: column {column:?}: {message}", codes::SCHEMA_VIOLATION.code, codes::SCHEMA_VIOLATION.name)]
    SchemaViolation { column: String, message: String },
    /// An error of the execution simulator, keeping its own code.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The requested work would exceed the memory budget (1007).
    #[error("[{}] {}: {message}", codes::RESOURCE_LIMIT.code, codes::RESOURCE_LIMIT.name)]
    ResourceLimit { message: String },
    /// An internal invariant was violated (5001).
    #[error("[{}] {}: {message}", codes::INTERNAL_ERROR.code, codes::INTERNAL_ERROR.name)]
    Internal { message: String },
    /// The batch was cancelled (5002).
    #[error("[{}] {}: the run was cancelled", codes::CANCELLED.code, codes::CANCELLED.name)]
    Cancelled,
    /// A panic caught while running config `index` (5005).
    #[error("[{}] {}: config {index}: {message}", codes::FFI_PANIC_CAUGHT.code, codes::FFI_PANIC_CAUGHT.name)]
    Panic { index: usize, message: String },
}

fn location(column: &str, row: Option<usize>) -> String {
    match (column.is_empty(), row) {
        (true, None) => String::new(),
        (true, Some(r)) => format!("row {r}: "),
        (false, None) => format!("column {column}: "),
        (false, Some(r)) => format!("column {column} row {r}: "),
    }
}

impl LoopError {
    /// The table entry of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            LoopError::InvalidParameter { .. } => codes::INVALID_PARAMETER,
            LoopError::UnknownSymbol { .. } => codes::UNKNOWN_SYMBOL,
            LoopError::InvalidConfig { .. } => codes::INVALID_CONFIG,
            LoopError::UnknownConfigField { .. } => codes::UNKNOWN_CONFIG_FIELD,
            LoopError::UnknownStrategy { .. } => codes::UNKNOWN_STRATEGY,
            LoopError::Data { code, .. } => *code,
            LoopError::SchemaViolation { .. } => codes::SCHEMA_VIOLATION,
            LoopError::Exec(e) => e.code(),
            LoopError::ResourceLimit { .. } => codes::RESOURCE_LIMIT,
            LoopError::Internal { .. } => codes::INTERNAL_ERROR,
            LoopError::Cancelled => codes::CANCELLED,
            LoopError::Panic { .. } => codes::FFI_PANIC_CAUGHT,
        }
    }

    /// A data error (2xxx) at `column`/`row`.
    pub fn data(
        code: ErrorCode,
        column: impl Into<String>,
        row: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        LoopError::Data {
            code,
            column: column.into(),
            row,
            message: message.into(),
        }
    }

    /// A 1003 error at the dotted config `path`.
    pub fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        LoopError::InvalidConfig {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A 3001 error naming `column`.
    pub fn schema(column: impl Into<String>, message: impl Into<String>) -> Self {
        LoopError::SchemaViolation {
            column: column.into(),
            message: message.into(),
        }
    }

    /// A 1001 error naming `field`.
    pub fn param(field: impl Into<String>, message: impl Into<String>) -> Self {
        LoopError::InvalidParameter {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, LoopError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_starts_with_code_and_names_location() {
        let e = LoopError::data(codes::NON_FINITE_PRICE, "bid_close", Some(17), "NaN");
        assert_eq!(
            e.to_string(),
            "[2001] NON_FINITE_PRICE: column bid_close row 17: NaN"
        );
        assert_eq!(e.code().code, 2001);
        let e = LoopError::config("strategy.params.fast", "must be < slow");
        assert_eq!(
            e.to_string(),
            "[1003] INVALID_CONFIG: strategy.params.fast: must be < slow"
        );
        let e: LoopError = ExecError::UnknownSymbol { symbol: "X".into() }.into();
        assert_eq!(e.code().code, 1002);
        assert!(e.to_string().starts_with("[1002] UNKNOWN_SYMBOL"));
        assert_eq!(LoopError::Cancelled.code().code, 5002);
        assert_eq!(
            LoopError::Panic {
                index: 3,
                message: "x".into()
            }
            .code()
            .code,
            5005
        );
    }
}
