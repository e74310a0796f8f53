"""The omega_engine side of the suite: ``oe.run_many`` / ``oe.walk_forward`` /
``oe.ExecutionSimulator`` in the aligned mode (benchmarks/README.md).

Timed: the public Python call (config preparation, the Rust run with the GIL released, the
Arrow result tables), exactly what a user's call costs. The bars are loaded once before timing
(``oe.load_bars`` of the bid side with ``spread_pips=0``: bid = ask).
"""

from __future__ import annotations

import time
from typing import Any

import common as C
import numpy as np

_oe: Any = None


def _imports() -> Any:
    global _oe
    if _oe is None:
        import omega_engine as oe

        _oe = oe
    return _oe


def aligned() -> dict[str, Any]:
    """Run-level defaults of the aligned mode: fills at the signal bar's close, no pip buffer,
    gaps fill at the open (as vectorbt's stops), fixed 0.5 lots, no costs, and signals in a bar
    where a position closed are skipped (one order per bar, as vectorbt)."""
    return {
        "variant": "v2",
        "market_fill": "signal_close",
        "pip_buffer_factor": 0.0,
        "gap_fills": True,
        "account": {"fixed_lots": C.LOTS},
        "limits": {"max_open_positions": 1, "skip_exit_bar_signals": True},
    }


