"""An ECN-style broker for omega_engine: commission per million of notional with a minimum per
side, volume tiers chosen by the order's notional, and a swap table for the majors.

A module-level plugin: the entry point ``omega_ecn_broker`` (group ``omega_engine``) makes
pluggy register this module, whose ``omega_cost_models`` hook returns the named cost models.
"""

from __future__ import annotations

from typing import Any

import omega_engine as oe
from omega_engine import costs

__all__ = [
    "MIN_FEE_USD",
    "RAW_RATE_PER_MILLION",
    "VOLUME_TIERS",
    "SWAP_POINTS",
    "swaps",
    "raw_costs",
    "tiered_costs",
    "omega_cost_models",
]

#: Minimum commission per side, USD.
MIN_FEE_USD = 2.0
#: Commission of the raw account, USD per million of notional and side.
RAW_RATE_PER_MILLION = 35.0
#: Volume tiers: from this notional (USD, per order) on, this rate per million applies.
VOLUME_TIERS: dict[float, float] = {0.0: 35.0, 5_000_000.0: 30.0, 25_000_000.0: 25.0}
#: Swap table, MetaTrader-style points (pip / 10) per lot and night: (long, short).
SWAP_POINTS: dict[str, tuple[float, float]] = {
    "EURUSD": (-7.2, 2.1),
    "GBPUSD": (-4.9, -0.8),
    "USDJPY": (11.6, -24.3),
    "USDCHF": (5.3, -12.1),
    "AUDUSD": (-3.1, -0.4),
    "USDCAD": (1.8, -7.5),
    "NZDUSD": (-2.2, -0.9),
}


def swaps() -> costs.PerSymbol:
    """The majors' swaps (other symbols: none), rollover 22:00 UTC, triple on Wednesday."""
    return costs.PerSymbol({sym: costs.Swap(long, short, unit="points")
                            for sym, (long, short) in SWAP_POINTS.items()})


def raw_costs() -> costs.Costs:
    """35 USD per million and side, at least 2 USD per side, and the swap table."""
    return costs.Costs(
        commission=costs.PerMillionNotional(RAW_RATE_PER_MILLION, min_fee=MIN_FEE_USD,
                                            currency="USD"),
        swap=swaps(),
    )


def tiered_costs() -> costs.Costs:
    """Volume-tiered commission (by the order's USD notional), a little random slippage and the
    swap table."""
    return costs.Costs(
        commission=costs.Tiered(VOLUME_TIERS, rate_kind="per_million_notional",
                                basis="notional", min_fee=MIN_FEE_USD, currency="USD"),
        slippage=costs.Slippage(fixed_pips=0.0, random_pips=0.2),
        swap=swaps(),
    )


@oe.hookimpl
def omega_cost_models() -> dict[str, Any]:
    return {"ecn_raw": raw_costs(), "ecn_tiered": tiered_costs()}
