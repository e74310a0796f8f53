"""walk_forward end to end on synthetic bars: choice, stitching, no look-ahead, determinism."""

import io
import math

import numpy as np
import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from omega_engine.strategies import SmaCross
from omega_engine.walk_forward import compute_windows, walk_forward

HOUR = 3_600_000_000
DAY = 24 * HOUR
PRICE_COLUMNS = ("bid_open", "bid_high", "bid_low", "bid_close",
                 "ask_open", "ask_high", "ask_low", "ask_close")


@pytest.fixture(scope="module")
def bars():
    return oe.synthetic_bars("EURUSD", n=6000, timeframe="1h", seed=7)


@pytest.fixture(scope="module")
def grid():
    return oe.grid(SmaCross, fast=[4, 8, 16], slow=[24, 48], sl_pips=[15], tp_pips=[30])


WF = {"train": "40D", "test": "15D", "objective": "sharpe", "min_trades": 1, "threads": 2,
      "progress": False, "risk_per_trade": 100.0}


@pytest.fixture(scope="module")
def result(bars, grid):
    return walk_forward(grid, bars, **WF)


def ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def ts_int(col) -> np.ndarray:
    return np.asarray(col.cast(pa.int64()).to_numpy(zero_copy_only=False))


def test_result_shape(result, bars, grid):
    w = result.windows
    ts = ts_int(bars.timestamps())
    expected = compute_windows(ts, train="40D", test="15D", warmup=48 + 1)
    assert w.num_rows == len(expected) >= 5
    assert w["window_id"].to_pylist() == list(range(len(expected)))
    assert ts_int(w["test_start"]).tolist() == [int(ts[x.test_start]) for x in expected]
    assert ts_int(w["test_end"]).tolist() == [int(ts[x.test_end - 1]) for x in expected]
    assert w["candidates"].to_pylist() == [len(grid)] * w.num_rows
    assert set(w["status"].to_pylist()) <= {"ok", "no_candidate"}
    assert "ok" in w["status"].to_pylist()
    for name in ("fast", "slow", "config_id", "objective", "oos_net_profit", "efficiency"):
        assert name in w.column_names
    assert result.param_names == ("fast", "slow")
    assert result.oos_trades.num_rows > 0
    assert pa.types.is_timestamp(result.oos_equity.schema.field("timestamp").type)
    assert result.oos_equity.schema.field("timestamp").type.tz == "UTC"


def test_choice_is_the_in_sample_best(result, bars, grid):
    """Rerun window 0's in-sample batch by hand: the chosen config is the best by the objective,
    ties to the lowest index."""
    w0 = result.windows.slice(0, 1).to_pylist()[0]
    ts = ts_int(bars.timestamps())
    start = int(ts_int(result.windows["train_start"])[0])
    end = int(ts_int(result.windows["train_end"])[0])
    first = int(np.searchsorted(ts, start)) - 49
    last = int(np.searchsorted(ts, end, side="right"))
    res = oe.run_many(list(grid), bars.slice(max(first, 0), last), include="summary",
                      start=start, end=end, risk_per_trade=100.0, progress=False)
    s = res.summary
    sharpe = np.asarray(s["sharpe"].to_numpy(zero_copy_only=False), dtype=float)
    trades = np.asarray(s["trades"].to_numpy(zero_copy_only=False))
    ok = np.isfinite(sharpe) & (trades >= 1)
    best = max(np.flatnonzero(ok), key=lambda i: (sharpe[i], -i))
    assert w0["config_index"] == best
    assert w0["objective"] == sharpe[best]
    assert w0["config_id"] == oe.config_id(grid[best], "EURUSD", risk_per_trade=100.0)


def test_oos_trades_stay_inside_their_test_windows(result):
    w = result.windows
    t = result.oos_trades
    starts = dict(zip(w["window_id"].to_pylist(), ts_int(w["test_start"]), strict=True))
    ends = dict(zip(w["window_id"].to_pylist(), ts_int(w["test_end"]), strict=True))
    entry, exit_ = ts_int(t["entry_time"]), ts_int(t["exit_time"])
    for wid, a, b in zip(t["window_id"].to_pylist(), entry, exit_, strict=True):
        assert starts[wid] <= a <= b <= ends[wid]


