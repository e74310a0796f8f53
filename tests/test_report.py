"""HTML reports: content per result kind, self-containment, and the series behind the charts."""

import re

import numpy as np
import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from omega_engine.strategies import SmaCross

pytest.importorskip("plotly", reason="the report extra is not installed (pip install "
                                     "'omega-engine[report]')")

from omega_engine import report  # noqa: E402
from omega_engine.report._data import (  # noqa: E402
    Series,
    decimate,
    drawdown_pct,
    heatmap_data,
    monthly_returns,
)

DAY = 86_400_000_000


@pytest.fixture(scope="module")
def bars():
    return oe.synthetic_bars("EURUSD", n=4000, timeframe="1h", seed=5)


@pytest.fixture(scope="module")
def sweep(bars):
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[40, 80], sl_pips=[20], tp_pips=[40])
    return oe.run_many(grid, bars, include=("summary", "trades", "equity"), progress=False)


def chart_ids(text: str) -> set[str]:
    return set(re.findall(r'data-chart="([a-z-]+)"', text))


def test_run_report_is_self_contained(tmp_path, bars):
    res = oe.run(SmaCross(10, 40, sl_pips=20, tp_pips=40), bars)
    path = report.html(res, tmp_path / "sub" / "run.html", data=bars, title="One run")
    text = path.read_text(encoding="utf-8")
    assert chart_ids(text) == {"oe-equity", "oe-trades", "oe-monthly"}
    assert "<title>One run</title>" in text
    # plotly.js is inlined: no external script or stylesheet
    assert not re.search(r'<script[^>]+src=', text)
    assert not re.search(r'<link[^>]+href=["\']https?:', text)
    assert "plotly.js" in text and len(text) > 1_000_000
    assert res.summary["config_id"][0].as_py() in text


def test_sweep_report_has_the_heatmap_of_the_summary(tmp_path, sweep, bars):
    path = report.html(sweep, tmp_path / "sweep.html", data=bars, objective="net_profit")
    assert chart_ids(path.read_text()) == {"oe-equity", "oe-trades", "oe-monthly", "oe-heatmap"}
    rd = report.collect(sweep, data=bars, objective="net_profit")
    assert rd.kind == "sweep"
    px, py, metric, xv, yv, z, note = rd.heatmap
    assert (px, py, metric, note) == ("fast", "slow", "net_profit", "")
    assert xv == [5, 10, 20] and yv == [40, 80]
    s = sweep.summary
    for row in s.select(["fast", "slow", "net_profit"]).to_pylist():
        assert z[yv.index(int(row["slow"])), xv.index(int(row["fast"]))] == row["net_profit"]
    # the charts follow the best config by the objective
    best = s.sort_by([("net_profit", "descending"), ("config_index", "ascending")])
    assert rd.focus_config_id == best["config_id"][0].as_py()
    focus_eq = sweep.equity.filter(pc.equal(sweep.equity["config_id"], rd.focus_config_id))
    assert np.array_equal(rd.equity.v, focus_eq["equity"].to_numpy())


def test_sweep_without_equity_falls_back_to_closed_trades(tmp_path, bars):
    grid = oe.grid(SmaCross, fast=[5, 10], slow=[40], sl_pips=[20], tp_pips=[40])
    res = oe.run_many(grid, bars, progress=False)
    rd = report.collect(res, data=bars)
    assert rd.heatmap is None  # one varying parameter
    trades = res.trades.filter(pc.equal(res.trades["config_id"], rd.focus_config_id))
    assert rd.equity.v[-1] == pytest.approx(pc.sum(trades["net_pnl"]).as_py())
    assert "closed trades" in rd.equity_label


def test_walk_forward_report(tmp_path, bars):
    grid = oe.grid(SmaCross, fast=[5, 10], slow=[40, 80], sl_pips=[20], tp_pips=[40])
    wf = oe.walk_forward(grid, bars, train="40D", test="20D", progress=False)
    path = report.html(wf, tmp_path / "wf.html")  # the bars come from the result
    text = path.read_text()
    assert {"oe-equity", "oe-wf", "oe-wf-params", "oe-monthly", "oe-trades"} <= chart_ids(text)
    assert "<h2>Windows</h2>" in text and "Parameter stability" in text
    assert "walk_forward_efficiency" in text


def test_not_a_result():
    with pytest.raises(TypeError, match="RunResult or a WalkForwardResult"):
        report.html(object(), "x.html")


def test_monthly_returns_are_month_end_to_month_end():
    t = np.array([0, 10 * DAY, 31 * DAY + 1, 40 * DAY, 59 * DAY + 5, 70 * DAY], dtype=np.int64)
    v = np.array([100.0, 110.0, 99.0, 121.0, 130.0, 117.0])
    years, months, grid = monthly_returns(Series(t, v))
    assert years == [1970]
    assert grid[0, 0] == pytest.approx(10.0)  # Jan: 100 -> 110
    assert grid[0, 1] == pytest.approx(10.0)  # Feb: 110 -> 121
    assert grid[0, 2] == pytest.approx((117 / 121 - 1) * 100)  # Mar: 121 -> (130) -> 117
    assert np.isnan(grid[0, 3:]).all()


def test_drawdown_and_decimation_keep_the_extremes():
    v = np.array([100.0, 120.0, 90.0, 130.0, 65.0])
    assert drawdown_pct(v).tolist() == pytest.approx([0, 0, -25, 0, -50])
    rng = np.random.default_rng(0)
    big = Series(np.arange(100_000, dtype=np.int64), np.cumsum(rng.normal(size=100_000)))
    small = decimate(big, 2000)
    assert len(small) <= 2002
    assert small.v.min() == big.v.min() and small.v.max() == big.v.max()
    assert np.all(np.diff(small.t) > 0)
    assert small.t[0] == 0 and small.t[-1] == 99_999


def test_heatmap_with_three_parameters_shows_the_best_over_the_third():
    s = pa.table({"config_index": [0, 1, 2, 3], "config_id": list("abcd"),
                  "fast": [5.0, 5.0, 10.0, 10.0], "slow": [50.0, 50.0, 50.0, 50.0],
                  "sl_pips": [10.0, 20.0, 10.0, 20.0], "tp_pips": [1.0, 2.0, 1.0, 2.0],
                  "net_profit": [1.0, 3.0, -2.0, -1.0]})
    hm = heatmap_data(s, ["fast", "slow", "sl_pips", "tp_pips"], "net_profit")
    px, py, metric, xv, yv, z, note = hm
    assert (px, py) == ("fast", "sl_pips")
    assert "tp_pips" in note
    assert z.tolist() == [[1.0, -2.0], [3.0, -1.0]]
