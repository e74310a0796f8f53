"""The exception hierarchy of omega_engine, built from the one error-code table.

Every error the package raises is an :class:`OmegaError` whose message starts with its code, e.g.
``[1001] INVALID_PARAMETER: stop_loss must be finite (signal row 17)``, and whose ``code`` attribute
holds the number. Bad input subclasses :class:`ValueError` (through :class:`InputError`), internal
failures :class:`RuntimeError` (through :class:`EngineError`)::

    OmegaError
    ├── InputError (ValueError)
    │   ├── ConfigError   1xxx  InvalidParameterError, UnknownSymbolError, InvalidConfigError, ...
    │   ├── DataError     2xxx  NonFinitePriceError, UnsortedTimestampsError, ...
    │   ├── SchemaError   3xxx  SchemaViolationError, FfiSchemaMismatchError
    │   └── UnknownPluginNameError (4002)
    └── EngineError (RuntimeError)
        ├── PluginError (4001: a plugin or hook implementation failed)
        └── InternalError 5001, CancelledError 5002, WorkerFailedError 5003,
            FfiPanicCaughtError 5005

The table itself lives in Rust (``omega_exec_core::codes``) and is read here through
``_core.error_codes()``: one class per code, named after the code (``NON_FINITE_PRICE`` →
``NonFinitePriceError``). A code added to the table gets its class here without a code change.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, NoReturn

from . import _core

__all__ = [
    "OmegaError",
    "InputError",
    "ConfigError",
    "DataError",
    "SchemaError",
    "EngineError",
    "CODES",
    "error_class",
    "make_error",
    "raise_error",
    "from_core",
    "translate",
]


class OmegaError(Exception):
    """Root of every omega_engine error. ``code`` is the numeric code, ``name`` its NAME."""

    code: int = 0
    name: str = ""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions must survive pickling (Dask/Ray workers send them back to the caller).
        return (_rebuild, (self.code, str(self)))


class InputError(OmegaError, ValueError):
    """Bad input: parameters, configs, data, schemas, unknown plugin names."""


class ConfigError(InputError):
    """1xxx: a parameter or config value is invalid."""


class DataError(InputError):
    """2xxx: the market data is invalid (NaN, ordering, alignment, one-sided)."""


class SchemaError(InputError):
    """3xxx: an Arrow table lacks a column, has a wrong type or is not Arrow at all."""


class EngineError(OmegaError, RuntimeError):
    """Internal failures (5xxx) and failing plugin code (4001)."""


#: code → (NAME, description), read from the Rust table.
CODES: dict[int, tuple[str, str]] = {
    int(code): (name, desc) for code, name, desc in _core.error_codes()
}

_BY_CODE: dict[int, type[OmegaError]] = {}
_BY_NAME: dict[str, int] = {name: code for code, (name, _) in CODES.items()}


def _class_name(name: str) -> str:
    camel = "".join(part.capitalize() for part in name.split("_"))
    return camel if camel.endswith("Error") else camel + "Error"


def _parent(code: int, name: str) -> type[OmegaError]:
    if 1000 <= code < 2000:
        return ConfigError
    if 2000 <= code < 3000:
        return DataError
    if 3000 <= code < 4000:
        return SchemaError
    if 4000 <= code < 5000:
        # A plugin that raised is a failure of code, not of the user's input; an unknown name is
        # bad input.
        return EngineError if name == "PLUGIN_ERROR" else InputError
    return EngineError


def _build_classes() -> None:
    namespace = globals()
    for code, (name, desc) in sorted(CODES.items()):
        cls_name = _class_name(name)
        cls = type(
            cls_name,
            (_parent(code, name),),
            {"__doc__": f"[{code}] {name}: {desc}.", "code": code, "name": name,
             "__module__": __name__},
        )
        namespace[cls_name] = cls
        __all__.append(cls_name)
        _BY_CODE[code] = cls


_build_classes()


def error_class(code: int | str) -> type[OmegaError]:
    """The exception class of a code (number or NAME)."""
    if isinstance(code, str):
        try:
            code = _BY_NAME[code]
        except KeyError:
            raise KeyError(f"unknown error code name {code!r}") from None
    cls = _BY_CODE.get(int(code))
    if cls is not None:
        return cls
    # A code outside the table (should not happen): keep the range semantics.
    return _parent(int(code), "")


def make_error(code: int | str, detail: str) -> OmegaError:
    """Builds the exception for ``code`` with the message ``[NNNN] NAME: detail``."""
    cls = error_class(code)
    return cls(f"[{cls.code}] {cls.name}: {detail}", code=cls.code)


def raise_error(code: int | str, detail: str) -> NoReturn:
    """Raises :func:`make_error` (without chaining)."""
    raise make_error(code, detail)


_CODE_RE = re.compile(r"^\[(\d{4})\]")


def _rebuild(code: int, message: str) -> OmegaError:
    return error_class(code)(message, code=code)


def from_core(exc: BaseException) -> OmegaError:
    """Maps a ``_core.OmegaCoreError`` onto the hierarchy, keeping its message and code."""
    message = str(exc)
    code = getattr(exc, "code", None)
    if code is None:
        m = _CODE_RE.match(message)
        code = int(m.group(1)) if m else 5001
    return error_class(int(code))(message, code=int(code))


@contextlib.contextmanager
def translate() -> Iterator[None]:
    """Context manager: re-raises ``_core.OmegaCoreError`` as the matching :class:`OmegaError`."""
    try:
        yield
    except _core.OmegaCoreError as exc:
        raise from_core(exc) from None
