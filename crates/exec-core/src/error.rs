//! The one error enum of exec-core. Every variant carries its code from [`crate::codes`] and
//! names the field (and row, where there is one) that was bad.

use crate::codes::{self, ErrorCode};

/// Errors of the execution simulator. Display renders `[NNNN] NAME: message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// A signal or simulator parameter is invalid; `field` names it.
    #[error("[{}] {}: {field}: {message}", codes::INVALID_PARAMETER.code, codes::INVALID_PARAMETER.name)]
    InvalidParameter { field: String, message: String },
    /// A symbol without a symbol spec.
    #[error("[{}] {}: symbol {symbol:?} has no symbol spec", codes::UNKNOWN_SYMBOL.code, codes::UNKNOWN_SYMBOL.name)]
    UnknownSymbol { symbol: String },
    /// A currency conversion needs a rate that is not configured.
    #[error("[{}] {}: no rate to convert {from} into {to} (field {field})", codes::MISSING_FX_RATE.code, codes::MISSING_FX_RATE.name)]
    MissingFxRate {
        from: String,
        to: String,
        field: String,
    },
    /// A price is NaN or infinite; `field` names it.
    #[error("[{}] {}: {field} is not finite", codes::NON_FINITE_PRICE.code, codes::NON_FINITE_PRICE.name)]
    NonFinitePrice { field: String },
    /// Bid and ask candles (or quotes) that do not belong together.
    #[error("[{}] {}: {field}", codes::BID_ASK_MISMATCH.code, codes::BID_ASK_MISMATCH.name)]
    BidAskMismatch { field: String },
    /// One-sided input where the variant needs both sides.
    #[error("[{}] {}: {field}", codes::MISSING_SIDE.code, codes::MISSING_SIDE.name)]
    MissingSide { field: String },
    /// A cost formula that does not parse: the column (1-based, in characters) and a caret excerpt.
    #[error("[{}] {}: {field}: {message} at column {column}\n{excerpt}", codes::FORMULA_SYNTAX.code, codes::FORMULA_SYNTAX.name)]
    FormulaSyntax {
        field: String,
        message: String,
        column: usize,
        excerpt: String,
    },
    /// A cost model refers to a callback name that was not registered.
    #[error("[{}] {}: {field}: no cost callback named {name:?} (known: {known})", codes::UNKNOWN_PLUGIN_NAME.code, codes::UNKNOWN_PLUGIN_NAME.name)]
    UnknownCostCallback {
        field: String,
        name: String,
        known: String,
    },
    /// A cost callback (e.g. a Python callable) failed or returned a non-finite number.
    #[error("[{}] {}: cost callback {name:?} ({field}): {message}", codes::PLUGIN_ERROR.code, codes::PLUGIN_ERROR.name)]
    CostCallback {
        name: String,
        field: String,
        message: String,
    },
}

impl ExecError {
    /// The table entry of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ExecError::InvalidParameter { .. } => codes::INVALID_PARAMETER,
            ExecError::UnknownSymbol { .. } => codes::UNKNOWN_SYMBOL,
            ExecError::MissingFxRate { .. } => codes::MISSING_FX_RATE,
            ExecError::NonFinitePrice { .. } => codes::NON_FINITE_PRICE,
            ExecError::BidAskMismatch { .. } => codes::BID_ASK_MISMATCH,
            ExecError::MissingSide { .. } => codes::MISSING_SIDE,
            ExecError::FormulaSyntax { .. } => codes::FORMULA_SYNTAX,
            ExecError::CostCallback { .. } => codes::PLUGIN_ERROR,
            ExecError::UnknownCostCallback { .. } => codes::UNKNOWN_PLUGIN_NAME,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ExecError::InvalidParameter {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ExecError>;
