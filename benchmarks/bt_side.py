"""The backtesting.py side of the suite: a ``Strategy`` with the same SMA-cross rule (long when
SMA(fast) − SMA(slow) goes from <= 0 to > 0, short from >= 0 to < 0; nothing while a trade is
open) and ``sl``/``tp`` on each order, run by ``Backtest`` with ``trade_on_close=True`` (fills
at the signal bar's close), no commission or spread, 50,000 units per trade.

backtesting.py runs Python per bar, so W3 and W5 run on a subset of the configs (the table says
how many); nothing is extrapolated. Its fills follow its own rules (SL/TP orders start on the bar
after the fill bar, a take-profit needs the price strictly beyond the level), so its trade list is
compared with omega's for information only; the exact agreement the suite requires is with
vectorbt.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from typing import Any

import common as C
import numpy as np


def _frame(bars: C.Bars) -> Any:
    import pandas as pd

    idx = pd.DatetimeIndex(bars.ts.astype("datetime64[us]"))
    return pd.DataFrame({"Open": bars.open, "High": bars.high, "Low": bars.low,
                         "Close": bars.close}, index=idx)


def _strategy(first: int) -> Any:
    from backtesting import Strategy
    from backtesting.test import SMA

    class SmaCrossStops(Strategy):
        fast = 10
        slow = 20
        sl_pips = 30.0
        tp_pips = 60.0

        def init(self) -> None:
            self.f = self.I(SMA, self.data.Close, self.fast)
            self.s = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if self.position or len(self.data) <= first:
                return
            d0 = self.f[-1] - self.s[-1]
            d1 = self.f[-2] - self.s[-2]
            c = self.data.Close[-1]
            if d1 <= 0 < d0:
                self.buy(size=C.UNITS, sl=c - self.sl_pips * C.PIP, tp=c + self.tp_pips * C.PIP)
            elif d1 >= 0 > d0:
                self.sell(size=C.UNITS, sl=c + self.sl_pips * C.PIP, tp=c - self.tp_pips * C.PIP)

    return SmaCrossStops


def single(bars: C.Bars, p: C.Params, first: int = 0) -> Any:
    from backtesting import Backtest

    bt = Backtest(_frame(bars), _strategy(first), cash=1e12, commission=0.0, spread=0.0,
                  margin=1.0, trade_on_close=True, hedging=False, exclusive_orders=False,
                  finalize_trades=True)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return bt.run(fast=p.fast, slow=p.slow, sl_pips=p.sl_pips, tp_pips=p.tp_pips)


def trades_of(stats: Any) -> dict[str, np.ndarray]:
    t = stats["_trades"]
    size = t["Size"].to_numpy()
    return C.trades_dict(t["EntryBar"].to_numpy(), t["ExitBar"].to_numpy(), np.sign(size),
                         t["EntryPrice"].to_numpy(), t["ExitPrice"].to_numpy(),
                         t["PnL"].to_numpy())


def walk_forward(bars: C.Bars, configs: list[C.Params]) -> dict[str, Any]:
    warm = C.W5_WARMUP
    chosen = []
    oos_trades = 0
    for tr_s, te_s, _te_e in C.w5_windows(len(bars)):
        scores = []
        for p in configs:
            st = single(bars.slice(tr_s - warm, te_s), p, first=warm)
            ok = st["# Trades"] >= 1
            scores.append(float(st["Equity Final [$]"] - 1e12) if ok else -np.inf)
        best = int(np.argmax(scores))
        chosen.append(best)
        st = single(bars.slice(te_s - warm, _te_e), configs[best], first=warm)
        oos_trades += int(st["# Trades"])
    return {"chosen": chosen, "oos_trades": oos_trades}


def run(workload: str, repeat: int, quick: bool) -> dict[str, Any]:
    import backtesting

    out: dict[str, Any] = {"engine": "backtesting", "version": backtesting.__version__}
    if workload in ("W1", "W2"):
        bars = C.load_bars(workload)
        p = C.params_of(workload)
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        single(bars.slice(0, min(len(bars), 5_000)), p)
        out["warmup_s"] = time.perf_counter() - t0
        times, st = C.time_calls(lambda: single(bars, p), repeat)
        tr = trades_of(st)
        out.update(times=times, trades=len(tr["entry_i"]), configs=1, bars=len(bars),
                   trade_list=tr)
    elif workload == "W3":
        bars = C.load_bars("W2")
        configs = C.W3_GRID[: (2 if quick else 4)]
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        single(bars.slice(0, 5_000), configs[0])
        out["warmup_s"] = time.perf_counter() - t0

        def sweep() -> list[int]:
            return [int(single(bars, p)["# Trades"]) for p in configs]

        times, counts = C.time_calls(sweep, repeat)
        out.update(times=times, trades=int(sum(counts)), configs=len(configs), bars=len(bars),
                   per_config_trades=counts, subset_of=len(C.W3_GRID))
    elif workload == "W5":
        bars = C.load_bars("W2")
        configs = C.W5_GRID[: (1 if quick else 2)]
        base = C.peak_rss_mb()
        out["warmup_s"] = 0.0
        times, res = C.time_calls(lambda: walk_forward(bars, configs), repeat)
        out.update(times=times, trades=res["oos_trades"], configs=len(configs), bars=len(bars),
                   chosen=res["chosen"], subset_of=len(C.W5_GRID))
    else:
        return {"engine": "backtesting", "skipped": "no equivalent API"}
    out["baseline_rss_mb"] = base
    return out
