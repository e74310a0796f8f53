"""Cost models: declarative objects that serialize into a run config's ``costs`` section and are
evaluated in Rust, per order, with no Python involved (except :class:`PythonCallable`).

Commission (fee) models, charged per order side (entry, exit) in a fee currency::

    PerLot(3.5)                               # 3.5 per lot and side
    PerMillionNotional(30, min_fee=2)         # 30 per million of notional, at least 2 per side
    PercentOfNotional(0.0001, side="exit")    # 0.01 % of notional, on exits only
    Tiered({0: 35, 10_000_000: 30, 50_000_000: 25},
           rate_kind="per_million_notional", basis="notional")   # rate chosen by order size
    Formula("max(7, notional * 30 / 1e6) * (hour >= 21 ? 1.5 : 1)")
    PythonCallable(lambda o: 30 * o.notional / 1e6)              # escape hatch (see below)

Every fee model takes ``side`` (``"entry"``, ``"exit"``, ``"both"``), ``min_fee``, ``max_fee``,
``multiplier`` and ``currency`` (the fee currency; the notional is converted into it, the fee out
of it into the account currency). Slippage models give pips, always adverse::

    Slippage(fixed_pips=0.2, random_pips=0.5)          # 0.2 + U(0, 0.5) pips, seeded per fill
    VolatilitySlippage(atr=0.1)                        # 0.1 × ATR(atr_period) in pips
    VolatilitySlippage(spread=0.5, random=0.5)         # (0.5 + U(0, 0.5)) × the spread
    Formula("0.2 + u * 0.5")                           # as slippage: ``u`` is the fill's draw

Overnight financing, booked into the balance at every rollover a position is held through
(weekends none, three nights on the triple day), reported per trade (``swap`` column) and in the
summary (``swap_total``)::

    Swap(long_points=-6.5, short_points=1.2, triple_day="wednesday", rollover_hour_utc=22)

Composition and maps::

    PerLot(3) + Formula("hour >= 21 ? 1 : 0")          # fees add up
    Slippage(0.1) + VolatilitySlippage(atr=0.05)       # pips add up
    PerLot(3) + Slippage(0.2) + Swap(-6, 1)            # different kinds make a Costs bundle
    PerSymbol({"XAUUSD": PerLot(9)}, default=PerLot(3))
    Costs(commission=..., slippage=..., swap=..., atr_period=14)

Any of these can be given wherever a config takes ``costs`` (``run_many(..., costs=PerLot(3))``),
returned by a plugin's ``omega_cost_models`` hook under a name (``costs="ecn_tiered"``), or turned
into the config mapping with ``.to_config()``.

Formulas (``Formula``) are arithmetic over the order's fields — ``lots``, ``price``, ``notional``
(``lots × contract_size × price``; fee models: in the fee currency), ``contract_size``, ``pip``,
``side`` (+1 buy, −1 sell), ``direction`` (+1 long, −1 short), ``is_entry`` (1/0), ``hour``,
``minute``, ``weekday`` (0 = Monday; UTC), ``atr``, ``spread`` (price units) and ``u`` (slippage
only: the fill's deterministic uniform draw) — with ``+ - * / % ^``, comparisons, ``&& || !``,
``c ? a : b``, ``if(c, a, b)``, ``min``, ``max``, ``abs``, ``floor``, ``ceil``, ``round``,
``sqrt``. They are parsed once (a syntax error raises ``FormulaSyntaxError``, code 1008, showing
the column) and evaluated in Rust: batches with formula models run in parallel with the GIL
released.

:class:`PythonCallable` calls a Python function for every order it prices, with an object
holding the same fields as a formula's variables (plus ``ts``). **It runs under the GIL, so a
batch that uses one is serialized** (run on one thread, Python-speed); results stay deterministic
as long as the function is a pure function of its argument (use ``o.u`` for randomness in a
slippage callable). Use it for logic no declarative model or formula expresses; it runs only in
the local process (not with a distributed ``executor``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _core
from .errors import raise_error, translate

__all__ = [
    "CostModel",
    "FeeModel",
    "SlippageModel",
    "PerLot",
    "PerMillionNotional",
    "PercentOfNotional",
    "Tiered",
    "Formula",
    "PythonCallable",
    "FeeSum",
    "Slippage",
    "VolatilitySlippage",
    "SlippageSum",
    "Swap",
    "PerSymbol",
    "Costs",
    "FORMULA_VARIABLES",
    "callbacks_for",
]

#: The variables a formula may use.
FORMULA_VARIABLES = ("lots", "price", "notional", "contract_size", "pip", "side", "direction",
                     "is_entry", "hour", "minute", "weekday", "atr", "spread", "u")

_SIDES = ("entry", "exit", "both")
_RATE_KINDS = ("per_lot", "per_million_notional", "percent_of_notional")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
_SWAP_UNITS = ("pips", "points", "price", "money")


def _num(value: Any, field: str, *, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise_error("INVALID_CONFIG", f"{field}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise_error("INVALID_CONFIG", f"{field}: must be finite, got {value!r}")
    if minimum is not None and v < minimum:
        raise_error("INVALID_CONFIG", f"{field}: must be >= {minimum:g}, got {value!r}")
    return v


def _choice(value: Any, field: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value.lower() not in allowed:
        raise_error("INVALID_CONFIG",
                    f"{field}: expected one of {', '.join(allowed)}, got {value!r}")
    return value.lower()


class CostModel:
    """Base of every cost model object. ``a + b`` composes (see the module doc);
    :meth:`to_config` gives the ``costs`` mapping of the run config."""

    #: "fee", "slippage", "swap", "any" (formula/callable: fee or slippage by placement),
    #: "bundle" (Costs) or "map" (PerSymbol, by its values).
    kind = ""

    def to_config(self) -> dict[str, Any]:
        return Costs._of(self).to_config()

    def __add__(self, other: Any) -> CostModel:
        if not isinstance(other, CostModel):
            return NotImplemented
        return _add(self, other)

    def __radd__(self, other: Any) -> CostModel:
        if other == 0:  # sum([...]) starts from 0
            return self
        if not isinstance(other, CostModel):
            return NotImplemented
        return _add(other, self)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _kind_of(m: CostModel) -> str:
    if isinstance(m, PerSymbol):
        return m.value_kind
    return m.kind


def _add(a: CostModel, b: CostModel) -> CostModel:
    ka, kb = _kind_of(a), _kind_of(b)
    if isinstance(a, Costs) or isinstance(b, Costs) or isinstance(a, PerSymbol) \
            or isinstance(b, PerSymbol):
        return Costs._of(a)._merge(Costs._of(b))
    if ka in ("fee", "any") and kb in ("fee", "any"):
        return FeeSum(a, b)
    if ka in ("slippage", "any") and kb in ("slippage", "any"):
        return SlippageSum(a, b)
    return Costs._of(a)._merge(Costs._of(b))


# --- fee models ----------------------------------------------------------------------------------

class FeeModel(CostModel):
    """A commission model: side, per-side limits, multiplier and fee currency."""

    kind = "fee"

    def __init__(self, *, side: str = "both", min_fee: float = 0.0, max_fee: float | None = None,
                 multiplier: float = 1.0, currency: str | None = None) -> None:
        name = type(self).__name__
        self.side = _choice(side, f"{name}.side", _SIDES)
        self.min_fee = _num(min_fee, f"{name}.min_fee")
        self.max_fee = None if max_fee is None else _num(max_fee, f"{name}.max_fee")
        if self.max_fee is not None and self.max_fee < self.min_fee:
            raise_error("INVALID_CONFIG",
                        f"{name}.max_fee: must be >= min_fee ({self.max_fee} < {self.min_fee})")
        self.multiplier = _num(multiplier, f"{name}.multiplier")
        if currency is not None and not (isinstance(currency, str) and len(currency) == 3
                                         and currency.isalpha() and currency.isupper()):
            raise_error("INVALID_CONFIG",
                        f"{name}.currency: must be a three-letter upper-case code, got "
                        f"{currency!r}")
        self.currency = currency

    def _terms(self) -> dict[str, Any]:
        return {"side": self.side, "min_fee": self.min_fee, "max_fee": self.max_fee,
                "multiplier": self.multiplier, "currency": self.currency}

    def _has_terms(self) -> bool:
        return (self.side, self.min_fee, self.max_fee, self.multiplier, self.currency) != \
            ("both", 0.0, None, 1.0, None)

    def fee_node(self) -> dict[str, Any]:
        """The commission node of the run config."""
        raise NotImplementedError


class _Rate(FeeModel):
    schema = ""

    def __init__(self, rate: float, **terms: Any) -> None:
        super().__init__(**terms)
        self.rate = _num(rate, f"{type(self).__name__}.rate")

    def fee_node(self) -> dict[str, Any]:
        return {"schema": self.schema, "rate": self.rate, **self._terms()}


class PerLot(_Rate):
    """``rate`` per lot and charged side (fee currency)."""

    schema = "per_lot"


class PerMillionNotional(_Rate):
    """``rate`` per million of notional (``lots × contract_size × price`` in the fee currency)."""

    schema = "per_million_notional"


class PercentOfNotional(_Rate):
    """``rate`` as a fraction of notional (0.0001 = 0.01 %)."""

    schema = "percent_of_notional"


class Tiered(FeeModel):
    """A rate chosen by the order's size: ``tiers`` maps a threshold (lots, or notional in the
    fee currency with ``basis="notional"``) to the rate that applies from there up; the whole
    order pays the rate of its tier (not marginally). ``rate_kind`` says how a rate applies
    (``per_lot``, ``per_million_notional``, ``percent_of_notional``)."""

    def __init__(self, tiers: Mapping[float, float] | Iterable[tuple[float, float]], *,
                 rate_kind: str = "per_lot", basis: str = "lots", **terms: Any) -> None:
        super().__init__(**terms)
        self.rate_kind = _choice(rate_kind, "Tiered.rate_kind", _RATE_KINDS)
        self.basis = _choice(basis, "Tiered.basis", ("lots", "notional"))
        pairs = list(tiers.items()) if isinstance(tiers, Mapping) else list(tiers)
        if not pairs:
            raise_error("INVALID_CONFIG", "Tiered.tiers: needs at least one tier")
        out = []
        for i, pair in enumerate(pairs):
            try:
                frm, rate = pair
            except (TypeError, ValueError):
                raise_error("INVALID_CONFIG",
                            f"Tiered.tiers[{i}]: expected (from, rate), got {pair!r}")
            out.append((_num(frm, f"Tiered.tiers[{i}].from"),
                        _num(rate, f"Tiered.tiers[{i}].rate")))
        out.sort()
        for i in range(1, len(out)):
            if out[i][0] == out[i - 1][0]:
                raise_error("INVALID_CONFIG", f"Tiered.tiers: threshold {out[i][0]} given twice")
        self.tiers = tuple(out)

    def fee_node(self) -> dict[str, Any]:
        return {"schema": "tiered", "rate_kind": self.rate_kind, "basis": self.basis,
                "tiers": [{"from": f, "rate": r} for f, r in self.tiers], **self._terms()}


def check_formula(expr: str) -> list[str]:
    """Parses ``expr`` (FormulaSyntaxError, 1008, with the column, when it does not parse);
    returns the variables it uses."""
    if not isinstance(expr, str):
        raise_error("INVALID_CONFIG", f"Formula: expected a string, got {type(expr).__name__}")
    with translate():
        return list(_core.check_formula(expr))


class Formula(FeeModel):
    """An arithmetic expression over the order's fields (see the module doc), parsed once and
    evaluated in Rust. As a commission it gives the fee (fee currency; the fee terms apply); as
    slippage it gives pips."""

    kind = "any"

    def __init__(self, expr: str, **terms: Any) -> None:
        super().__init__(**terms)
        self.variables = tuple(check_formula(expr))
        self.expr = expr

    def fee_node(self) -> dict[str, Any]:
        return {"schema": "formula", "formula": self.expr, **self._terms()}

    def slippage_node(self) -> dict[str, Any]:
        if self._has_terms():
            raise_error("INVALID_CONFIG",
                        "Formula used as slippage takes no side/min_fee/max_fee/multiplier/"
                        "currency")
        return {"model": "formula", "formula": self.expr}


_registry_lock = threading.Lock()
_registry: dict[str, Callable[[Any], float]] = {}


class PythonCallable(FeeModel):
    """A Python function called for every order it prices, with an object holding the order's
    fields (``o.lots``, ``o.notional``, ``o.u`` …). As a commission it returns the fee (fee
    currency); as slippage, pips. Runs under the GIL: a batch using it is serialized (see the
    module doc). ``name`` (default: the function's qualified name) identifies it in the config
    and its id; two different functions never share a name."""

    kind = "any"

    def __init__(self, fn: Callable[[Any], float], *, name: str | None = None,
                 **terms: Any) -> None:
        super().__init__(**terms)
        if not callable(fn):
            raise_error("INVALID_CONFIG",
                        f"PythonCallable: expected a callable, got {type(fn).__name__}")
        base = name or f"{getattr(fn, '__module__', None) or 'fn'}." \
                       f"{getattr(fn, '__qualname__', type(fn).__name__)}"
        with _registry_lock:
            chosen, k = base, 1
            while chosen in _registry and _registry[chosen] is not fn:
                k += 1
                chosen = f"{base}#{k}"
            _registry[chosen] = fn
        self.fn = fn
        self.name = chosen

    def fee_node(self) -> dict[str, Any]:
        return {"schema": "callback", "callback": self.name, **self._terms()}

    def slippage_node(self) -> dict[str, Any]:
        if self._has_terms():
            raise_error("INVALID_CONFIG",
                        "PythonCallable used as slippage takes no side/min_fee/max_fee/"
                        "multiplier/currency")
        return {"model": "callback", "callback": self.name}

    def __repr__(self) -> str:
        return f"PythonCallable({self.name})"


class FeeSum(FeeModel):
    """The sum of fee models (``a + b``); each part keeps its own side, limits and currency."""

    def __init__(self, *parts: CostModel) -> None:
        super().__init__()
        self.parts: tuple[CostModel, ...]
        flat: list[CostModel] = []
        for p in parts:
            if _kind_of(p) not in ("fee", "any") or isinstance(p, PerSymbol):
                raise_error("INVALID_CONFIG",
                            f"FeeSum: {type(p).__name__} is not a commission model")
            flat.extend(p.parts if isinstance(p, FeeSum) else (p,))
        self.parts = tuple(flat)

    def fee_node(self) -> dict[str, Any]:
        return {"schema": "sum", "parts": [_fee_node(p) for p in self.parts]}


def _fee_node(m: CostModel) -> dict[str, Any]:
    if isinstance(m, FeeModel):
        return m.fee_node()
    raise_error("INVALID_CONFIG", f"{type(m).__name__} is not a commission model")


# --- slippage ------------------------------------------------------------------------------------

class SlippageModel(CostModel):
    """A slippage model (pips, always adverse)."""

    kind = "slippage"

    def slippage_node(self) -> dict[str, Any]:
        raise NotImplementedError


class Slippage(SlippageModel):
    """``fixed_pips + U(0, random_pips)`` pips; the draw is seeded per fill (DESIGN §7)."""

    def __init__(self, fixed_pips: float = 0.0, random_pips: float = 0.0) -> None:
        self.fixed_pips = _num(fixed_pips, "Slippage.fixed_pips")
        self.random_pips = _num(random_pips, "Slippage.random_pips")

    def slippage_node(self) -> dict[str, Any]:
        return {"fixed_pips": self.fixed_pips, "random_pips": self.random_pips}


class VolatilitySlippage(SlippageModel):
    """Pips proportional to volatility: ``(k + U(0, random)) × X / pip`` with ``X`` the ATR
    (``atr=k``; ATR of ``Costs(atr_period=...)`` bars, default 14, known up to the previous bar)
    or the spread (``spread=k``), capped at ``max_pips``. Before the ATR is known it gives 0."""

    def __init__(self, atr: float | None = None, spread: float | None = None, *,
                 random: float = 0.0, max_pips: float | None = None) -> None:
        if (atr is None) == (spread is None):
            raise_error("INVALID_CONFIG", "VolatilitySlippage: give exactly one of atr= or spread=")
        self.source = "atr" if atr is not None else "spread"
        self.multiplier = _num(atr if atr is not None else spread,
                               f"VolatilitySlippage.{self.source}")
        self.random = _num(random, "VolatilitySlippage.random")
        self.max_pips = None if max_pips is None else _num(max_pips, "VolatilitySlippage.max_pips")

    def slippage_node(self) -> dict[str, Any]:
        node: dict[str, Any] = {"model": "volatility", "source": self.source,
                                "multiplier": self.multiplier}
        if self.random:
            node["random_multiplier"] = self.random
        if self.max_pips is not None:
            node["max_pips"] = self.max_pips
        return node


class SlippageSum(SlippageModel):
    """The sum of slippage models' pips (random parts draw successive uniforms of the fill)."""

    def __init__(self, *parts: CostModel) -> None:
        self.parts: tuple[CostModel, ...]
        flat: list[CostModel] = []
        for p in parts:
            if _kind_of(p) not in ("slippage", "any") or isinstance(p, PerSymbol):
                raise_error("INVALID_CONFIG",
                            f"SlippageSum: {type(p).__name__} is not a slippage model")
            flat.extend(p.parts if isinstance(p, SlippageSum) else (p,))
        self.parts = tuple(flat)

    def slippage_node(self) -> dict[str, Any]:
        return {"model": "sum", "parts": [_slippage_node(p) for p in self.parts]}


def _slippage_node(m: CostModel) -> dict[str, Any]:
    node = getattr(m, "slippage_node", None)
    if node is None:
        raise_error("INVALID_CONFIG", f"{type(m).__name__} is not a slippage model")
    return node()  # type: ignore[no-any-return]


# --- swap ----------------------------------------------------------------------------------------

class Swap(CostModel):
    """Overnight financing per lot and night, signed (negative: paid, positive: credited).
    ``unit``: ``pips`` (× pip × value per price), ``points`` (pip / 10), ``price`` (a price
    difference) or ``money`` (``currency`` per lot, default the account currency). A rollover
    happens daily at ``rollover_hour_utc``; positions held through it (entry < rollover <= exit)
    are charged, none on Saturday and Sunday, three nights on ``triple_day``."""

    kind = "swap"

    def __init__(self, long_points: float, short_points: float, *,
                 triple_day: str = "wednesday", rollover_hour_utc: int = 22,
                 unit: str = "pips", currency: str | None = None) -> None:
        self.long_points = _num(long_points, "Swap.long_points", minimum=None)
        self.short_points = _num(short_points, "Swap.short_points", minimum=None)
        self.triple_day = _choice(triple_day, "Swap.triple_day", _WEEKDAYS)
        if isinstance(rollover_hour_utc, bool) or not isinstance(rollover_hour_utc, int) \
                or not 0 <= rollover_hour_utc <= 23:
            raise_error("INVALID_CONFIG",
                        f"Swap.rollover_hour_utc: must be an int in 0..23, got "
                        f"{rollover_hour_utc!r}")
        self.rollover_hour_utc = rollover_hour_utc
        self.unit = _choice(unit, "Swap.unit", _SWAP_UNITS)
        if currency is not None and self.unit != "money":
            raise_error("INVALID_CONFIG", "Swap.currency: only used with unit='money'")
        self.currency = currency

    def swap_node(self) -> dict[str, Any]:
        return {"long_points": self.long_points, "short_points": self.short_points,
                "unit": self.unit, "triple_day": self.triple_day,
                "rollover_hour_utc": self.rollover_hour_utc, "currency": self.currency}


# --- maps and bundles ----------------------------------------------------------------------------

class PerSymbol(CostModel):
    """Models per symbol with a default: ``PerSymbol({"XAUUSD": PerLot(9)}, default=PerLot(3))``.
    All values must be of one kind (commission, slippage or swap)."""

    kind = "map"

    def __init__(self, models: Mapping[str, CostModel], default: CostModel | None = None) -> None:
        if not isinstance(models, Mapping):
            raise_error("INVALID_CONFIG", "PerSymbol: expected a mapping symbol → model")
        kinds = set()
        for sym, m in models.items():
            if not isinstance(sym, str) or not sym:
                raise_error("INVALID_CONFIG", f"PerSymbol: bad symbol key {sym!r}")
            if not isinstance(m, CostModel) or isinstance(m, PerSymbol | Costs):
                raise_error("INVALID_CONFIG", f"PerSymbol[{sym}]: expected a cost model, got {m!r}")
            kinds.add(m.kind)
        if default is not None:
            if not isinstance(default, CostModel) or isinstance(default, PerSymbol | Costs):
                raise_error("INVALID_CONFIG", f"PerSymbol.default: expected a cost model, got "
                                              f"{default!r}")
            kinds.add(default.kind)
        concrete = kinds - {"any"}
        if len(concrete) > 1:
            raise_error("INVALID_CONFIG",
                        f"PerSymbol: mixes kinds of models ({', '.join(sorted(concrete))})")
        self.value_kind = concrete.pop() if concrete else "fee"
        self.models = dict(models)
        self.default = default


_KIND_FIELD = {"fee": "commission", "any": "commission", "slippage": "slippage", "swap": "swap"}


class Costs(CostModel):
    """A whole ``costs`` section: commission, slippage, swap (each a model or a
    :class:`PerSymbol` map), an optional legacy fee mapping and the ATR length for models that
    read ``atr``."""

    kind = "bundle"

    def __init__(self, commission: CostModel | None = None, slippage: CostModel | None = None,
                 swap: CostModel | None = None, *, legacy_fee: Mapping[str, float] | None = None,
                 atr_period: int | None = None) -> None:
        self.commission = commission
        self.slippage = slippage
        self.swap = swap
        self.legacy_fee = dict(legacy_fee) if legacy_fee is not None else None
        if atr_period is not None and (isinstance(atr_period, bool)
                                       or not isinstance(atr_period, int) or atr_period < 1):
            raise_error("INVALID_CONFIG", f"Costs.atr_period: must be an int >= 1, got "
                                          f"{atr_period!r}")
        self.atr_period = atr_period

    @staticmethod
    def _of(m: CostModel) -> Costs:
        if isinstance(m, Costs):
            return m
        field = _KIND_FIELD.get(_kind_of(m))
        if field is None:
            raise_error("INVALID_CONFIG", f"{type(m).__name__} cannot be used as costs")
        if field == "commission":
            return Costs(commission=m)
        if field == "slippage":
            return Costs(slippage=m)
        return Costs(swap=m)

    def _merge(self, other: Costs) -> Costs:
        out = Costs(self.commission, self.slippage, self.swap, legacy_fee=self.legacy_fee,
                    atr_period=self.atr_period)
        for field in ("commission", "slippage"):
            a, b = getattr(out, field), getattr(other, field)
            if a is not None and b is not None:
                if isinstance(a, PerSymbol) or isinstance(b, PerSymbol):
                    raise_error("INVALID_CONFIG",
                                f"Costs: cannot add two {field} models when one is a PerSymbol "
                                "map; build the map from sums instead")
                b = FeeSum(a, b) if field == "commission" else SlippageSum(a, b)
            setattr(out, field, b if b is not None else a)
        for field in ("swap", "legacy_fee", "atr_period"):
            a, b = getattr(out, field), getattr(other, field)
            if a is not None and b is not None:
                raise_error("INVALID_CONFIG", f"Costs: {field} given twice")
            setattr(out, field, b if b is not None else a)
        return out

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.commission is not None:
            c = self.commission
            if isinstance(c, PerSymbol):
                out["commission"] = {
                    "default": None if c.default is None else _fee_node(c.default),
                    "per_symbol": {s: _fee_node(m) for s, m in c.models.items()},
                }
            else:
                out["commission"] = {"default": _fee_node(c)}
        if self.slippage is not None:
            s = self.slippage
            if isinstance(s, PerSymbol):
                node = {} if s.default is None else _slippage_node(s.default)
                node["per_symbol"] = {k: _slippage_node(m) for k, m in s.models.items()}
            else:
                node = _slippage_node(s)
            out["slippage"] = node
        if self.swap is not None:
            w = self.swap
            if isinstance(w, PerSymbol):
                # A missing default swaps nothing: zero points.
                node = (Swap(0.0, 0.0) if w.default is None else w.default).swap_node()  # type: ignore[attr-defined]
                node["per_symbol"] = {k: m.swap_node() for k, m in w.models.items()}  # type: ignore[attr-defined]
            elif isinstance(w, Swap):
                node = w.swap_node()
            else:
                raise_error("INVALID_CONFIG", f"Costs.swap: expected Swap, got {type(w).__name__}")
            out["swap"] = node
        if self.legacy_fee is not None:
            out["legacy_fee"] = dict(self.legacy_fee)
        if self.atr_period is not None:
            out["atr_period"] = self.atr_period
        return out


# --- callbacks -----------------------------------------------------------------------------------

def callbacks_for(config_jsons: Iterable[str]) -> dict[str, Callable[[Any], float]]:
    """The registered Python callables the given config JSON texts refer to (``"callback"``
    entries), by name; empty when none does."""
    with _registry_lock:
        if not _registry:
            return {}
        names = dict(_registry)
    needles = {name: '"callback":' + json.dumps(name) for name in names}
    used: dict[str, Callable[[Any], float]] = {}
    for text in config_jsons:
        if '"callback"' not in text:
            continue
        for name, needle in needles.items():
            if name not in used and needle in text:
                used[name] = names[name]
    return used
