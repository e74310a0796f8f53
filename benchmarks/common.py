"""Shared definitions of the peer comparison suite: workloads, parameters, data, trade lists.

Imported by every engine's worker, so it imports nothing heavy (numpy only): the peak memory of
a worker is its engine's, not the other engines'.
"""

from __future__ import annotations

import itertools
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA_DIR = RESULTS / "data"

PIP = 0.0001
#: Fixed size of every trade: 0.5 lots of 100,000 units (the aligned mode sizes in units).
LOTS = 0.5
CONTRACT = 100_000.0
UNITS = LOTS * CONTRACT
#: The W2/W3/W5 bars: ``oe.synthetic_bars("EURUSD", n=W2_BARS, seed=W2_SEED)``, bid side.
W2_BARS = 1_000_000
W2_SEED = 42

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
ENGINES = ("omega", "vectorbt", "backtesting")
TITLES = {
    "W1": "W1 EURUSD H1 (backtesting.py's 5,000 bars), 1 config",
    "W2": "W2 1,000,000 synthetic M1 bars, 1 config",
    "W3": "W3 1,000-config sweep on the W2 bars (summary only)",
    "W4": "W4 exec-core through Python: 1,000 signals / 1,000-position exit pass",
    "W5": "W5 walk-forward, 12 windows x 200 configs on the W2 bars",
}


@dataclass(frozen=True)
class Params:
    """One ``sma_cross`` config: SMA lengths and stop distances in pips."""

    fast: int
    slow: int
    sl_pips: float
    tp_pips: float


#: W1: hourly bars; the pair backtesting.py's own SmaCross example uses, with stops.
W1_PARAMS = Params(10, 20, 30.0, 60.0)
#: W2: one-minute bars.
W2_PARAMS = Params(20, 50, 10.0, 20.0)

_FAST = tuple(range(5, 55, 5))  # 10 values
_SLOW = tuple(range(60, 160, 10))  # 10 values
_STOPS_W3 = ((10.0, 20.0), (10.0, 30.0), (15.0, 30.0), (15.0, 45.0), (20.0, 40.0),
             (20.0, 60.0), (25.0, 50.0), (30.0, 60.0), (30.0, 90.0), (40.0, 80.0))
_STOPS_W5 = ((10.0, 20.0), (20.0, 40.0))


def grid(stops: tuple[tuple[float, float], ...]) -> list[Params]:
    """Configs ordered stop pair first, then fast, then slow: every block of 100 consecutive
    configs shares its stops (the vectorbt side runs one block per chunk)."""
    return [Params(f, s, sl, tp) for (sl, tp), f, s in itertools.product(stops, _FAST, _SLOW)]


W3_GRID = grid(_STOPS_W3)  # 1,000 configs
W5_GRID = grid(_STOPS_W5)  # 200 configs
#: W5 windows in bars: 12 rolling windows of 200,000 train bars followed by 66,000 test bars.
W5_TRAIN = 200_000
W5_TEST = 66_000
W5_WINDOWS = 12
#: Warm-up bars before every window (the longest SMA of the grid), as omega's ``warmup="auto"``.
W5_WARMUP = max(_SLOW)
#: W5 objective: in-sample net profit (the same number in every engine), ties to the lowest
#: config index; candidates need at least one trade.
W5_OBJECTIVE = "net_profit"


def w5_windows(n: int) -> list[tuple[int, int, int]]:
    """(train_start, test_start, test_end) bar indices of the W5 windows (end exclusive), as
    omega's ``compute_windows`` cuts them: the first window starts after the warm-up, the test
    windows tile the data; each run sees W5_WARMUP bars before its range as warm-up only."""
    out = []
    for k in range(W5_WINDOWS):
        a = W5_WARMUP + k * W5_TEST
        out.append((a, a + W5_TRAIN, a + W5_TRAIN + W5_TEST))
    assert out[-1][2] <= n, "W5 windows exceed the bars"
    return out


@dataclass
class Bars:
    """One side of OHLC bars (the aligned mode has bid = ask)."""

    ts: np.ndarray  # int64 µs UTC, bar open times
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, a: int, b: int) -> Bars:
        return Bars(self.ts[a:b], self.open[a:b], self.high[a:b], self.low[a:b], self.close[a:b])


