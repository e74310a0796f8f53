"""run / run_many end to end: tables, include, progress, errors, multi-symbol data, signals."""

from __future__ import annotations

import warnings

import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import bars_table
from omega_engine import _core
from omega_engine.strategies import (
    DonchianBreakout,
    RsiReversion,
    Signals,
    SmaCross,
    ZscoreReversion,
)

SMA = SmaCross(10, 50, sl_pips=15, tp_pips=30)


def test_run_returns_three_tables(small_bars: oe.Bars) -> None:
    r = oe.run(SMA, small_bars, costs="ftmo_like", seed=1)
    assert r.summary.num_rows == 1 and r.trades is not None and r.equity is not None
    assert r.summary.schema.field("config_id").type == pa.string()
    s = r.summary.to_pylist()[0]
    assert s["trades"] == r.trades.num_rows > 10
    assert s["error_code"] is None and s["fast"] == 10 and s["strategy"] == "sma_cross"
    assert s["net_profit"] == pytest.approx(pc.sum(r.trades.column("net_pnl")).as_py())
    assert r.equity.num_rows == len(small_bars)
    assert r.trades.schema.equals(oe.schemas()["trades"])
    assert r.equity.schema.equals(oe.schemas()["equity"])
    assert set(pc.unique(r.trades.column("reason")).to_pylist()) <= {
        "stop_loss", "take_profit", "end_of_data"}
    assert r.config(0)["strategy"] == SMA.to_config()


def test_run_many_include_and_order(small_bars: oe.Bars) -> None:
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[30, 60], sl_pips=[10, 20], tp_pips=[20])
    r = oe.run_many(grid, small_bars, include="summary", progress=False)
    assert r.trades is None and r.equity is None and len(r) == len(grid)
    assert r.summary.column("config_index").to_pylist() == list(range(len(grid)))
    assert r.summary.column("fast").to_pylist() == [float(s.fast) for s in grid]
    full = oe.run_many(grid, small_bars, include=("summary", "trades", "equity"), progress=False)
    assert full.summary.equals(r.summary)
    assert full.equity.num_rows == len(grid) * len(small_bars)
    idx = full.trades.column("config_index").to_pylist()
    assert idx == sorted(idx)
    with pytest.raises(oe.errors.InvalidParameterError, match="include"):
        oe.run_many(grid, small_bars, include=("summary", "tardes"))
    with pytest.raises(oe.errors.InvalidParameterError, match="not requested"):
        r.to_pandas("trades")


def test_every_strategy_runs(small_bars: oe.Bars) -> None:
    configs = [
        SmaCross(5, 20, sl_pips=10, tp_pips=20),
        oe.EmaCross(5, 20, sl_atr=2.0, tp_atr=3.0),
        DonchianBreakout(20, sl_pips=10, tp_pips=20),
        ZscoreReversion(30, 2.0, sl_pips=10, tp_pips=10),
        ZscoreReversion(30, 2.0, limit_offset_pips=1.0, sl_pips=10, tp_pips=10),
        RsiReversion(14, 30, 70, sl_pips=10, tp_pips=10),
    ]
    r = oe.run_many(configs, small_bars, pending_ttl_bars=5, progress=False, errors="raise")
    assert r.failed().num_rows == 0
    assert all(t > 0 for t in r.summary.column("trades").to_pylist())
    assert r.summary.column("strategy").to_pylist() == [c.name for c in configs]


def test_multi_symbol_data() -> None:
    data = {"EURUSD": oe.synthetic_bars("EURUSD", n=5000, seed=1),
            "GBPUSD": oe.synthetic_bars("GBPUSD", n=3000, seed=2)}
    cfgs = [{"symbol": "EURUSD", "strategy": SMA}, {"symbol": "GBPUSD", "strategy": SMA}]
    r = oe.run_many(cfgs, data, include=("summary", "equity"), progress=False)
    assert r.summary.column("symbol").to_pylist() == ["EURUSD", "GBPUSD"]
    counts = pc.value_counts(r.equity.column("config_index")).to_pylist()
    assert sorted((c["values"], c["counts"]) for c in counts) == [(0, 5000), (1, 3000)]
    with pytest.raises(oe.errors.InvalidConfigError, match="several symbols"):
        oe.run_many([SMA], data)
    with pytest.raises(oe.errors.InvalidParameterError, match="holds the bars"):
        oe.run_many([SMA], {"GBPUSD": data["EURUSD"]})


def test_progress_callback(small_bars: oe.Bars) -> None:
    seen: list[tuple[int, int]] = []
    grid = oe.grid(SmaCross, fast=[5, 10], slow=[30, 60], sl_pips=10, tp_pips=10)
    oe.run_many(grid, small_bars, progress=lambda d, t: seen.append((d, t)), include="summary")
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(oe.errors.InvalidParameterError, match="progress"):
        oe.run_many(grid, small_bars, progress="yes")

    def boom(done: int, total: int) -> None:
        if done == total:
            raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        oe.run_many(grid, small_bars, progress=boom)


