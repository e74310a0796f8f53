"""The vectorbt side of the suite: ``Portfolio.from_signals`` with ``sl_stop``/``tp_stop`` on the
same SMA-cross entries as omega's ``sma_cross``, numba engine.

What runs inside the timed section, per workload:

* W1/W2: both SMAs, the cross signals, the stop fractions, ``from_signals``, the trade records.
* W3: the SMAs of the 20 distinct lengths once, the 100 (fast, slow) cross-signal columns once,
  then one ``from_signals`` per block of 100 configs that share their stops (100 columns per
  chunk, which bounds vectorbt's memory), each followed by a per-column summary: trade count and
  total profit from the trade records. (omega's summary holds all its metrics; asking vectorbt
  for a max drawdown as well would more than double its time, since that needs the value
  series of every column, so vectorbt is asked for less.)
* W5: per window the same as W3 on the window's bars (plus warm-up), then the chosen config on
  the test window.

The entries are the same as omega's: the SMAs are computed by a numba function with omega's
arithmetic (a running sum re-summed every 64 × length bars, times 1 / length) and the cross rule
is omega's (fast − slow from <= 0 to > 0 is long, from >= 0 to < 0 short). On decimal prices two
SMAs can be exactly equal; the last bit of the running sum then decides the side, and
``vbt.MA``'s running sum (never re-summed) differs from omega's by up to ~1e-12, which moves
about ten of W2's 5,700 entries by one bar. Same cost class either way: one O(n) pass per length.

Settings that make the runs do the same work as omega's aligned mode (benchmarks/README.md):
``price`` = close (fills at the signal bar's close), ``size`` = 50,000 units, no fees or
slippage, ``upon_opposite_entry="ignore"`` and no accumulation (one position at a time, signals
while in a position are ignored, as omega's ``max_open_positions = 1``), OHLC given so stops hit
intrabar with SL first and gaps fill at the open. ``max_orders`` is set to an upper bound of the
orders (two per entry signal) instead of vectorbt's default of one record per bar and column:
the same results with far less memory.

vectorbt places stops as a fraction of the entry price. For W1/W2 the fraction of each entry is
chosen so that the stop lands on exactly the price omega computes from the pip distance (or, where
no fraction gives that float, on a neighbour that no price of the data set separates from it), so
that ties (a low exactly at the stop) resolve the same way. W3/W5 use the plain fraction
``pips * pip / close`` a vectorbt user would write: a column block holds configs of both
directions, and no single fraction per row reproduces both of omega's levels to the bit, so at
an exact tie (a bar's extreme exactly on a level) the two engines can decide differently; the
suite reports how many configs' trade counts agree.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import common as C
import numpy as np

_vbt: Any = None
_sma_nb: Any = None
_cross_nb: Any = None


def _imports() -> None:
    global _vbt, _sma_nb, _cross_nb
    if _vbt is not None:
        return
    import vectorbt as vbt
    from numba import njit

    @njit(cache=True)
    def sma_nb(x: np.ndarray, p: int) -> np.ndarray:  # pragma: no cover (numba)
        # omega_engine's Sma (crates/loop/src/indicators.rs) operation for operation: a running
        # sum over a ring buffer, re-summed in slot order every 64 * p updates, times 1 / p.
        n = x.shape[0]
        out = np.full(n, np.nan)
        buf = np.zeros(p)
        pos = 0
        count = 0
        s = 0.0
        inv = 1.0 / p
        until = 64 * p
        for i in range(n):
            v = x[i]
            if count == p:
                s += v - buf[pos]
                buf[pos] = v
                until -= 1
                if until == 0:
                    t = 0.0
                    for k in range(p):
                        t += buf[k]
                    s = t
                    until = 64 * p
            else:
                s += v
                buf[pos] = v
                count += 1
            pos += 1
            if pos == p:
                pos = 0
            if count == p:
                out[i] = s * inv
        return out

    @njit(cache=True)
    def cross_nb(f: np.ndarray, s: np.ndarray, first: int,
                 le: np.ndarray, se: np.ndarray) -> None:  # pragma: no cover (numba)
        # omega's sma_cross rule: long when fast - slow goes from <= 0 to > 0, short from >= 0
        # to < 0 (from the second bar on which both averages are defined).
        prev = np.nan
        for i in range(f.shape[0]):
            d = f[i] - s[i]
            le[i] = False
            se[i] = False
            if np.isnan(d):
                continue
            if not np.isnan(prev) and i >= first:
                if prev <= 0.0 and d > 0.0:
                    le[i] = True
                elif prev >= 0.0 and d < 0.0:
                    se[i] = True
            prev = d

    _vbt, _sma_nb, _cross_nb = vbt, sma_nb, cross_nb


def _mas(close: np.ndarray, windows: list[int]) -> dict[int, np.ndarray]:
    """SMA of each distinct window, computed once per window."""
    return {w: _sma_nb(close, w) for w in sorted(set(windows))}


def _signals(fast: np.ndarray, slow: np.ndarray, first: int,
             le: np.ndarray | None = None,
             se: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if le is None or se is None:
        le = np.empty(fast.shape[0], dtype=np.bool_)
        se = np.empty(fast.shape[0], dtype=np.bool_)
    _cross_nb(fast, slow, first, le, se)
    return le, se


# ------------------------------------------------------------------------------------------
# Exact stop fractions (W1/W2)

def _exact(c: np.ndarray, target: np.ndarray, above: bool, prices: np.ndarray) -> np.ndarray:
    """Fractions f such that vectorbt's level ``c * (1 ± f)`` is ``target`` to the bit, or
    else a neighbouring float that no price in ``prices`` (sorted, unique) separates from it.
    ``above``: the level is above the entry (long TP, short SL), tested with ``x >= level``."""
    g0 = target / c
    cands = [g0]
    up = dn = g0
    for _ in range(4):
        up = np.nextafter(up, np.inf)
        dn = np.nextafter(dn, -np.inf)
        cands += [up, dn]
    g = np.stack(cands)  # (9, m)
    level = c * g
    lo = np.minimum(level, target)
    hi = np.maximum(level, target)
    if above:  # x >= level: a price in [lo, hi) would compare differently
        between = np.searchsorted(prices, hi, "left") - np.searchsorted(prices, lo, "left")
    else:  # x <= level: a price in (lo, hi]
        between = np.searchsorted(prices, hi, "right") - np.searchsorted(prices, lo, "right")
    err = np.abs(level - target)
    score = np.where(between == 0, err, np.inf)
    pick = np.argmin(score, axis=0)
    fallback = ~np.isfinite(score.min(axis=0))
    pick[fallback] = np.argmin(err[:, fallback], axis=0)
    best = g[pick, np.arange(g.shape[1])]
    # vectorbt computes c * (1 + f) above and c * (1 - f) below; 1 ± (±(g − 1)) == g exactly.
    return best - 1.0 if above else 1.0 - best


def _stop_fractions(c: np.ndarray, le: np.ndarray, se: np.ndarray, p: C.Params,
                    prices: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    sl_d = p.sl_pips * C.PIP
    tp_d = p.tp_pips * C.PIP
    if prices is None:  # the plain fractions: one column, broadcast over the configs
        sl, tp = sl_d / c, tp_d / c
        return (sl, tp) if le.ndim == 1 else (sl[:, None], tp[:, None])
    n = len(c)
    sl = np.full(n, np.nan)
    tp = np.full(n, np.nan)
    li = np.flatnonzero(le)
    si = np.flatnonzero(se)
    # omega: long SL = c - sl_d, TP = c + tp_d; short SL = c + sl_d, TP = c - tp_d.
    sl[li] = _exact(c[li], c[li] - sl_d, False, prices)
    tp[li] = _exact(c[li], c[li] + tp_d, True, prices)
    sl[si] = _exact(c[si], c[si] + sl_d, True, prices)
    tp[si] = _exact(c[si], c[si] - tp_d, False, prices)
    return sl, tp


def _portfolio(bars: C.Bars, le: np.ndarray, se: np.ndarray, sl: np.ndarray,
               tp: np.ndarray) -> Any:
    n_entries = int(le.sum()) + int(se.sum())
    cols = 1 if le.ndim == 1 else le.shape[1]

    def col(x: np.ndarray) -> np.ndarray:  # one price column broadcast over the configs
        return x if le.ndim == 1 else x[:, None]

    return _vbt.Portfolio.from_signals(
        col(bars.close),
        entries=le,
        exits=False,
        short_entries=se,
        short_exits=False,
        open=col(bars.open),
        high=col(bars.high),
        low=col(bars.low),
        sl_stop=sl,
        tp_stop=tp,
        size=C.UNITS,
        size_type="amount",
        fees=0.0,
        slippage=0.0,
        init_cash=1e12,
        accumulate=False,
        upon_opposite_entry="ignore",
        max_orders=2 * n_entries + 2 * cols,
        freq="1min",
        engine="numba",
    )


def prices_of(bars: C.Bars) -> np.ndarray:
    return np.unique(np.concatenate([bars.open, bars.high, bars.low, bars.close]))


def single(bars: C.Bars, p: C.Params, prices: np.ndarray | None, first: int = 0) -> Any:
    """One config: the portfolio (trade records ready)."""
    mas = _mas(bars.close, [p.fast, p.slow])
    le, se = _signals(mas[p.fast], mas[p.slow], first)
    sl, tp = _stop_fractions(bars.close, le, se, p, prices)
    pf = _portfolio(bars, le, se, sl, tp)
    pf.trades.values  # noqa: B018 (materialize the trade records)
    return pf


def trades_of(pf: Any) -> dict[str, np.ndarray]:
    r = pf.trades.values
    direction = np.where(r["direction"] == 0, 1, -1)
    return C.trades_dict(r["entry_idx"], r["exit_idx"], direction, r["entry_price"],
                         r["exit_price"], r["pnl"])


def sweep(bars: C.Bars, configs: list[C.Params], first: int = 0,
          chunk: int = 100) -> dict[str, np.ndarray]:
    """Every config, summary only: trade count and total profit per config (configs in blocks
    of ``chunk`` that share their stops)."""
    close = bars.close
    mas = _mas(close, [p.fast for p in configs] + [p.slow for p in configs])
    pairs: dict[tuple[int, int], int] = {}
    for p in configs:
        pairs.setdefault((p.fast, p.slow), len(pairs))
    n = len(close)
    # Column-major: each column is written by one pass and read by vectorbt column by column.
    le_all = np.empty((n, len(pairs)), dtype=np.bool_, order="F")
    se_all = np.empty((n, len(pairs)), dtype=np.bool_, order="F")
    for (f, s), k in pairs.items():
        _signals(mas[f], mas[s], first, le_all[:, k], se_all[:, k])
    trades = np.empty(len(configs), dtype=np.int64)
    profit = np.empty(len(configs))
    for a in range(0, len(configs), chunk):
        block = configs[a:a + chunk]
        stops = {(p.sl_pips, p.tp_pips) for p in block}
        if len(stops) != 1:
            raise ValueError("a chunk must share its stops (see common.grid)")
        cols = [pairs[(p.fast, p.slow)] for p in block]
        le = np.asfortranarray(le_all[:, cols])
        se = np.asfortranarray(se_all[:, cols])
        sl, tp = _stop_fractions(close, le, se, block[0], None)
        pf = _portfolio(bars, le, se, sl, tp)
        trades[a:a + len(block)] = pf.trades.count().to_numpy()
        profit[a:a + len(block)] = pf.total_profit().to_numpy()
        # vectorbt's objects hold reference cycles (cached wrappers): without a collection the
        # chunks' arrays pile up (18 GB for W3 instead of the ~4 GB of one chunk).
        del pf, le, se
        gc.collect()
    return {"trades": trades, "net_profit": profit}


def walk_forward(bars: C.Bars, configs: list[C.Params]) -> dict[str, Any]:
    """W5: per window every config in sample, the best by net profit (at least one trade, ties
    to the lowest index) out of sample."""
    chosen = []
    oos_trades = 0
    oos_profit = 0.0
    warm = C.W5_WARMUP
    for tr_s, te_s, te_e in C.w5_windows(len(bars)):
        ins = sweep(bars.slice(tr_s - warm, te_s), configs, first=warm)
        score = np.where(ins["trades"] >= 1, ins["net_profit"], -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        pf = single(bars.slice(te_s - warm, te_e), configs[best], None, first=warm)
        oos_trades += int(pf.trades.count())
        oos_profit += float(pf.total_profit())
    return {"chosen": chosen, "oos_trades": oos_trades, "oos_net_profit": oos_profit}


def run(workload: str, repeat: int, quick: bool) -> dict[str, Any]:
    _imports()
    out: dict[str, Any] = {"engine": "vectorbt", "version": _vbt.__version__}
    if workload in ("W1", "W2"):
        bars = C.load_bars(workload)
        p = C.params_of(workload)
        prices = prices_of(bars)
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        single(bars.slice(0, min(len(bars), 20_000)), p, prices)  # numba compile/cache load
        out["warmup_s"] = time.perf_counter() - t0
        times, pf = C.time_calls(lambda: single(bars, p, prices), repeat)
        tr = trades_of(pf)
        out.update(times=times, trades=len(tr["entry_i"]), configs=1, bars=len(bars),
                   trade_list=tr)
    elif workload == "W3":
        bars = C.load_bars("W2")
        configs = C.W3_GRID[:100] if quick else C.W3_GRID
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        sweep(bars.slice(0, 20_000), configs[:100])
        out["warmup_s"] = time.perf_counter() - t0
        times, res = C.time_calls(lambda: sweep(bars, configs), repeat)
        out.update(times=times, trades=int(res["trades"].sum()), configs=len(configs),
                   bars=len(bars), per_config_trades=res["trades"].tolist())
    elif workload == "W5":
        bars = C.load_bars("W2")
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        sweep(bars.slice(0, 20_000), C.W5_GRID[:100])
        out["warmup_s"] = time.perf_counter() - t0
        times, res = C.time_calls(lambda: walk_forward(bars, C.W5_GRID), repeat)
        out.update(times=times, trades=res["oos_trades"], configs=len(C.W5_GRID),
                   bars=len(bars), chosen=res["chosen"], oos_net_profit=res["oos_net_profit"])
    else:
        return {"engine": "vectorbt", "skipped": "no equivalent API"}
    out["baseline_rss_mb"] = base
    return out
