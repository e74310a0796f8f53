"""Self-contained HTML reports (plotly) for a run, a sweep or a walk-forward result.

``oe.report.html(result, "report.html", data=bars)`` writes one HTML file with plotly.js inlined
(no network access needed to open it) holding:

- equity and drawdown (``#oe-equity``), trades on the price (``#oe-trades``, needs ``data``),
  monthly returns (``#oe-monthly``);
- for a sweep, a parameter heatmap of two varying parameters (``#oe-heatmap``) and the table of
  the best configs; the charts above show the best config by the objective;
- for a walk-forward result, the windows with their in-sample and out-of-sample equity
  (``#oe-wf``), the chosen parameters per window (``#oe-wf-params``) and the windows table.

Needs the ``report`` extra (``pip install omega-engine[report]``).
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._data import (
    ReportData,
    Series,
    bars_close,
    best_row,
    decimate,
    drawdown_pct,
    equity_from_trades,
    equity_series,
    filter_eq,
    floats,
    heatmap_data,
    monthly_returns,
    param_columns,
    pick_objective,
    ts_us,
)

__all__ = ["html", "build_figures"]

#: Charts a report may contain, by div id (the browser test checks these render).
CHART_IDS = ("oe-equity", "oe-trades", "oe-monthly", "oe-heatmap", "oe-wf", "oe-wf-params")

_MAX_TRADE_MARKERS = 3000


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "omega_engine.report needs plotly: pip install 'omega-engine[report]'"
        ) from exc
    return go, make_subplots


def html(
    result: Any,
    path: str | Path,
    *,
    data: Any = None,
    title: str | None = None,
    objective: str | None = None,
) -> Path:
    """Writes a self-contained HTML report of ``result`` to ``path`` and returns the path.

    ``result`` is a ``RunResult`` (one config: a run; several: a sweep) or a
    ``WalkForwardResult``. ``data`` (the bars the result was computed on: ``Bars``, a mapping
    symbol -> ``Bars``, or an Arrow table with ``timestamp`` and ``bid_close``/``close``) adds the
    trades-on-price chart. ``objective`` chooses the config a sweep report focuses on and the
    heatmap metric (default: ``sharpe``). Parent directories are created.
    """
    rd = collect(result, data=data, title=title, objective=objective)
    figures = build_figures(rd)
    page = _page(rd, figures)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


# ---------------------------------------------------------------------------------------------
# result -> ReportData


def collect(result: Any, *, data: Any = None, title: str | None = None,
            objective: str | None = None) -> ReportData:
    if data is None:
        data = getattr(result, "data", None)
    if hasattr(result, "windows") and hasattr(result, "oos_equity"):
        return _collect_walk_forward(result, data, title)
    summary = getattr(result, "summary", None)
    if not isinstance(summary, pa.Table):
        raise TypeError(
            f"report.html needs a RunResult or a WalkForwardResult, got {type(result).__name__}"
        )
    trades = getattr(result, "trades", None)
    equity = getattr(result, "equity", None)
    kind = "run" if summary.num_rows <= 1 else "sweep"
    obj = pick_objective(summary, objective)
    rd = ReportData(kind=kind, title=title or ("Backtest" if kind == "run" else "Parameter sweep"),
                    summary=summary)
    if summary.num_rows:
        row = best_row(summary, obj)
        rd.focus_row = {k: v[0] for k, v in summary.slice(row, 1).to_pydict().items()}
        rd.focus_config_id = rd.focus_row.get("config_id")
    if rd.focus_config_id is not None:
        trades = filter_eq(trades, "config_id", rd.focus_config_id)
        equity = filter_eq(equity, "config_id", rd.focus_config_id)
    rd.trades = trades
    rd.equity = equity_series(equity)
    if rd.equity is None:
        rd.equity = equity_from_trades(trades)
        rd.equity_label = "Cumulative net PnL (closed trades; run with equity for the full curve)"
    symbol = rd.focus_row.get("symbol") if rd.focus_row else None
    rd.price, rd.price_label = bars_close(data, symbol)
    params = param_columns(summary)
    rd.param_names = params
    if kind == "sweep" and obj is not None:
        rd.heatmap = heatmap_data(summary, params, obj)
        rd.notes.append(f"Charts show the best config by {obj} (ties: lowest config_index).")
    if rd.focus_row:
        rd.headline = {k: rd.focus_row.get(k) for k in (
            "config_id", "symbol", "strategy", "net_profit", "return_pct", "trades", "win_rate",
            "profit_factor", "sharpe", "sortino", "max_drawdown_pct", "cagr") if k in rd.focus_row}
        for p in params:
            if rd.focus_row.get(p) is not None:
                rd.headline[p] = rd.focus_row.get(p)
    rd.objective = obj
    return rd


def _collect_walk_forward(result: Any, data: Any, title: str | None) -> ReportData:
    rd = ReportData(kind="walk_forward", title=title or "Walk-forward optimization")
    rd.windows = result.windows
    rd.trades = result.oos_trades
    rd.equity = equity_series(result.oos_equity)
    rd.equity_label = "Out-of-sample equity (stitched)"
    if rd.equity is None:
        rd.equity = equity_from_trades(result.oos_trades)
    rd.is_equity = getattr(result, "is_equity", None)
    rd.param_stability = getattr(result, "param_stability", None)
    rd.param_names = list(getattr(result, "param_names", ()) or ())
    symbol = None
    if rd.trades is not None and rd.trades.num_rows and "symbol" in rd.trades.column_names:
        symbol = rd.trades["symbol"][0].as_py()
    rd.price, rd.price_label = bars_close(data, symbol)
    rd.headline = dict(getattr(result, "oos_summary", {}) or {})
    eff = getattr(result, "efficiency", None)
    if eff is not None:
        rd.headline["walk_forward_efficiency"] = eff
    return rd


# ---------------------------------------------------------------------------------------------
# figures


def _dt(t: np.ndarray) -> np.ndarray:
    return t.astype("datetime64[us]")


def build_figures(rd: ReportData) -> dict[str, Any]:
    """The plotly figures of a report, by chart div id (only those with something to show)."""
    go, make_subplots = _plotly()
    figs: dict[str, Any] = {}
    if rd.equity is not None and len(rd.equity):
        eq = rd.equity
        dd = Series(eq.t, drawdown_pct(eq.v))
        eqd, ddd = decimate(eq), decimate(Series(dd.t, -dd.v))
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                            vertical_spacing=0.04)
        fig.add_trace(go.Scatter(x=_dt(eqd.t), y=eqd.v, name=rd.equity_label, mode="lines",
                                 line={"color": "#1f77b4", "width": 1.5}), row=1, col=1)
        fig.add_trace(go.Scatter(x=_dt(ddd.t), y=-ddd.v, name="Drawdown %", mode="lines",
                                 fill="tozeroy", line={"color": "#d62728", "width": 1}),
                      row=2, col=1)
        fig.update_yaxes(title_text="equity", row=1, col=1)
        fig.update_yaxes(title_text="drawdown %", row=2, col=1)
        fig.update_layout(title="Equity and drawdown", height=520, showlegend=True,
                          legend={"orientation": "h", "y": 1.08})
        figs["oe-equity"] = fig
    trades_fig = _trades_figure(go, rd)
    if trades_fig is not None:
        figs["oe-trades"] = trades_fig
    if rd.equity is not None and len(rd.equity) > 1:
        years, months, grid = monthly_returns(rd.equity)
        if years:
            text = [["" if math.isnan(v) else f"{v:.2f}%" for v in row] for row in grid]
            lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
            fig = go.Figure(go.Heatmap(
                z=grid, x=months, y=[str(y) for y in years], text=text, texttemplate="%{text}",
                colorscale="RdYlGn", zmid=0, zmin=-lim, zmax=lim, colorbar={"title": "%"},
                hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>"))
            fig.update_layout(title="Monthly returns (%)", height=max(280, 160 + 40 * len(years)),
                              yaxis={"autorange": "reversed", "type": "category"})
            figs["oe-monthly"] = fig
    if rd.heatmap is not None:
        px, py, metric, xv, yv, z, note = rd.heatmap
        fig = go.Figure(go.Heatmap(
            z=z, x=[str(v) for v in xv], y=[str(v) for v in yv], colorscale="Viridis",
            colorbar={"title": metric},
            hovertemplate=f"{px}=%{{x}}<br>{py}=%{{y}}<br>{metric}=%{{z:.4g}}<extra></extra>"))
        fig.update_layout(title=f"{metric} by {px} × {py}" + (f" ({note})" if note else ""),
                          xaxis={"title": px, "type": "category"},
                          yaxis={"title": py, "type": "category"}, height=520)
        figs["oe-heatmap"] = fig
    if rd.kind == "walk_forward" and rd.windows is not None and rd.windows.num_rows:
        figs["oe-wf"] = _wf_figure(go, make_subplots, rd)
        params_fig = _wf_params_figure(go, rd)
        if params_fig is not None:
            figs["oe-wf-params"] = params_fig
    return figs


def _trades_figure(go: Any, rd: ReportData) -> Any:
    trades = rd.trades
    has_trades = trades is not None and trades.num_rows > 0
    if rd.price is None and not has_trades:
        return None
    fig = go.Figure()
    if rd.price is not None and len(rd.price):
        p = decimate(rd.price)
        fig.add_trace(go.Scatter(x=_dt(p.t), y=p.v, name=rd.price_label or "price", mode="lines",
                                 line={"color": "#7f7f7f", "width": 1}))
    if has_trades:
        assert trades is not None
        if trades.num_rows > _MAX_TRADE_MARKERS:
            rd.notes.append(f"Trades chart shows the last {_MAX_TRADE_MARKERS} of "
                            f"{trades.num_rows} trades.")
            trades = trades.slice(trades.num_rows - _MAX_TRADE_MARKERS)
        cols = trades.column_names
        direction = (trades["direction"].cast(pa.string()).to_pylist()
                     if "direction" in cols else ["long"] * trades.num_rows)
        long_mask = np.array([d == "long" for d in direction], dtype=bool)
        et, ep = ts_us(trades["entry_time"]), floats(trades["entry_price"])
        xt, xp = ts_us(trades["exit_time"]), floats(trades["exit_price"])
        pnl = floats(trades["net_pnl"]) if "net_pnl" in cols else np.zeros(trades.num_rows)
        for mask, name, symbol, color in ((long_mask, "long entry", "triangle-up", "#2ca02c"),
                                          (~long_mask, "short entry", "triangle-down",
                                           "#d62728")):
            if mask.any():
                fig.add_trace(go.Scatter(
                    x=_dt(et[mask]), y=ep[mask], mode="markers", name=name,
                    marker={"symbol": symbol, "size": 9, "color": color},
                    hovertemplate="entry %{x}<br>%{y:.5f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=_dt(xt), y=xp, mode="markers", name="exit",
            marker={"symbol": "x", "size": 8,
                    "color": np.where(pnl > 0, "#2ca02c", "#d62728").tolist()},
            customdata=pnl, hovertemplate="exit %{x}<br>%{y:.5f}<br>net %{customdata:.2f}"
                                          "<extra></extra>"))
        # entry -> exit connectors, one trace with gaps
        seg_x: list[Any] = []
        seg_y: list[Any] = []
        for a, b, c, d in zip(_dt(et), ep, _dt(xt), xp, strict=True):
            seg_x += [a, c, None]
            seg_y += [b, d, None]
        fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", name="trade",
                                 line={"color": "rgba(31,119,180,0.35)", "width": 1},
                                 hoverinfo="skip"))
    fig.update_layout(title="Trades on price" + ("" if rd.price is not None
                                                 else " (no bars given: entries and exits only)"),
                      height=480, legend={"orientation": "h", "y": 1.08})
    return fig


def _wf_figure(go: Any, make_subplots: Any, rd: ReportData) -> Any:
    w = rd.windows
    assert w is not None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.35, 0.65],
                        vertical_spacing=0.05,
                        subplot_titles=("Windows (train / test)", "In-sample vs out-of-sample"))
    # One row per window; rank > 1 rows repeat the same ranges and are skipped here.
    first = w if "rank" not in w.column_names else w.filter(pc.equal(w["rank"], 1))
    ids = first["window_id"].to_pylist()
    spans = {k: ts_us(first[k]) for k in ("train_start", "train_end", "test_start", "test_end")}
    for label, s, e, color in (("train", "train_start", "train_end", "#1f77b4"),
                               ("test", "test_start", "test_end", "#ff7f0e")):
        xs: list[Any] = []
        ys: list[Any] = []
        for i, wid in enumerate(ids):
            xs += [_dt(spans[s][i:i + 1])[0], _dt(spans[e][i:i + 1])[0], None]
            ys += [wid, wid, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label,
                                 line={"color": color, "width": 9}), row=1, col=1)
    fig.update_yaxes(title_text="window", autorange="reversed", row=1, col=1)
    if rd.equity is not None and len(rd.equity):
        eq = decimate(rd.equity)
        fig.add_trace(go.Scatter(x=_dt(eq.t), y=eq.v, mode="lines", name="OOS equity (stitched)",
                                 line={"color": "#ff7f0e", "width": 2}), row=2, col=1)
    ise = rd.is_equity
    if ise is not None and ise.num_rows and rd.equity is not None and len(rd.equity):
        # Each chosen config's in-sample curve, shifted to end where its OOS segment starts.
        wids = np.asarray(ise["window_id"].to_numpy(zero_copy_only=False))
        t_all, v_all = ts_us(ise["timestamp"]), floats(ise["equity"])
        test_start = dict(zip(ids, spans["test_start"], strict=True))
        xs, ys = [], []
        for wid in dict.fromkeys(wids.tolist()):
            m = wids == wid
            t, v = t_all[m], v_all[m]
            if not len(t) or wid not in test_start:
                continue
            k = int(np.searchsorted(rd.equity.t, test_start[wid], side="left"))
            anchor = rd.equity.v[min(k, len(rd.equity) - 1)]
            seg = decimate(Series(t, v - v[-1] + anchor), 600)
            xs += list(_dt(seg.t)) + [None]
            ys += list(seg.v) + [None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="IS equity (chosen config)",
                                     line={"color": "#1f77b4", "width": 1, "dash": "dot"}),
                          row=2, col=1)
    fig.update_yaxes(title_text="equity", row=2, col=1)
    fig.update_layout(title="Walk-forward windows", height=640,
                      legend={"orientation": "h", "y": 1.1})
    return fig


def _wf_params_figure(go: Any, rd: ReportData) -> Any:
    w = rd.windows
    assert w is not None
    first = w if "rank" not in w.column_names else w.filter(pc.equal(w["rank"], 1))
    params = [p for p in rd.param_names if p in first.column_names]
    if not params:
        return None
    fig = go.Figure()
    x = first["window_id"].to_pylist()
    for p in params:
        fig.add_trace(go.Scatter(x=x, y=first[p].to_pylist(), mode="lines+markers", name=p))
    fig.update_layout(title="Chosen parameters per window", height=380,
                      xaxis={"title": "window", "dtick": 1}, yaxis={"title": "value"})
    return fig


# ---------------------------------------------------------------------------------------------
# page


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:1.5em;margin-bottom:0}
.sub{color:#666;margin-top:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0 24px}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f4f4f4}
.kv td:first-child{text-align:left;font-weight:600}
.oe-chart{margin:16px 0}
.note{color:#555;font-size:12px}
.scroll{overflow-x:auto;max-width:100%}
#oe-errors{color:#b00}
"""

