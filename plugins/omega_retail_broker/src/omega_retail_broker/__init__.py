"""A retail spread-only broker for omega_engine: no commission, a spread markup in pips (half of
it paid on every fill, since the markup widens both sides of the quote) plus random slippage, and
overnight swaps. Everything is evaluated in Rust.

A module-level plugin: the entry point ``omega_retail_broker`` (group ``omega_engine``) makes
pluggy register this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import omega_engine as oe
from omega_engine import costs

__all__ = [
    "MARKUP_PIPS",
    "DEFAULT_MARKUP_PIPS",
    "RANDOM_PIPS",
    "SWAP_PIPS",
    "ROLLOVER_HOUR_UTC",
    "spread_markup",
    "retail_costs",
    "omega_cost_models",
]

#: Spread markup over the raw market, pips (round trip: half on each fill).
MARKUP_PIPS: dict[str, float] = {
    "EURUSD": 1.0,
    "GBPUSD": 1.4,
    "USDJPY": 1.2,
    "USDCHF": 1.6,
    "AUDUSD": 1.2,
    "USDCAD": 1.6,
    "NZDUSD": 1.8,
}
#: Markup of every other symbol.
DEFAULT_MARKUP_PIPS = 2.5
#: Random slippage per fill, U(0, RANDOM_PIPS) pips.
RANDOM_PIPS = 0.3
#: Swaps in pips per lot and night: (long, short). Retail swaps charge both sides more.
SWAP_PIPS: dict[str, tuple[float, float]] = {
    "EURUSD": (-0.95, -0.12),
    "GBPUSD": (-0.71, -0.33),
    "USDJPY": (0.82, -2.91),
    "AUDUSD": (-0.48, -0.22),
}
#: 17:00 New York in summer.
ROLLOVER_HOUR_UTC = 21


def spread_markup(markup_pips: float, random_pips: float = RANDOM_PIPS) -> costs.Slippage:
    """Half the markup on every fill, plus U(0, random_pips)."""
    return costs.Slippage(fixed_pips=markup_pips / 2.0, random_pips=random_pips)


def retail_costs(markup_pips: Mapping[str, float] | None = None,
                 default_markup_pips: float = DEFAULT_MARKUP_PIPS,
                 random_pips: float = RANDOM_PIPS) -> costs.Costs:
    """The spread-only model: per-symbol markups (default :data:`MARKUP_PIPS`) and swaps."""
    table = MARKUP_PIPS if markup_pips is None else dict(markup_pips)
    slippage = costs.PerSymbol({sym: spread_markup(m, random_pips) for sym, m in table.items()},
                               default=spread_markup(default_markup_pips, random_pips))
    swap = costs.PerSymbol({sym: costs.Swap(long, short, rollover_hour_utc=ROLLOVER_HOUR_UTC)
                            for sym, (long, short) in SWAP_PIPS.items()})
    return costs.Costs(slippage=slippage, swap=swap)


@oe.hookimpl
def omega_cost_models() -> dict[str, Any]:
    return {"retail_spread_only": retail_costs()}