def test_stitched_account_is_continuous(result):
    eq = result.oos_equity
    # one point per test bar, in time order, no overlap between windows
    t = ts_int(eq["timestamp"])
    assert np.all(np.diff(t) > 0)
    assert eq.num_rows == sum(result.windows.filter(pc.equal(result.windows["rank"], 1))
                              ["test_bars"].to_pylist())
    # every window ends flat (end_of_data), so the account's change is exactly the trades' PnL
    pnl = float(pc.sum(result.oos_trades["net_pnl"]).as_py())
    final = eq["equity"][-1].as_py()
    assert final - 100_000.0 == pytest.approx(pnl, abs=1e-6)
    assert result.oos_summary["net_profit"] == pytest.approx(pnl, abs=1e-6)
    # each window ends flat (balance == equity) and the next one starts from that balance
    wid = np.asarray(eq["window_id"].to_numpy(zero_copy_only=False))
    bal = np.asarray(eq["balance"].to_numpy(zero_copy_only=False))
    equity = np.asarray(eq["equity"].to_numpy(zero_copy_only=False))
    for k in range(wid.max() + 1):
        assert equity[wid == k][-1] == pytest.approx(bal[wid == k][-1], abs=1e-6)
    per_window = {}
    for row in result.oos_trades.select(["window_id", "net_pnl"]).to_pylist():
        per_window[row["window_id"]] = per_window.get(row["window_id"], 0.0) + row["net_pnl"]
    running = 100_000.0
    for k in range(wid.max() + 1):
        running += per_window.get(k, 0.0)
        assert bal[wid == k][-1] == pytest.approx(running, abs=1e-6)


def test_efficiency_and_stability_are_consistent(result):
    w = result.windows.filter(pc.equal(result.windows["status"], "ok"))
    eff = w["efficiency"].to_pylist()
    for row, e in zip(w.to_pylist(), eff, strict=True):
        if row["is_annualized_pct"] > 0:
            assert e == pytest.approx(row["oos_annualized_pct"] / row["is_annualized_pct"])
        else:
            assert math.isnan(e)
    mean_is = float(np.mean(w["is_annualized_pct"].to_pylist()))
    expected = result.oos_summary["annualized_return_pct"] / mean_is if mean_is > 0 else math.nan
    assert (math.isnan(expected) and math.isnan(result.efficiency)) or \
        result.efficiency == pytest.approx(expected)
    ps = result.param_stability
    for p in ("fast", "slow"):
        sub = ps.filter(pc.equal(ps["param"], p))
        assert sum(sub["times_chosen"].to_pylist()) == w.num_rows
        assert sum(sub["share"].to_pylist()) == pytest.approx(1.0)
        chosen = w[p].to_pylist()
        switches = sum(a != b for a, b in zip(chosen, chosen[1:], strict=False))
        assert sub["switch_rate"][0].as_py() == pytest.approx(switches / (len(chosen) - 1))


def test_deterministic_across_reruns_and_threads(bars, grid, result):
    again = walk_forward(grid, bars, **dict(WF, threads=1))
    for name in ("windows", "oos_trades", "oos_equity", "param_stability", "is_equity"):
        assert ipc(getattr(again, name)) == ipc(getattr(result, name)), name


def _poisoned(bars, after_us: int):
    """The bars with every bar after ``after_us`` replaced by wild prices (consistent OHLC)."""
    table = bars.to_arrow()
    ts = ts_int(table["timestamp"])
    cut = int(np.searchsorted(ts, after_us, side="right"))
    rng = np.random.default_rng(123)
    factor = np.ones(len(ts))
    factor[cut:] = rng.uniform(0.3, 4.0, len(ts) - cut)
    cols = {"timestamp": table["timestamp"]}
    for c in PRICE_COLUMNS:
        cols[c] = pa.array(np.asarray(table[c].to_numpy()) * factor)
    if "volume" in table.column_names:
        cols["volume"] = table["volume"]
    return oe.load_bars("EURUSD", pa.table(cols)), cut


