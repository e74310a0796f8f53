//! The error-code table of omega_engine: the one source both languages read.
//!
//! Rust crates build their errors from these constants; the Python package reads the same table
//! through `omega_engine._core.error_codes()` and derives its exception classes from it. Ranges
//! (DESIGN §6): 1xxx parameters/config, 2xxx data, 3xxx schemas, 4xxx plugins/hooks, 5xxx internal.

/// One entry of the error-code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: u16,
    pub name: &'static str,
    pub description: &'static str,
}

macro_rules! codes {
    ($($ident:ident = $code:literal, $name:literal, $desc:literal;)*) => {
        $(pub const $ident: ErrorCode = ErrorCode { code: $code, name: $name, description: $desc };)*
        /// Every code, in ascending order.
        pub const ALL: &[ErrorCode] = &[$($ident),*];
    };
}

codes! {
    INVALID_PARAMETER = 1001, "INVALID_PARAMETER", "a signal or simulator parameter is invalid (non-finite price, unknown direction or order type)";
    UNKNOWN_SYMBOL = 1002, "UNKNOWN_SYMBOL", "a symbol has no symbol spec or no data";
    INVALID_CONFIG = 1003, "INVALID_CONFIG", "a config value is out of range or inconsistent";
    UNKNOWN_CONFIG_FIELD = 1004, "UNKNOWN_CONFIG_FIELD", "a config contains a field the engine does not know";
    UNKNOWN_STRATEGY = 1005, "UNKNOWN_STRATEGY", "the strategy name is not a built-in strategy";
    MISSING_FX_RATE = 1006, "MISSING_FX_RATE", "a currency conversion needs a rate that was not configured";
    RESOURCE_LIMIT = 1007, "RESOURCE_LIMIT", "the requested work would exceed the memory budget";
    FORMULA_SYNTAX = 1008, "FORMULA_SYNTAX", "a cost formula could not be parsed";
    INVALID_WINDOW = 1009, "INVALID_WINDOW", "walk-forward windows do not fit the data";
    NON_FINITE_PRICE = 2001, "NON_FINITE_PRICE", "a price is NaN or infinite";
    NON_POSITIVE_PRICE = 2002, "NON_POSITIVE_PRICE", "a price is zero or negative";
    UNSORTED_TIMESTAMPS = 2003, "UNSORTED_TIMESTAMPS", "timestamps are not increasing";
    DUPLICATE_TIMESTAMP = 2004, "DUPLICATE_TIMESTAMP", "a timestamp occurs twice";
    OHLC_INCONSISTENT = 2005, "OHLC_INCONSISTENT", "high is below open/close or low is above open/close";
    BID_ASK_MISMATCH = 2006, "BID_ASK_MISMATCH", "bid and ask differ in length or timestamps";
    MISSING_SIDE = 2007, "MISSING_SIDE", "one-sided data without an explicit spread";
    EMPTY_DATA = 2008, "EMPTY_DATA", "the data holds no rows (in the requested range)";
    SCHEMA_VIOLATION = 3001, "SCHEMA_VIOLATION", "an Arrow table lacks a column or has a wrong type";
    FFI_SCHEMA_MISMATCH = 3002, "FFI_SCHEMA_MISMATCH", "an object crossing the FFI is not Arrow-compatible";
    PLUGIN_ERROR = 4001, "PLUGIN_ERROR", "a plugin or hook implementation failed";
    UNKNOWN_PLUGIN_NAME = 4002, "UNKNOWN_PLUGIN_NAME", "a name refers to no registered plugin item";
    INTERNAL_ERROR = 5001, "INTERNAL_ERROR", "an internal invariant was violated";
    CANCELLED = 5002, "CANCELLED", "the run was cancelled";
    WORKER_FAILED = 5003, "WORKER_FAILED", "a distributed worker failed";
    FFI_PANIC_CAUGHT = 5005, "FFI_PANIC_CAUGHT", "a Rust panic was caught at the boundary";
}

/// Looks a code up in the table.
pub fn lookup(code: u16) -> Option<ErrorCode> {
    ALL.iter().copied().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_in_their_ranges() {
        for pair in ALL.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }
        for c in ALL {
            assert!((1000..6000).contains(&c.code));
            assert!(c
                .name
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == '_'));
        }
        assert_eq!(lookup(5005).map(|c| c.name), Some("FFI_PANIC_CAUGHT"));
        assert_eq!(lookup(9999), None);
    }
}
