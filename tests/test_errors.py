"""The exception hierarchy and its agreement with the Rust error-code table."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import omega_engine as oe
import pytest
from omega_engine import _core, errors

ROOT = Path(__file__).resolve().parents[1]


def test_table_matches_the_rust_source() -> None:
    """The codes the extension reports are exactly those declared in codes.rs (one source)."""
    src = (ROOT / "crates/exec-core/src/codes.rs").read_text()
    declared = [(int(c), n) for c, n in re.findall(r"=\s*(\d{4}),\s*\"([A-Z_]+)\"", src)]
    assert declared == [(c, n) for c, n, _ in _core.error_codes()]
    assert [c for c, _ in declared] == sorted(c for c, _ in declared)


def test_every_code_has_its_class() -> None:
    for code, name, desc in _core.error_codes():
        cls = errors.error_class(code)
        assert cls is errors.error_class(name)
        assert cls.code == code and cls.name == name
        assert cls.__name__ == errors._class_name(name)
        assert getattr(errors, cls.__name__) is cls
        assert desc in (cls.__doc__ or "")
        assert issubclass(cls, oe.OmegaError)
        if code < 5000 and name != "PLUGIN_ERROR":
            assert issubclass(cls, ValueError) and not issubclass(cls, RuntimeError), name
        else:
            assert issubclass(cls, RuntimeError) and not issubclass(cls, ValueError), name


@pytest.mark.parametrize(("code", "base"), [
    (1001, oe.ConfigError), (1003, oe.ConfigError), (2001, oe.DataError), (2007, oe.DataError),
    (3001, oe.SchemaError), (3002, oe.SchemaError), (4002, oe.InputError), (4001, oe.EngineError),
    (5001, oe.EngineError), (5005, oe.EngineError),
])
def test_ranges(code: int, base: type) -> None:
    assert issubclass(errors.error_class(code), base)


def test_make_error_message_and_pickle() -> None:
    e = errors.make_error("NON_FINITE_PRICE", "bid_close at row 3 is NaN")
    assert str(e) == "[2001] NON_FINITE_PRICE: bid_close at row 3 is NaN"
    assert e.code == 2001 and isinstance(e, errors.NonFinitePriceError)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and str(back) == str(e) and back.code == 2001


def test_from_core_keeps_message_and_code() -> None:
    with pytest.raises(oe.errors.InvalidConfigError) as info:
        with errors.translate():
            _core.canonical_config('{"symbol": "EURUSD"}')
    assert info.value.code == 1003
    assert str(info.value).startswith("[1003] INVALID_CONFIG: ")
    raw = _core.OmegaCoreError("[2004] DUPLICATE_TIMESTAMP: timestamp at row 2")
    raw.code = 2004
    mapped = errors.from_core(raw)
    assert type(mapped) is errors.DuplicateTimestampError and str(mapped) == str(raw)
    # Without the attribute the code is read from the message.
    assert errors.from_core(_core.OmegaCoreError("[3001] SCHEMA_VIOLATION: x")).code == 3001


def test_unknown_name() -> None:
    with pytest.raises(KeyError):
        errors.error_class("NO_SUCH_CODE")


def test_formula_syntax_error_shows_the_column() -> None:
    assert _core.check_formula("max(7, notional * 30 / 1e6)") == ["notional"]
    with pytest.raises(errors.FormulaSyntaxError) as info:
        with errors.translate():
            _core.check_formula("1 +* 2")
    assert info.value.code == 1008 and "column 4" in str(info.value)