def test_no_look_ahead(bars, grid, result):
    """Poisoning every bar after window k's test end changes nothing in windows 0..k."""
    w = result.windows
    ends = ts_int(w["test_end"])
    later_changed = False
    for k in range(len(ends) - 1):
        poisoned, cut = _poisoned(bars, int(ends[k]))
        assert cut < len(bars)
        res = walk_forward(grid, poisoned, **WF)
        keep = pc.less_equal(res.windows["window_id"], k)
        assert ipc(res.windows.filter(keep)) == ipc(w.filter(pc.less_equal(w["window_id"], k)))
        for name in ("oos_trades", "oos_equity", "is_equity"):
            a, b = getattr(res, name), getattr(result, name)
            assert ipc(a.filter(pc.less_equal(a["window_id"], k))) == \
                ipc(b.filter(pc.less_equal(b["window_id"], k))), (name, k)
        later = pc.greater(res.windows["window_id"], k)
        if ipc(res.windows.filter(later)) != ipc(w.filter(pc.greater(w["window_id"], k))):
            later_changed = True
    assert later_changed, "the poison never changed a later window: the test proves nothing"


def test_warmup_makes_oos_equal_to_a_full_history_run(result, bars, grid):
    """An OOS run sees only warm-up + test bars; with enough warm-up its trades equal a run on
    the whole history up to the window end (indicators valid at the window start)."""
    table = result.windows.filter(pc.equal(result.windows["status"], "ok")).slice(1, 1)
    row = table.to_pylist()[0]
    start = int(ts_int(table["test_start"])[0])
    end = int(ts_int(table["test_end"])[0])
    ts = ts_int(bars.timestamps())
    cfg = grid[row["config_index"]]
    full = oe.run(cfg, bars.slice(0, int(np.searchsorted(ts, end, side="right"))),
                  start=start, end=end, risk_per_trade=100.0,
                  initial_balance=float(result.oos_equity.filter(pc.equal(
                      result.oos_equity["window_id"], row["window_id"] - 1))["equity"][-1]
                                        .as_py()))
    mine = result.oos_trades.filter(pc.equal(result.oos_trades["window_id"], row["window_id"]))
    cols = ["entry_time", "exit_time", "entry_price", "exit_price", "lots", "net_pnl", "reason"]
    assert mine.select(cols).to_pylist() == full.trades.select(cols).to_pylist()


def test_no_candidate_windows_keep_the_account_flat(bars, grid):
    res = walk_forward(grid, bars, **dict(WF, min_trades=10_000))
    assert set(res.windows["status"].to_pylist()) == {"no_candidate"}
    assert res.oos_trades.num_rows == 0
    assert "net_pnl" in res.oos_trades.column_names
    assert set(res.oos_equity["equity"].to_pylist()) == {100_000.0}
    assert math.isnan(res.efficiency)


def test_objective_callable_minimize_and_top_k(bars, grid):
    by_name = walk_forward(grid, bars, **dict(WF, objective="-max_drawdown_pct"))
    by_callable = walk_forward(grid, bars, **dict(
        WF, objective=lambda s: pc.negate(s["max_drawdown_pct"])))
    assert by_name.windows["config_index"].to_pylist() == \
        by_callable.windows["config_index"].to_pylist()
    top2 = walk_forward(grid, bars, **dict(WF, top_k=2))
    ok = top2.windows.filter(pc.equal(top2.windows["status"], "ok"))
    assert set(ok["rank"].to_pylist()) == {1, 2}
    for wid in set(ok["window_id"].to_pylist()):
        sub = ok.filter(pc.equal(ok["window_id"], wid))
        if sub.num_rows == 2:
            assert sub["objective"][0].as_py() >= sub["objective"][1].as_py()
    assert set(top2.oos_trades["rank"].to_pylist()) <= {1, 2}


def test_ties_go_to_the_lowest_config_index(bars):
    same = [SmaCross(8, 24, sl_pips=15, tp_pips=30)] * 3
    res = walk_forward(same, bars, **WF)
    ok = res.windows.filter(pc.equal(res.windows["status"], "ok"))
    assert set(ok["config_index"].to_pylist()) == {0}


def test_anchored_bar_counts_with_gap(bars, grid):
    res = walk_forward(grid, bars, **dict(WF, train=800, test=400, gap=24, anchored=True))
    w = res.windows
    assert len(set(ts_int(w["train_start"]).tolist())) == 1
    assert all(b == 400 for b in w["test_bars"].to_pylist()[:-1])


