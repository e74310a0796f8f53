"""The ``omega-engine`` command line (argparse). ``omega-engine demo`` runs a small sweep on
generated data and prints the best configs."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser", "format_table"]


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
            return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}" if abs(v) < 0.01 else f"{v:.2f}"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    import omega_engine as oe

    t0 = time.perf_counter()
    bars = oe.synthetic_bars(args.symbol, n=args.bars, timeframe=args.timeframe, seed=args.seed)
    t1 = time.perf_counter()
    grid = oe.grid(oe.strategies.SmaCross, fast=[5, 10, 20, 30], slow=[50, 100, 200],
                   sl_pips=[10, 20], tp_pips=[20, 40])
    result = oe.run_many(grid, bars, risk_per_trade=100.0, costs="ftmo_like", seed=args.seed,
                         threads=args.threads, progress=False)
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
    print(format_table(best.select(cols).to_pylist(), cols))
    failed = result.failed().num_rows
    if failed:
        print(f"\n{failed} configs failed: {result.failed().column('error')[0]}")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omega-engine",
        description="Backtesting engine for FX/CFD strategies (the bar loop runs in Rust).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a small sma_cross sweep on synthetic bars and "
                                       "print the best configs")
    demo.add_argument("--symbol", default="EURUSD")
    demo.add_argument("--bars", type=int, default=200_000, help="number of bars (default 200k)")
    demo.add_argument("--timeframe", default="1min")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--threads", type=int, default=None)
    demo.add_argument("--top", type=int, default=10, help="rows to print")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
        return 2
    except KeyboardInterrupt:
        print("omega-engine: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