def test_failed_configs_policy(small_bars: oe.Bars) -> None:
    # A start after the last bar leaves the run without data: a per-config failure (2008).
    cfgs = [SMA, {"strategy": SMA, "start": small_bars.end + 1}]
    with pytest.warns(oe.OmegaWarning, match="1 of 2 configs failed"):
        r = oe.run_many(cfgs, small_bars, progress=False)
    failed = r.failed()
    assert failed.column("config_index").to_pylist() == [1]
    assert failed.column("error_code").to_pylist() == [2008]
    assert failed.column("net_profit").null_count == 1
    with pytest.raises(oe.errors.EmptyDataError):
        oe.run_many(cfgs, small_bars, errors="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oe.run_many(cfgs, small_bars, errors="ignore", progress=False)
    with pytest.raises(oe.errors.EmptyDataError):
        oe.run(cfgs[1], small_bars)


def test_bad_run_arguments(small_bars: oe.Bars) -> None:
    with pytest.raises(oe.errors.InvalidParameterError, match="threads"):
        oe.run_many([SMA], small_bars, threads=0)
    with pytest.raises(oe.errors.InvalidParameterError, match="data"):
        oe.run_many([SMA], small_bars.to_arrow())
    nope = oe.load_bars("NOPE", bars_table(5))
    with pytest.raises(oe.errors.UnknownSymbolError, match="NOPE"):
        oe.run_many([SMA], nope)
    with pytest.raises(oe.errors.InvalidParameterError, match="one config"):
        oe.run([SMA, SMA], small_bars)
    with pytest.raises(oe.errors.InvalidParameterError, match="executor"):
        oe.run_many([SMA], small_bars, executor=object())
    # a config naming a symbol the data lacks fails that config with 1002
    eur = {"EURUSD": small_bars}
    r = oe.run_many([{"strategy": SMA, "symbol": "GBPUSD"}], eur, errors="ignore")
    assert r.summary.column("error_code").to_pylist() == [1002]


def test_result_conversions_and_best(small_bars: oe.Bars) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[50], sl_pips=[10, 20], tp_pips=20)
    r = oe.run_many(grid, small_bars, progress=False)
    assert isinstance(r.to_pandas(), pd.DataFrame) and len(r.to_pandas("trades")) > 0
    assert isinstance(r.to_polars("summary"), pl.DataFrame)
    best = r.best("net_profit", n=2)
    values = r.summary.column("net_profit").to_pylist()
    assert best.column("net_profit").to_pylist() == sorted(values, reverse=True)[:2]
    with pytest.raises(oe.errors.InvalidParameterError, match="metric"):
        r.best("nope")
    assert "summary=6 rows" in repr(r)


def test_signals_strategy_reproduces_a_builtin(small_bars: oe.Bars) -> None:
    """The trades of sma_cross, fed back as a signals table, give the same trades."""
    base = oe.run(SMA, small_bars, include=("summary", "trades"))
    t = base.trades
    signals = pa.table({
        "timestamp": t.column("placement_time"),
        "symbol": t.column("symbol"),
        "direction": t.column("direction"),
        "order_type": t.column("order_type"),
        "entry_price": pa.nulls(t.num_rows, pa.float64()),
        "stop_loss": t.column("initial_stop_loss"),
        "take_profit": t.column("initial_take_profit"),
        "reason": pa.array([f"sig{i}" for i in range(t.num_rows)]),
    })
    again = oe.run(Signals("mine"), small_bars, signals={"mine": signals})
    cols = ["direction", "entry_time", "exit_time", "entry_price", "exit_price", "lots", "reason"]
    assert again.trades.select(cols).equals(t.select(cols))
    assert again.trades.column("signal_reason").to_pylist()[:2] == ["sig0", "sig1"]
    # pandas input with a naive datetime column works too
    pytest.importorskip("pandas")
    df = signals.to_pandas()
    df["timestamp"] = df["timestamp"].dt.tz_localize(None)
    assert oe.run(Signals(), small_bars, signals=df).trades.select(cols).equals(t.select(cols))
    bad = signals.set_column(2, "direction", pa.array(["up"] * t.num_rows))
    with pytest.raises(oe.errors.InvalidParameterError, match="direction"):
        oe.run(Signals(), small_bars, signals=bad)
    with pytest.raises(oe.errors.SchemaViolationError, match="stop_loss"):
        oe.run(Signals(), small_bars, signals=signals.drop_columns(["stop_loss"]))


def test_core_rejects_bad_config_json(small_bars: oe.Bars) -> None:
    with pytest.raises(_core.OmegaCoreError) as info:
        _core.run_many(["{not json"], {"EURUSD": small_bars.core})
    assert info.value.code == 1003 and "configs[0]" in str(info.value)


def test_progress_bar_on_request(small_bars: oe.Bars, capsys: pytest.CaptureFixture[str]) -> None:
    grid = oe.grid(SmaCross, fast=[5, 10], slow=[30], sl_pips=10, tp_pips=10)
    oe.run_many(grid, small_bars, progress=True, include="summary")
    err = capsys.readouterr().err
    assert "omega_engine" in err and "2/2" in err
    oe.run_many(grid, small_bars, progress=False, include="summary")
    assert capsys.readouterr().err == ""


def test_ticks_run_the_signals_strategy() -> None:
    n = 2_000
    ts = pa.array([1_704_067_200_000_000 + i * 1_000_000 for i in range(n)],
                  pa.timestamp("us", tz="UTC"))
    bid = [1.1 + 0.00001 * (i % 50) for i in range(n)]
    ticks = oe.load_ticks("EURUSD", pa.table({"timestamp": ts, "bid": bid,
                                              "ask": [b + 0.0001 for b in bid]}))
    signals = pa.table({"timestamp": ts.take([10, 500]), "symbol": ["EURUSD", "EURUSD"],
                        "direction": ["long", "short"], "stop_loss": [1.0990, 1.1015],
                        "take_profit": [1.1004, 1.0995]})
    r = oe.run(Signals(), ticks, signals=signals)
    assert r.trades.column("direction").to_pylist() == ["long", "short"]
    assert r.trades.column("entry_price").to_pylist()[0] == pytest.approx(bid[10] + 0.0001)
    with pytest.raises(oe.errors.UnknownSymbolError, match="only ticks"):
        oe.run(SMA, ticks)