def to_bars(b: C.Bars) -> Any:
    import pyarrow as pa

    oe = _imports()
    table = pa.table({
        "timestamp": pa.array(b.ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "open": b.open, "high": b.high, "low": b.low, "close": b.close,
    })
    return oe.load_bars("EURUSD", table, spread_pips=0.0)


def _config(p: C.Params) -> Any:
    return _oe.SmaCross(fast=p.fast, slow=p.slow, sl_pips=p.sl_pips, tp_pips=p.tp_pips)


def single(bars: Any, p: C.Params) -> Any:
    return _oe.run_many([_config(p)], bars, include=("summary", "trades"), threads=1,
                        progress=False, errors="raise", **aligned())


def trades_of(res: Any, ts: np.ndarray) -> dict[str, np.ndarray]:
    import pyarrow as pa

    t = res.trades

    def idx(col: str) -> np.ndarray:
        us = t.column(col).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
        i = np.searchsorted(ts, us)
        assert np.array_equal(ts[i], us)
        return i

    direction = np.where(np.asarray(t.column("direction").to_pylist()) == "long", 1, -1)
    return C.trades_dict(idx("entry_time"), idx("exit_time"), direction,
                         t.column("entry_price").to_numpy(), t.column("exit_price").to_numpy(),
                         t.column("gross_pnl").to_numpy())


def sweep(bars: Any, configs: list[C.Params], threads: int) -> Any:
    return _oe.run_many([_config(p) for p in configs], bars, include="summary", threads=threads,
                        progress=False, errors="raise", **aligned())


def walk_forward(bars: Any, configs: list[C.Params], threads: int) -> Any:
    return _oe.walk_forward([_config(p) for p in configs], bars, train=C.W5_TRAIN,
                            test=C.W5_TEST, warmup=C.W5_WARMUP, partial=False,
                            objective=C.W5_OBJECTIVE, min_trades=1, threads=threads,
                            progress=False, **aligned())


# ------------------------------------------------------------------------------------------
# W4: the simulator micro-benchmarks of exec-core (benches/simulator.rs), through Python.

N_W4 = 1_000


def _simulator() -> Any:
    return _oe.ExecutionSimulator(
        risk_per_trade=100.0,
        slippage={"fixed_pips": 0.2, "random_pips": 0.5},
        commission={"schema": "per_million_notional", "rate": 25.0, "min_fee": 1.0},
        base_seed=42,
    )


def _w4_inputs(same_bar: bool) -> tuple[Any, Any, Any]:
    """N_W4 market signals (alternating direction, stops 15-34 pips, TP twice as far) with their
    bid/ask signal bars; on one bar (``same_bar``) or on consecutive minutes."""
    import pyarrow as pa

    i = np.arange(N_W4)
    ts = np.zeros(N_W4, dtype=np.int64) if same_bar else i * 60_000_000
    sign = np.where(i % 2 == 0, 1.0, -1.0)
    sl_pips = 15.0 + (i % 20)
    tsa = pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    signals = pa.table({
        "timestamp": tsa,
        "symbol": pa.array(["EURUSD"] * N_W4),
        "direction": pa.array(np.where(sign > 0, "long", "short")),
        "order_type": pa.array(["market"] * N_W4),
        "entry_price": pa.array([None] * N_W4, pa.float64()),
        "stop_loss": 1.1001 - sign * sl_pips * C.PIP,
        "take_profit": 1.1001 + sign * 2.0 * sl_pips * C.PIP,
    })
    ones = np.ones(N_W4)
    bid = pa.table({"timestamp": tsa, "open": 1.1000 * ones, "high": 1.1010 * ones,
                    "low": 1.0990 * ones, "close": 1.1000 * ones})
    ask = pa.table({"timestamp": tsa, "open": 1.1002 * ones, "high": 1.1012 * ones,
                    "low": 1.0992 * ones, "close": 1.1002 * ones})
    return signals, bid, ask


def w4(repeat: int) -> dict[str, Any]:
    import pyarrow as pa

    signals, bid, ask = _w4_inputs(same_bar=False)
    sig_times = []
    for _ in range(repeat):
        sim = _simulator()
        t0 = time.perf_counter()
        out = sim.process_signals_batch(signals, bid, ask)
        sig_times.append(time.perf_counter() - t0)
    opened = sum(1 for s in out.column("status").to_pylist() if s == "opened")
    # 1,000 positions open at ts 0, then one bar per repeat that hits no level: every position
    # is checked, none closes (so the next repeat checks all 1,000 again).
    s0, b0, a0 = _w4_inputs(same_bar=True)
    sim = _simulator()
    sim.process_signals_batch(s0, b0, a0)
    exit_times = []
    closed = 0
    for k in range(repeat):
        tsa = pa.array([(k + 1) * 60_000_000], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        bb = pa.table({"timestamp": tsa, "open": [1.1000], "high": [1.1005], "low": [1.0995],
                       "close": [1.1000]})
        aa = pa.table({"timestamp": tsa, "open": [1.1002], "high": [1.1007], "low": [1.0997],
                       "close": [1.1002]})
        t0 = time.perf_counter()
        closed += sim.evaluate_exits_batch(bb, aa, symbol="EURUSD")
        exit_times.append(time.perf_counter() - t0)
    return {"signal_times": sig_times, "signals_opened": opened, "exit_times": exit_times,
            "exit_positions": N_W4, "exits_closed": closed}


def run(workload: str, repeat: int, quick: bool, threads: int) -> dict[str, Any]:
    oe = _imports()
    out: dict[str, Any] = {"engine": "omega", "version": oe.__version__, "threads": threads}
    if workload in ("W1", "W2"):
        b = C.load_bars(workload)
        p = C.params_of(workload)
        bars = to_bars(b)
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        single(bars, p)
        out["warmup_s"] = time.perf_counter() - t0
        times, res = C.time_calls(lambda: single(bars, p), repeat)
        tr = trades_of(res, b.ts)
        out.update(times=times, trades=len(tr["entry_i"]), configs=1, bars=len(b),
                   trade_list=tr)
    elif workload == "W3":
        b = C.load_bars("W2")
        bars = to_bars(b)
        configs = C.W3_GRID[:100] if quick else C.W3_GRID
        base = C.peak_rss_mb()
        t0 = time.perf_counter()
        sweep(bars, configs[:4], threads)
        out["warmup_s"] = time.perf_counter() - t0
        times, res = C.time_calls(lambda: sweep(bars, configs, threads), repeat)
        per = res.summary.column("trades").to_numpy()
        out.update(times=times, trades=int(per.sum()), configs=len(configs), bars=len(b),
                   per_config_trades=per.tolist())
    elif workload == "W4":
        base = C.peak_rss_mb()
        r = w4(repeat)
        out.update(r, times=r["signal_times"], trades=r["signals_opened"], configs=1,
                   bars=N_W4)
    elif workload == "W5":
        b = C.load_bars("W2")
        bars = to_bars(b)
        base = C.peak_rss_mb()
        out["warmup_s"] = 0.0
        times, res = C.time_calls(lambda: walk_forward(bars, C.W5_GRID, threads), repeat)
        w = res.windows
        starts = w.column("train_start").cast(_pa_ts()).cast(_pa_i64()).to_numpy()
        out.update(times=times, trades=res.oos_trades.num_rows, configs=len(C.W5_GRID),
                   bars=len(b), chosen=w.column("config_index").to_pylist(),
                   train_start_i=np.searchsorted(b.ts, starts).tolist())
    out["baseline_rss_mb"] = base
    return out


def _pa_ts() -> Any:
    import pyarrow as pa

    return pa.timestamp("us", tz="UTC")


def _pa_i64() -> Any:
    import pyarrow as pa

    return pa.int64()