# Records script errors in the page itself, so a headless browser can report them from the DOM.
_ERROR_HOOK = """<script>
window.__oeErrors = [];
window.addEventListener('error', function (e) { window.__oeErrors.push(String(e.message)); });
window.addEventListener('unhandledrejection', function (e) {
  window.__oeErrors.push('unhandled rejection: ' + String(e.reason)); });
</script>"""

_RENDER_CHECK = """<script>
window.addEventListener('load', function () {
  setTimeout(function () {
    var charts = document.querySelectorAll('.oe-chart');
    var ok = 0;
    charts.forEach(function (c) { if (c.querySelector('.main-svg')) { ok += 1; } });
    document.body.setAttribute('data-oe-charts', String(charts.length));
    document.body.setAttribute('data-oe-rendered', String(ok));
    document.getElementById('oe-errors').textContent = window.__oeErrors.join('\\n');
  }, 0);
});
</script>"""


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return _html.escape(str(v))


def _kv_table(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{_html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in d.items())
    return f'<table class="kv">{rows}</table>'


def _table_html(table: pa.Table, columns: Sequence[str] | None = None, limit: int = 200) -> str:
    cols = [c for c in (columns or table.column_names) if c in table.column_names]
    t = table.select(cols).slice(0, limit)
    head = "".join(f"<th>{_html.escape(c)}</th>" for c in cols)
    data = t.to_pydict()
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(data[c][i])}</td>" for c in cols) + "</tr>"
        for i in range(t.num_rows)
    )
    more = (f'<p class="note">{table.num_rows - limit} more rows not shown.</p>'
            if table.num_rows > limit else "")
    return (f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>{more}')


def _page(rd: ReportData, figures: dict[str, Any]) -> str:
    from plotly.offline import get_plotlyjs

    parts: list[str] = []
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<h1>{_html.escape(rd.title)}</h1>"
                 f'<p class="sub">omega_engine report · {rd.kind.replace("_", "-")} · '
                 f"{generated}</p>")
    if rd.headline:
        parts.append("<h2>Summary</h2>" + _kv_table(rd.headline))
    for note in rd.notes:
        parts.append(f'<p class="note">{_html.escape(note)}</p>')
    config = {"responsive": True, "displaylogo": False}
    for div_id in CHART_IDS:
        fig = figures.get(div_id)
        if fig is None:
            continue
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config)
        parts.append(f'<div class="oe-chart" data-chart="{div_id}">{div}</div>')
    if rd.kind == "walk_forward" and rd.windows is not None:
        parts.append("<h2>Windows</h2>" + _table_html(rd.windows))
        if rd.param_stability is not None and rd.param_stability.num_rows:
            parts.append("<h2>Parameter stability</h2>" + _table_html(rd.param_stability))
    if rd.kind == "sweep" and rd.summary is not None:
        obj = rd.objective
        table = rd.summary
        if obj is not None:
            order = np.lexsort((np.arange(table.num_rows),
                                -np.nan_to_num(floats(table[obj]), nan=-np.inf)))
            table = table.take(pa.array(order))
        parts.append(f"<h2>Top configs by {_html.escape(obj or 'index')}</h2>"
                     + _table_html(table, limit=50))
    if rd.trades is not None and rd.trades.num_rows:
        parts.append("<h2>Trades</h2>" + _table_html(rd.trades, limit=100))
    parts.append('<pre id="oe-errors"></pre>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_html.escape(rd.title)}</title><style>{_CSS}</style>{_ERROR_HOOK}"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        + "\n".join(parts) + _RENDER_CHECK + "</body></html>\n"
    )