def test_errors_are_coded(bars, grid):
    with pytest.raises(ValueError, match=r"^\[1009\] INVALID_WINDOW"):
        walk_forward(grid, bars.slice(0, 500), **WF)
    with pytest.raises(ValueError, match=r"^\[1009\] INVALID_WINDOW: start"):
        walk_forward(grid, bars, start=0, **WF)
    with pytest.raises(ValueError, match=r"^\[1001\] INVALID_PARAMETER: search"):
        walk_forward(grid, bars, search="random", **WF)
    with pytest.raises(ValueError, match=r"^\[1001\] INVALID_PARAMETER: objective"):
        walk_forward(grid, bars, **dict(WF, objective="no_such_metric"))
    with pytest.raises(ValueError, match=r"^\[1001\] INVALID_PARAMETER: objective"):
        walk_forward(grid, bars, **dict(WF, objective=lambda s: [1.0]))
    with pytest.raises(ValueError, match=r"^\[1001\] INVALID_PARAMETER: top_k"):
        walk_forward(grid, bars, **dict(WF, top_k=0))


def test_optuna_search_is_seeded(bars):
    pytest.importorskip("optuna")
    big = oe.grid(SmaCross, fast=[3, 5, 8, 12, 16], slow=[20, 30, 40, 60, 90], sl_pips=[15],
                  tp_pips=[30])
    kw = dict(WF, search="optuna", n_trials=10, seed=3)
    a = walk_forward(big, bars, **kw)
    b = walk_forward(big, bars, **kw)
    assert ipc(a.windows) == ipc(b.windows)
    assert ipc(a.oos_trades) == ipc(b.oos_trades)
    assert all(0 < c <= 10 for c in a.windows["candidates"].to_pylist())
    assert max(a.windows["candidates"].to_pylist()) < len(big)


def test_progress_callback_and_partial(bars, grid, result):
    calls = []
    res = walk_forward(grid, bars, **dict(WF, progress=lambda d, t: calls.append((d, t)),
                                          partial=False))
    n = res.windows.num_rows
    assert calls == [(i + 1, n) for i in range(n)]
    assert not any(res.windows["partial"].to_pylist())
    kept = result.windows["partial"].to_pylist()
    assert n == len(kept) - (1 if kept[-1] else 0)


def test_several_symbols_each_config_on_its_own_bars(bars):
    gbp = oe.synthetic_bars("GBPUSD", n=6000, timeframe="1h", seed=8)
    configs = [{"symbol": sym, "strategy": {"name": "sma_cross", "params": {
        "fast": f, "slow": 48, "sl_pips": 15, "tp_pips": 30}}}
        for sym in ("EURUSD", "GBPUSD") for f in (4, 16)]
    res = walk_forward(configs, {"EURUSD": bars, "GBPUSD": gbp}, **WF)
    ok = res.windows.filter(pc.equal(res.windows["status"], "ok"))
    chosen_symbol = {row["window_id"]: configs[row["config_index"]]["symbol"]
                     for row in ok.to_pylist()}
    assert set(chosen_symbol.values()) <= {"EURUSD", "GBPUSD"}
    for row in res.oos_trades.select(["window_id", "symbol"]).to_pylist():
        assert row["symbol"] == chosen_symbol[row["window_id"]]


def test_dask_executor_gives_identical_results(bars, grid, result):
    pytest.importorskip("distributed", reason="dask distributed not installed "
                                              "(pip install 'omega-engine[dask]')")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        res = walk_forward(grid, bars, executor=client, **WF)
    for name in ("windows", "oos_trades", "oos_equity"):
        assert ipc(getattr(res, name)) == ipc(getattr(result, name)), name


def test_an_invalid_config_fails_up_front(bars, grid):
    bad = {"strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 10, "sl_pips": 15,
                                                        "tp_pips": 30}}}
    with pytest.raises(ValueError, match=r"^\[1003\] INVALID_CONFIG: .*fast"):
        walk_forward([*grid, bad], bars, **WF)
    assert set(walk_forward(grid, bars, **WF).windows["failed"].to_pylist()) == {0}