def eurusd_csv() -> Path:
    """backtesting.py's EURUSD hourly bars, read from the installed package (never copied)."""
    import importlib.util

    spec = importlib.util.find_spec("backtesting")
    if spec is None or spec.origin is None:
        raise SystemExit("the `backtesting` package is not installed (pip install -e '.[bench]')")
    path = Path(spec.origin).parent / "test" / "EURUSD.csv"
    if not path.exists():
        raise SystemExit(f"{path} is missing from the installed backtesting package")
    return path


def data_file(workload: str) -> Path:
    return DATA_DIR / ("w1.npz" if workload == "W1" else "w2.npz")


def load_bars(workload: str) -> Bars:
    """The bars of a workload, as prepared by the orchestrator (``prepare_data``)."""
    z = np.load(data_file(workload))
    return Bars(z["ts"], z["open"], z["high"], z["low"], z["close"])


def params_of(workload: str) -> Params:
    return W1_PARAMS if workload == "W1" else W2_PARAMS


def timeframe_us(bars: Bars) -> int:
    return int(np.median(np.diff(bars.ts[: 10_000])))


# ------------------------------------------------------------------------------------------
# Trade lists: the common form every engine's worker writes for the agreement check.

TRADE_FIELDS = ("entry_i", "exit_i", "direction", "entry_price", "exit_price", "pnl")


def trades_dict(entry_i: Any, exit_i: Any, direction: Any, entry_price: Any, exit_price: Any,
                pnl: Any) -> dict[str, np.ndarray]:
    """Trades sorted by entry bar then exit bar; direction +1 long, -1 short; pnl in the quote
    currency for UNITS units."""
    d = {
        "entry_i": np.asarray(entry_i, dtype=np.int64),
        "exit_i": np.asarray(exit_i, dtype=np.int64),
        "direction": np.asarray(direction, dtype=np.int8),
        "entry_price": np.asarray(entry_price, dtype=np.float64),
        "exit_price": np.asarray(exit_price, dtype=np.float64),
        "pnl": np.asarray(pnl, dtype=np.float64),
    }
    order = np.lexsort((d["exit_i"], d["entry_i"]))
    return {k: v[order] for k, v in d.items()}


#: Price tolerance of the agreement check: vectorbt places stops as a fraction of the entry
#: price, and for a few levels no fraction gives the absolute level to the last bit (the product
#: lands one ulp, ~2e-16, away). Every bar index, direction and count must match exactly.
PRICE_TOL = 1e-12
PNL_TOL = 1e-6


def compare_trades(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[bool, str]:
    """Whether two trade lists agree (same count; per trade the same entry and exit bars and
    direction, prices within PRICE_TOL, PnL within PNL_TOL); a description of the first
    difference otherwise."""
    na, nb = len(a["entry_i"]), len(b["entry_i"])
    m = min(na, nb)
    bad = np.zeros(m, dtype=bool)
    for k in ("entry_i", "exit_i", "direction"):
        bad |= a[k][:m] != b[k][:m]
    for k in ("entry_price", "exit_price"):
        bad |= ~(np.abs(a[k][:m] - b[k][:m]) <= PRICE_TOL)
    bad |= ~(np.abs(a["pnl"][:m] - b["pnl"][:m]) <= PNL_TOL)
    idx = np.flatnonzero(bad)
    if na == nb and len(idx) == 0:
        return True, f"{na} trades agree"
    if len(idx):
        k = int(idx[0])
        rows = "; ".join(
            f"{name}: " + ", ".join(f"{f}={t[f][k]!r}" for f in TRADE_FIELDS)
            for name, t in (("A", a), ("B", b))
        )
        return False, f"{len(idx)} of {m} trades differ; first at #{k}: {rows}"
    return False, f"trade counts differ: {na} vs {nb} (the first {m} agree)"


# ------------------------------------------------------------------------------------------
# Measurement helpers (used inside a worker process).

def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


#: CPU times of the calls timed by the last ``time_calls`` of this process.
LAST_CPU: list[float] = []


def time_calls(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Wall times of ``repeat`` calls of ``fn`` and the last call's result; their CPU times
    (all threads; on a shared machine less disturbed by other processes than the wall time)
    go to ``LAST_CPU``."""
    times = []
    LAST_CPU.clear()
    out = None
    for _ in range(repeat):
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        LAST_CPU.append(cpu_seconds() - c0)
    return times, out


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
