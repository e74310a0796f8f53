"""The ``omega-engine`` command line (argparse).

Subcommands: ``demo`` (a sweep on generated data, printed, with a report), ``run`` (configs from
a TOML/JSON file → Parquet tables + report), ``sweep`` (a parameter grid around a config),
``walk-forward`` (walk-forward optimization of such a grid), ``plugins list`` and ``specs list``.
``omega-engine COMMAND --help`` explains each. Exit codes: see :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "format_table", "EXIT_CODES"]

#: Exit status by outcome; coded errors map by their range (DESIGN §6).
EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "some configs failed": 1,
    "usage error (bad command-line arguments)": 2,
    "1xxx: invalid parameter or config": 3,
    "2xxx: invalid data": 4,
    "3xxx: schema error": 5,
    "4xxx: plugin error": 6,
    "5xxx: internal error": 7,
    "interrupted (Ctrl-C)": 130,
}

_EPILOG = """\
exit status:
  0  success                          4  invalid data (2xxx codes)
  1  some configs failed              5  schema error (3xxx)
  2  bad command-line arguments       6  plugin error (4xxx)
  3  invalid parameter/config (1xxx)  7  internal error (5xxx)
                                      130 interrupted (Ctrl-C)
Errors print as 'omega-engine: [NNNN] NAME: message' on stderr.
"""

def exit_code_for(code: int) -> int:
    """The process exit status for an error code."""
    return {1: 3, 2: 4, 3: 5, 4: 6, 5: 7}.get(code // 1000, 7)


# --------------------------------------------------------------------------------------------
# printing


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table (numbers right-aligned, floats with 2–4 decimals)."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            if math.isnan(v):
                return "nan"
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            if v.is_integer() and abs(v) < 1e6:
                return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}"
            return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}" if abs(v) < 0.01 else f"{v:.2f}"
        if hasattr(v, "strftime"):
            return str(v.strftime("%Y-%m-%d %H:%M"))
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _tidy_rows(rows: list[dict[str, Any]], params: Sequence[str]) -> list[dict[str, Any]]:
    """Parameter values come back from the engine as floats: print whole numbers as ints."""
    for row in rows:
        for p in params:
            v = row.get(p)
            if isinstance(v, float) and v.is_integer():
                row[p] = int(v)
    return rows


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def _progress(args: argparse.Namespace) -> bool | None:
    """None: a progress bar on interactive terminals; --progress forces it, --no-progress not."""
    return getattr(args, "progress", None)


_SUMMARY_COLUMNS = ["config_id", "symbol", "strategy", "trades", "win_rate", "net_profit",
                    "return_pct", "max_drawdown_pct", "sharpe", "profit_factor"]


def _summary_columns(summary: Any, params: Sequence[str] = ()) -> list[str]:
    cols = ["config_id"] + [p for p in params if p in summary.column_names]
    cols += [c for c in _SUMMARY_COLUMNS[1:] if c in summary.column_names]
    return cols


# --------------------------------------------------------------------------------------------
# inputs


def _parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (numbers, true/false, lists), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    from .errors import raise_error

    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise_error("INVALID_PARAMETER", f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = _parse_value(value.strip())
    return out


def _parse_values(name: str, text: str) -> list[Any]:
    """``5,10,20`` (a list) or ``5:50:5`` (start:stop:step, stop included)."""
    from .errors import raise_error

    text = text.strip()
    if text.count(":") in (1, 2) and "," not in text:
        parts = [_parse_value(p) for p in text.split(":")]
        if len(parts) == 2:
            parts.append(1)
        start, stop, step = parts
        if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in parts) \
                or step <= 0 or stop < start:
            raise_error("INVALID_PARAMETER",
                        f"--param {name}={text}: a range is START:STOP[:STEP] with numbers, "
                        "STEP > 0 and STOP >= START")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        values = [start + i * step for i in range(n)]
        if all(isinstance(p, int) for p in parts):
            return [int(v) for v in values]
        return [round(float(v), 12) for v in values]
    values = [_parse_value(v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise_error("INVALID_PARAMETER", f"--param {name}: no values given")
    return values


def _parse_params(items: Sequence[str] | None) -> dict[str, list[Any]]:
    from .errors import raise_error

    out: dict[str, list[Any]] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise_error("INVALID_PARAMETER",
                        f"--param {item!r}: expected NAME=V1,V2,... or NAME=START:STOP:STEP")
        out[key.strip()] = _parse_values(key.strip(), value)
    return out


def _symbol_and_path(text: str) -> tuple[str | None, str]:
    head, sep, tail = text.partition("=")
    if sep and head and "/" not in head and os.sep not in head and not Path(text).exists():
        return head, tail
    return None, text


def _load_data(args: argparse.Namespace, configs: Sequence[dict[str, Any]]) -> Any:
    """Bars from --data/--ask files, or generated with --synthetic N; one symbol or several."""
    import omega_engine as oe

    from .errors import raise_error

    default_symbol = args.symbol or next(
        (c.get("symbol") for c in configs if isinstance(c.get("symbol"), str)), None
    ) or "EURUSD"
    if args.synthetic:
        if args.data:
            raise_error("INVALID_PARAMETER", "--data and --synthetic exclude each other")
        return oe.synthetic_bars(default_symbol, n=args.synthetic, timeframe=args.timeframe,
                                 seed=args.data_seed)
    if not args.data:
        raise_error("INVALID_PARAMETER",
                    "no data: give --data PATH (Parquet/CSV bars) or --synthetic N")
    asks: dict[str | None, str] = {}
    for item in args.ask or ():
        sym, path = _symbol_and_path(item)
        asks[sym] = path
    out: dict[str, Any] = {}
    for item in args.data:
        sym, path = _symbol_and_path(item)
        symbol = sym or default_symbol
        ask = asks.get(sym) if sym in asks else (asks.get(None) if len(args.data) == 1 else None)
        out[symbol] = oe.load_bars(symbol, path, ask, spread_pips=args.spread_pips)
    return out if len(out) > 1 else next(iter(out.values()))


def _load_config_file(path: str) -> list[dict[str, Any]]:
    from .config import load_configs

    return load_configs(path)


def _grid_configs(base: list[dict[str, Any]], params: dict[str, list[Any]]) -> list[Any]:
    """The cartesian product of ``params`` over the strategy of the (single) base config."""
    import itertools

    from .errors import raise_error

    if len(base) != 1:
        raise_error("INVALID_CONFIG",
                    f"the config file holds {len(base)} configs; a sweep varies one config")
    cfg = base[0]
    strat = cfg.get("strategy")
    if not isinstance(strat, dict) or "name" not in strat:
        raise_error("INVALID_CONFIG", "strategy: the config needs a strategy with a name")
    if not params:
        raise_error("INVALID_PARAMETER",
                    "no --param given: a sweep needs at least one NAME=VALUES to vary")
    names = list(params)
    fixed = dict(strat.get("params") or {})
    out = []
    for combo in itertools.product(*params.values()):
        p = dict(fixed, **dict(zip(names, combo, strict=True)))
        # Combinations the strategy rejects by construction (fast >= slow) are skipped, as
        # oe.grid does.
        if "fast" in p and "slow" in p and not p["fast"] < p["slow"]:
            continue
        if "lower" in p and "upper" in p and not p["lower"] < p["upper"]:
            continue
        out.append(dict(cfg, strategy={"name": strat["name"], "params": p}))
    if not out:
        raise_error("INVALID_PARAMETER", "the --param values leave no valid combination")
    return out


# --------------------------------------------------------------------------------------------
# outputs


def _write_parquet(out: Path, tables: dict[str, Any]) -> list[Path]:
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        if table is None:
            continue
        path = out / f"{name}.parquet"
        pq.write_table(table, path)
        written.append(path)
    return written


def _report(args: argparse.Namespace, result: Any, data: Any, path: Path,
            objective: str | None = None, title: str | None = None) -> Path | None:
    if getattr(args, "no_report", False):
        return None
    try:
        import plotly  # noqa: F401
    except ImportError:
        print("omega-engine: no report written: plotly is not installed "
              "(pip install 'omega-engine[report]')", file=sys.stderr)
        return None
    from . import report

    return report.html(result, path, data=data, objective=objective, title=title)


def _focus_equity(result: Any, data: Any, objective: str, defaults: dict[str, Any]) -> Any:
    """``result`` with the trades and equity of its best config (rerun alone with equity), so a
    sweep's report can show a full equity curve without keeping every config's equity."""
    import pyarrow.compute as pc

    from .report._data import best_row, pick_objective
    from .run import RunResult, run_many

    summary = result.summary
    if summary.num_rows == 0:
        return result
    obj = pick_objective(summary, objective)
    row = best_row(summary, obj)
    cfg = json.loads(result.configs[row])
    best = run_many([cfg], data, include=("summary", "trades", "equity"), progress=False,
                    errors="ignore")
    cid = summary["config_id"][row].as_py()
    trades = best.trades
    if trades is not None:
        trades = trades.filter(pc.equal(trades["config_id"], cid))
    return RunResult(summary, trades, best.equity, result.configs)


def _finish_batch(args: argparse.Namespace, result: Any, data: Any, params: Sequence[str],
                  title: str) -> int:
    out = Path(args.out)
    tables = {"summary": result.summary, "trades": result.trades, "equity": result.equity}
    written = _write_parquet(out, tables)
    objective = args.objective
    rep = _report(args, _focus_equity(result, data, objective, {}) if result.equity is None
                  else result, data, out / "report.html", objective=objective, title=title)
    best = result.best(objective, n=args.top) if objective in result.summary.column_names \
        else result.summary.slice(0, args.top)
    cols = _summary_columns(best, params)
    _say(args, f"top {min(args.top, best.num_rows)} of {result.summary.num_rows} by {objective}:")
    _say(args, format_table(_tidy_rows(best.select(cols).to_pylist(), params), cols))
    _say(args, "\nwrote " + ", ".join(str(p) for p in written + ([rep] if rep else [])))
    failed = result.failed()
    if failed.num_rows:
        print(f"omega-engine: {failed.num_rows} of {result.summary.num_rows} configs failed; "
              f"the first: {failed['error'][0].as_py()}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# commands


def _demo(args: argparse.Namespace) -> int:
    import omega_engine as oe

    from .run import RunResult

    t0 = time.perf_counter()
    bars = oe.synthetic_bars(args.symbol, n=args.bars, timeframe=args.timeframe, seed=args.seed)
    t1 = time.perf_counter()
    grid = oe.grid(oe.strategies.SmaCross, fast=[5, 10, 20, 30], slow=[50, 100, 200],
                   sl_pips=[10, 20], tp_pips=[20, 40])
    result = oe.run_many(grid, bars, risk_per_trade=100.0, costs="ftmo_like", seed=args.seed,
                         threads=args.threads, progress=_progress(args))
    t2 = time.perf_counter()
    first, last = bars.timestamps()[0], bars.timestamps()[-1]
    print(f"omega_engine {oe.__version__} demo: {len(grid)} sma_cross configs on {len(bars):,} "
          f"synthetic {args.timeframe} {args.symbol} bars ({first} .. {last})")
    print(f"data {1e3 * (t1 - t0):.0f} ms, backtests {1e3 * (t2 - t1):.0f} ms "
          f"({1e9 * (t2 - t1) / (len(grid) * len(bars)):.1f} ns per bar and config)\n")
    cols = ["config_id", "fast", "slow", "sl_pips", "tp_pips", "trades", "win_rate",
            "net_profit", "return_pct", "max_drawdown_pct", "sharpe", "profit_factor"]
    best = result.best("net_profit", n=args.top)
    cols = [c for c in cols if c in best.column_names]
    print(f"top {min(args.top, best.num_rows)} by net_profit (account USD 100,000, "
          "risk 100 per trade, ftmo_like costs):")
    print(format_table(_tidy_rows(best.select(cols).to_pylist(),
                                  ("fast", "slow", "sl_pips", "tp_pips")), cols))
    if not args.no_report:
        focus = _focus_equity(result, bars, "net_profit", {})
        path = _report(args, RunResult(focus.summary, focus.trades, focus.equity,
                                       result.configs),
                       bars, Path(args.out) / "report.html", objective="net_profit",
                       title="omega_engine demo: sma_cross sweep")
        if path is not None:
            print(f"\nreport: {path}")
    failed = result.failed().num_rows
    if failed:
        print(f"\n{failed} configs failed: {result.failed().column('error')[0]}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from .run import run_many

    configs = _load_config_file(args.config)
    data = _load_data(args, configs)
    include = ("summary", "trades", "equity") if args.equity or len(configs) == 1 \
        else ("summary", "trades")
    result = run_many(configs, data, threads=args.threads, include=include,
                      progress=_progress(args), errors="ignore", **_parse_sets(args.set))
    title = f"Backtest: {Path(args.config).name}"
    return _finish_batch(args, result, data, (), title)


def _sweep(args: argparse.Namespace) -> int:
    from .run import run_many

    base = _load_config_file(args.config)
    params = _parse_params(args.param)
    configs = _grid_configs(base, params)
    data = _load_data(args, base)
    include = ("summary", "trades", "equity") if args.equity else ("summary", "trades")
    result = run_many(configs, data, threads=args.threads, include=include,
                      progress=_progress(args), errors="ignore", **_parse_sets(args.set))
    _say(args, f"{len(configs)} configs: " + ", ".join(
        f"{k} ∈ {v}" for k, v in params.items()))
    return _finish_batch(args, result, data, list(params),
                         f"Sweep: {Path(args.config).name}")


def _walk_forward(args: argparse.Namespace) -> int:
    from .walk_forward import walk_forward

    base = _load_config_file(args.config)
    params = _parse_params(args.param)
    configs = _grid_configs(base, params) if params else base
    data = _load_data(args, base)
    objective = args.objective
    res = walk_forward(
        configs, data, train=_length(args.train), test=_length(args.test),
        step=_length(args.step) if args.step else None, anchored=args.anchored,
        gap=_length(args.gap), warmup=args.warmup if args.warmup == "auto"
        else _length(args.warmup), partial=not args.no_partial, objective=objective,
        min_trades=args.min_trades, top_k=args.top_k, search=args.search,
        n_trials=args.n_trials, seed=args.search_seed, threads=args.threads,
        progress=_progress(args), **_parse_sets(args.set))
    out = Path(args.out)
    written = _write_parquet(out, {
        "windows": res.windows, "oos_trades": res.oos_trades, "oos_equity": res.oos_equity,
        "param_stability": res.param_stability, "is_equity": res.is_equity})
    rep = _report(args, res, data, out / "report.html",
                  title=f"Walk-forward: {Path(args.config).name}")
    cols = ["window_id", "rank", "status", "test_start", "test_end", *res.param_names,
            "objective", "oos_trades", "oos_net_profit", "oos_return_pct", "efficiency"]
    cols = [c for c in cols if c in res.windows.column_names]
    _say(args, f"{res.windows['window_id'][-1].as_py() + 1} windows, {len(configs)} candidates, "
               f"objective {res.objective}:")
    _say(args, format_table(res.windows.select(cols).to_pylist(), cols))
    s = res.oos_summary
    _say(args, f"\nout of sample: net profit {s['net_profit']:,.2f} ({s['return_pct']:.2f}%), "
               f"{s['trades']} trades, max drawdown {s['max_drawdown_pct']:.2f}%, "
               f"walk-forward efficiency {res.efficiency:.3g}")
    _say(args, "wrote " + ", ".join(str(p) for p in written + ([rep] if rep else [])))
    return 0


def _length(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def _plugins_list(args: argparse.Namespace) -> int:
    from . import plugins

    items = plugins.list()
    if not items:
        print("no plugins registered (install a package with an 'omega_engine' entry point "
              "or call oe.plugins.register)")
        return 0
    rows = [{"name": i.name, "source": i.source, "hooks": ", ".join(i.hooks)} for i in items]
    cols = ["name", "source", "hooks"]
    print(format_table(rows, cols))
    return 0


def _specs_list(args: argparse.Namespace) -> int:
    from . import specs

    all_specs = specs.all_specs()
    names = sorted(all_specs)
    if args.symbol:
        names = [n for n in names if args.symbol.upper() in n.upper()]
    rows = [all_specs[n].to_dict() for n in names]
    if not rows:
        print("no symbol spec matches")
        return 0
    cols = [c for c in ("symbol", "pip_size", "tick_size", "tick_value", "contract_size",
                        "volume_min", "volume_step", "volume_max", "base_currency",
                        "quote_currency") if c in rows[0]]
    print(format_table(rows, cols))
    return 0


# --------------------------------------------------------------------------------------------
# parser


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", action="append", metavar="[SYMBOL=]PATH",
                   help="bars file (Parquet or CSV): one table with bid_*/ask_* columns, or the "
                        "bid side (open/high/low/close) with --ask; repeat for several symbols")
    g.add_argument("--ask", action="append", metavar="[SYMBOL=]PATH",
                   help="ask-side bars file matching --data")
    g.add_argument("--spread-pips", type=float, default=None,
                   help="derive the ask from one-sided data with this spread")
    g.add_argument("--symbol", default=None,
                   help="symbol of the data (default: the config's symbol, else EURUSD)")
    g.add_argument("--synthetic", type=int, default=None, metavar="N",
                   help="use N generated bars instead of --data")
    g.add_argument("--timeframe", default="1min", help="timeframe of --synthetic (default 1min)")
    g.add_argument("--data-seed", type=int, default=42, help="seed of --synthetic (default 42)")
    r = p.add_argument_group("run")
    r.add_argument("--out", required=True, metavar="DIR",
                   help="output directory (Parquet tables and report.html)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="run-level config default, e.g. risk_per_trade=50, costs=ftmo_like, "
                        "seed=7 (repeatable; values parse as JSON when they can)")
    r.add_argument("--threads", type=int, default=None, help="worker threads (default: all)")
    r.add_argument("--no-report", action="store_true", help="skip the HTML report")
    r.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always show progress bars (default: on a terminal)")
    r.add_argument("--no-progress", dest="progress", action="store_false",
                   help="never show progress bars")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="omega-engine",
        description="Backtesting engine for FX/CFD strategies (the bar loop runs in Rust).\n\n"
                    "examples:\n"
                    "  omega-engine demo\n"
                    "  omega-engine run config.toml --data EURUSD_H1.parquet --out results/\n"
                    "  omega-engine sweep config.toml --data bars.parquet --param fast=5:30:5 \\\n"
                    "      --param slow=50,100,200 --out sweep/\n"
                    "  omega-engine walk-forward config.toml --data bars.parquet "
                    "--param fast=5:30:5 \\\n"
                    "      --param slow=50,100 --train 90D --test 30D --out wf/\n"
                    "  omega-engine specs list --symbol JPY",
        epilog=_EPILOG, formatter_class=fmt,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"omega-engine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", formatter_class=fmt, epilog=_EPILOG,
        help="run a small sma_cross sweep on synthetic bars, print the best configs and write "
             "a report",
        description="Runs 48 sma_cross configs on generated bars, prints the best ones by net "
                    "profit and writes an HTML report of the best config to --out.")
    demo.add_argument("--symbol", default="EURUSD")
    demo.add_argument("--bars", type=int, default=200_000, help="number of bars (default 200k)")
    demo.add_argument("--timeframe", default="1min")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--threads", type=int, default=None)
    demo.add_argument("--top", type=int, default=10, help="rows to print")
    demo.add_argument("--out", default="omega-demo", metavar="DIR",
                      help="where report.html goes (default ./omega-demo)")
    demo.add_argument("--no-report", action="store_true", help="skip the HTML report")
    demo.add_argument("--progress", dest="progress", action="store_true", default=None)
    demo.add_argument("--no-progress", dest="progress", action="store_false")
    demo.set_defaults(func=_demo)

    run = sub.add_parser(
        "run", formatter_class=fmt, epilog=_EPILOG,
        help="run the configs of a TOML/JSON file; write Parquet tables and a report",
        description="Runs every config of CONFIG (one config, a list, or [[configs]] with "
                    "[defaults]) on the data and writes summary.parquet, trades.parquet, "
                    "equity.parquet (one config, or --equity) and report.html to --out.")
    run.add_argument("config", metavar="CONFIG", help="config file (.toml or .json)")
    _add_common(run)
    run.add_argument("--equity", action="store_true",
                     help="keep every config's equity curve (large for many configs)")
    run.add_argument("--objective", default="sharpe",
                     help="metric that ranks the printed configs (default sharpe)")
    run.add_argument("--top", type=int, default=10, help="rows to print")
    run.set_defaults(func=_run)

    sweep = sub.add_parser(
        "sweep", formatter_class=fmt, epilog=_EPILOG,
        help="run a parameter grid around a config",
        description="Varies the strategy parameters of the config in CONFIG over every "
                    "combination of the --param values, then writes the tables and a report "
                    "(with a heatmap for two parameters) to --out.")
    sweep.add_argument("config", metavar="CONFIG", help="base config file (.toml or .json)")
    sweep.add_argument("--param", action="append", metavar="NAME=VALUES",
                       help="values of one strategy parameter: 5,10,20 or START:STOP[:STEP] "
                            "(stop included); repeat per parameter")
    _add_common(sweep)
    sweep.add_argument("--equity", action="store_true", help="keep every config's equity")
    sweep.add_argument("--objective", default="sharpe",
                       help="metric that ranks configs and colours the heatmap (default sharpe)")
    sweep.add_argument("--top", type=int, default=10, help="rows to print")
    sweep.set_defaults(func=_sweep)

    wf = sub.add_parser(
        "walk-forward", formatter_class=fmt, epilog=_EPILOG,
        help="walk-forward optimization of a parameter grid",
        description="Optimizes the --param grid in sample on each train window and trades the "
                    "best config out of sample on the following test window; writes windows, "
                    "oos_trades, oos_equity, param_stability (Parquet) and report.html to "
                    "--out. Lengths are bar counts (500) or durations (90D, 12H, 30min, 2W).")
    wf.add_argument("config", metavar="CONFIG", help="base config file (.toml or .json)")
    wf.add_argument("--param", action="append", metavar="NAME=VALUES",
                    help="values of one strategy parameter (as for sweep); without --param "
                         "the configs of CONFIG are the candidates")
    wf.add_argument("--train", required=True, help="train window length (bars or duration)")
    wf.add_argument("--test", required=True, help="test window length (bars or duration)")
    wf.add_argument("--step", default=None, help="window step (default: the test length)")
    wf.add_argument("--gap", default="0", help="gap between train and test (default 0)")
    wf.add_argument("--anchored", action="store_true", help="keep the train start fixed")
    wf.add_argument("--warmup", default="auto",
                    help="warm-up before each window (bars, duration or auto)")
    wf.add_argument("--no-partial", action="store_true",
                    help="drop a truncated last test window")
    wf.add_argument("--objective", default="sharpe",
                    help="summary metric to maximize in sample ('-name' minimizes)")
    wf.add_argument("--min-trades", type=int, default=1,
                    help="in-sample trades a config needs to be chosen (default 1)")
    wf.add_argument("--top-k", type=int, default=1, help="configs traded per window")
    wf.add_argument("--search", choices=("grid", "optuna"), default="grid")
    wf.add_argument("--n-trials", type=int, default=None, help="optuna trials per window")
    wf.add_argument("--search-seed", type=int, default=0, help="optuna sampler seed")
    _add_common(wf)
    wf.set_defaults(func=_walk_forward)

    plugins = sub.add_parser("plugins", help="plugins: list")
    psub = plugins.add_subparsers(dest="action", metavar="ACTION", required=True)
    psub.add_parser("list", help="list the registered plugins and what they provide"
                    ).set_defaults(func=_plugins_list)

    specs = sub.add_parser("specs", help="symbol specifications: list")
    ssub = specs.add_subparsers(dest="action", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="list the known symbol specifications")
    sl.add_argument("--symbol", default=None, help="only symbols containing this text")
    sl.set_defaults(func=_specs_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omega-engine`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from .errors import OmegaError

    try:
        return int(args.func(args))
    except OmegaError as exc:
        print(f"omega-engine: {exc}", file=sys.stderr)
        return exit_code_for(int(exc.code))
    except KeyboardInterrupt:
        print("omega-engine: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `omega-engine ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
