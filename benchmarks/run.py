"""omega_engine vs vectorbt vs backtesting.py: the peer comparison suite (issue 9).

    python benchmarks/run.py [--quick] [--workloads W1,W2,W3,W4,W5]
                             [--engines omega,vectorbt,backtesting] [--repeat N] [--threads 2]
                             [--update-docs]

(``bash benchmarks/run.sh`` installs the ``bench`` extra and builds the release extension
first.) Each (workload, engine) pair runs in a fresh Python process, one at a time, so each peak
memory (``ru_maxrss``) is that engine's alone and no run competes with another for the cores.
Before any ratio is printed, the trade lists of W1 and W2 must agree exactly between omega_engine
and vectorbt (benchmarks/README.md, "Aligned mode"); otherwise the suite prints the first
difference and exits with status 1.

Writes ``benchmarks/results/results.json`` (every measurement, the environment),
``benchmarks/results/performance.png`` (the chart) and ``benchmarks/results/table.md``;
``--update-docs`` also copies the chart to ``docs/performance.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

#: Default repeats per engine and workload (medians are over these; a warm-up run comes first).
REPEATS = {
    "omega": {"W1": 25, "W2": 9, "W3": 3, "W4": 200, "W5": 3},
    "vectorbt": {"W1": 9, "W2": 5, "W3": 1, "W5": 1},
    "backtesting": {"W1": 3, "W2": 1, "W3": 1, "W5": 1},
}
NAMES = {"omega": "omega_engine", "vectorbt": "vectorbt", "backtesting": "backtesting.py"}
COLORS = {"omega": "#2a6fdb", "vectorbt": "#e07b39", "backtesting": "#7a7a7a"}
SHORT = {"W1": "W1 EURUSD H1, 1 config", "W2": "W2 1M M1 bars, 1 config",
         "W3": "W3 1,000-config sweep", "W5": "W5 walk-forward 12×200"}
#: Targets of issue 9 (benchmarks, not assertions).
TARGET_W2_NS_PER_BAR = 10.0
TARGET_W3_RATIO = 40.0
TARGET_W3_MB = 500.0
TARGET_W4_SIGNALS_MS = 1.0
TARGET_W4_EXITS_MS = 0.5


# ------------------------------------------------------------------------------------------
# Worker (a fresh process per engine and workload)

def worker(engine: str, workload: str, repeat: int, quick: bool, threads: int,
           result: Path) -> None:
    if engine == "omega":
        import omega_side

        out = omega_side.run(workload, repeat, quick, threads)
    elif engine == "vectorbt":
        import vbt_side

        out = vbt_side.run(workload, repeat, quick)
    else:
        import bt_side

        out = bt_side.run(workload, repeat, quick)
    out["peak_rss_mb"] = C.peak_rss_mb()
    if workload != "W4":
        out["cpu_times"] = list(C.LAST_CPU)
    out["loadavg"] = list(os.getloadavg())
    trade_list = out.pop("trade_list", None)
    if trade_list is not None:
        np.savez(result.with_suffix(".npz"), **trade_list)
        out["trade_list_file"] = str(result.with_suffix(".npz"))
    result.write_text(json.dumps(out, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def run_worker(engine: str, workload: str, repeat: int, quick: bool, threads: int,
               timeout: float) -> dict[str, Any]:
    result = C.RESULTS / "runs" / f"{engine}_{workload}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    for stale in (result, result.with_suffix(".npz")):
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--worker", engine, workload, "--repeat", str(repeat),
           "--threads", str(threads), "--result", str(result)] + (["--quick"] if quick else [])
    env = dict(os.environ, PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise SystemExit(f"{engine} {workload} failed (exit {proc.returncode}):\n{tail}")
    out: dict[str, Any] = json.loads(result.read_text())
    out["process_wall_s"] = wall
    return out


# ------------------------------------------------------------------------------------------
# Data

def prepare_data() -> None:
    """W1: backtesting.py's EURUSD.csv (read from the installed package); W2: omega's seeded
    synthetic M1 bars, bid side (bid = ask in the aligned mode)."""
    import omega_engine as oe
    import pandas as pd

    C.DATA_DIR.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(C.eurusd_csv(), index_col=0, parse_dates=True)
    ts = df.index.to_numpy().astype("datetime64[us]").astype(np.int64)
    np.savez(C.data_file("W1"), ts=ts, open=df["Open"].to_numpy(float),
             high=df["High"].to_numpy(float), low=df["Low"].to_numpy(float),
             close=df["Close"].to_numpy(float))
    t = oe.synthetic_bars("EURUSD", n=C.W2_BARS, seed=C.W2_SEED).to_arrow()
    import pyarrow as pa

    np.savez(C.data_file("W2"), ts=t["timestamp"].cast(pa.int64()).to_numpy(),
             open=t["bid_open"].to_numpy(), high=t["bid_high"].to_numpy(),
             low=t["bid_low"].to_numpy(), close=t["bid_close"].to_numpy())


# ------------------------------------------------------------------------------------------
# Checks

def load_trades(res: dict[str, Any]) -> dict[str, np.ndarray]:
    z = np.load(res["trade_list_file"])
    return {k: z[k] for k in C.TRADE_FIELDS}


def check_agreement(results: dict[str, dict[str, dict[str, Any]]]) -> tuple[bool, list[str]]:
    """W1/W2: omega vs vectorbt must agree exactly (the gate); everything else is reported."""
    ok = True
    lines = []
    for w in ("W1", "W2"):
        r = results.get(w, {})
        if "omega" in r and "vectorbt" in r:
            same, msg = C.compare_trades(load_trades(r["omega"]), load_trades(r["vectorbt"]))
            ok &= same
            lines.append(f"{w} omega_engine vs vectorbt: {'AGREE' if same else 'DIFFER'} "
                         f"({msg})")
        elif "omega" in r or "vectorbt" in r:
            ok = False
            lines.append(f"{w}: the agreement check needs both omega and vectorbt")
        if "omega" in r and "backtesting" in r:
            a, b = load_trades(r["omega"]), load_trades(r["backtesting"])
            keys = {(int(x), int(y), int(d)) for x, y, d in
                    zip(a["entry_i"], a["exit_i"], a["direction"], strict=True)}
            common = sum((int(x), int(y), int(d)) in keys for x, y, d in
                         zip(b["entry_i"], b["exit_i"], b["direction"], strict=True))
            lines.append(f"{w} omega_engine vs backtesting.py (information only): "
                         f"{common} of {len(b['entry_i'])} backtesting.py trades have the same "
                         f"entry bar, exit bar and direction as one of omega's "
                         f"{len(a['entry_i'])}")
    r = results.get("W3", {})
    if "omega" in r and "vectorbt" in r:
        a = np.asarray(r["omega"]["per_config_trades"])
        b = np.asarray(r["vectorbt"]["per_config_trades"])
        m = min(len(a), len(b))
        lines.append(f"W3 trade counts per config, omega_engine vs vectorbt: "
                     f"{int((a[:m] == b[:m]).sum())} of {m} configs equal "
                     f"(totals {int(a[:m].sum())} vs {int(b[:m].sum())})")
    r = results.get("W5", {})
    if "omega" in r and "vectorbt" in r:
        a, b = r["omega"]["chosen"], r["vectorbt"]["chosen"]
        same = sum(x == y for x, y in zip(a, b, strict=False))
        lines.append(f"W5 configs chosen per window, omega_engine vs vectorbt: {same} of "
                     f"{len(a)} windows equal")
        starts = r["omega"].get("train_start_i")
        expect = [s for s, _, _ in C.w5_windows(C.W2_BARS)]
        if starts is not None and starts != expect:
            ok = False
            lines.append(f"W5 windows differ from the suite's: {starts} vs {expect}")
    return ok, lines


# ------------------------------------------------------------------------------------------
# Report

def med(res: dict[str, Any]) -> float:
    return float(statistics.median(res["times"]))


def fmt_s(x: float) -> str:
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def rows(results: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for w in C.WORKLOADS:
        r = results.get(w, {})
        base = r.get("omega")
        for e in C.ENGINES:
            res = r.get(e)
            if res is None or "skipped" in res:
                continue
            if w == "W4":
                for kind, key, n in (("1,000 signals", "signal_times", "signals"),
                                     ("1,000-position exit pass", "exit_times", "positions")):
                    t = float(statistics.median(res[key]))
                    out.append({"workload": w, "label": f"W4 {kind}", "engine": e, "median_s": t,
                                "ratio": None, "cpu_s": None, "cpu_ratio": None,
                                "peak_mb": res["peak_rss_mb"],
                                "base_mb": res["baseline_rss_mb"], "trades": None,
                                "configs": None, "ns_per_unit": t * 1e9 / 1000, "unit": n,
                                "repeat": len(res[key])})
                continue
            t = med(res)
            cpu = float(statistics.median(res["cpu_times"])) if res.get("cpu_times") else None
            base_cpu = (float(statistics.median(base["cpu_times"]))
                        if base is not None and base.get("cpu_times") else None)
            equal = base is not None and base["configs"] == res["configs"]
            bar_cfg = res["bars"] * res["configs"]
            if w == "W5":
                bar_cfg = (C.W5_TRAIN + C.W5_WARMUP) * C.W5_WINDOWS * res["configs"]
            out.append({
                "workload": w, "label": C.TITLES[w], "engine": e, "median_s": t,
                "ratio": (t / med(base)) if (equal and e != "omega") else None,
                "cpu_s": cpu,
                "cpu_ratio": (cpu / base_cpu) if (equal and e != "omega" and cpu and base_cpu)
                else None,
                "subset": None if equal or e == "omega" else
                f"{res['configs']} of {base['configs'] if base else '?'} configs",
                "peak_mb": res["peak_rss_mb"], "base_mb": res["baseline_rss_mb"],
                "trades": res["trades"], "configs": res["configs"],
                "ns_per_unit": t * 1e9 / bar_cfg, "unit": "bar·config", "repeat": len(res["times"]),
                "first_call_s": res.get("warmup_s"),
            })
    return out


def table_text(rs: list[dict[str, Any]]) -> str:
    head = (f"{'workload':<42} {'engine':<15} {'median':>10} {'vs omega':>10} {'CPU':>10} "
            f"{'CPU vs':>8} {'peak MB':>8} {'trades':>9} {'configs':>8} {'ns/unit':>10}")
    lines = [head, "-" * len(head)]
    last = None
    for r in rs:
        label = r["label"] if r["label"] != last else ""
        last = r["label"]
        ratio = (f"{r['ratio']:.1f}x" if r["ratio"] is not None else
                 (r.get("subset") and "subset" or "-"))
        lines.append(
            f"{label[:42]:<42} {NAMES[r['engine']]:<15} {fmt_s(r['median_s']):>10} {ratio:>10} "
            f"{fmt_s(r['cpu_s']) if r['cpu_s'] else '':>10} "
            f"{(format(r['cpu_ratio'], '.1f') + 'x') if r['cpu_ratio'] else '':>8} "
            f"{r['peak_mb']:>8.0f} {'' if r['trades'] is None else r['trades']:>9} "
            f"{'' if r['configs'] is None else r['configs']:>8} {r['ns_per_unit']:>10.1f}")
    return "\n".join(lines)


def cpu_cell(r: dict[str, Any]) -> str:
    if not r.get("cpu_s"):
        return ""
    ratio = f" ({r['cpu_ratio']:.1f}×)" if r.get("cpu_ratio") else ""
    return fmt_s(r["cpu_s"]) + ratio


def table_md(rs: list[dict[str, Any]]) -> str:
    lines = ["| workload | engine | median wall | vs omega_engine | median CPU (vs) | "
             "peak memory | trades | configs | ns per unit (wall) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        ratio = (f"{r['ratio']:.1f}× slower" if r["ratio"] is not None else
                 (f"({r['subset']})" if r.get("subset") else "—"))
        unit = r["unit"]
        lines.append(
            f"| {r['label']} | {NAMES[r['engine']]} | {fmt_s(r['median_s'])} | {ratio} | "
            f"{cpu_cell(r)} | {r['peak_mb']:.0f} MB | "
            f"{'' if r['trades'] is None else r['trades']} | "
            f"{'' if r['configs'] is None else r['configs']} | {r['ns_per_unit']:.1f} / {unit} |")
    return "\n".join(lines)


def targets(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    out = []
    r = results
    if "omega" in r.get("W2", {}):
        ns = med(r["W2"]["omega"]) * 1e9 / r["W2"]["omega"]["bars"]
        out.append(f"W2 omega_engine: {ns:.1f} ns per bar through Python "
                   f"(target <= {TARGET_W2_NS_PER_BAR:.0f}): "
                   f"{'met' if ns <= TARGET_W2_NS_PER_BAR else 'NOT met'}")
    w3 = r.get("W3", {})
    if "omega" in w3:
        mb = w3["omega"]["peak_rss_mb"]
        line = (f"W3 omega_engine: {fmt_s(med(w3['omega']))} on {w3['omega']['threads']} "
                f"threads, peak {mb:.0f} MB (target < {TARGET_W3_MB:.0f} MB: "
                f"{'met' if mb < TARGET_W3_MB else 'NOT met'})")
        if "vectorbt" in w3 and w3["vectorbt"]["configs"] == w3["omega"]["configs"]:
            ratio = med(w3["vectorbt"]) / med(w3["omega"])
            line += (f"; {ratio:.1f}x faster than vectorbt (target >= {TARGET_W3_RATIO:.0f}x: "
                     f"{'met' if ratio >= TARGET_W3_RATIO else 'NOT met'})")
            if w3["omega"].get("cpu_times") and w3["vectorbt"].get("cpu_times"):
                cr = (statistics.median(w3["vectorbt"]["cpu_times"])
                      / statistics.median(w3["omega"]["cpu_times"]))
                line += f"; {cr:.1f}x less CPU time"
        out.append(line)
    w4 = r.get("W4", {}).get("omega")
    if w4:
        s = statistics.median(w4["signal_times"]) * 1e3
        e = statistics.median(w4["exit_times"]) * 1e3
        out.append(f"W4 omega_engine: 1,000 signals {s:.3f} ms (target < "
                   f"{TARGET_W4_SIGNALS_MS} ms: {'met' if s < TARGET_W4_SIGNALS_MS else 'NOT met'}"
                   f"), 1,000-position exit pass {e:.3f} ms (target < {TARGET_W4_EXITS_MS} ms: "
                   f"{'met' if e < TARGET_W4_EXITS_MS else 'NOT met'})")
    return out


def chart(rs: list[dict[str, Any]], path: Path, env: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [w for w in ("W1", "W2", "W3", "W5") if any(r["workload"] == w for r in rs)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100,
                             gridspec_kw={"width_ratios": [1.6, 1]})
    for ax, key, xlabel in ((axes[0], "median_s", "median wall time, s (log scale)"),
                            (axes[1], "peak_mb", "peak memory of the process, MB")):
        height = 0.8 / len(C.ENGINES)
        for k, e in enumerate(C.ENGINES):
            ys, xs, labels = [], [], []
            for j, w in enumerate(ws):
                r = next((r for r in rs if r["workload"] == w and r["engine"] == e), None)
                if r is None:
                    continue
                ys.append(j + (k - 1) * height)
                xs.append(r[key])
                if key == "median_s":
                    if r["ratio"]:
                        labels.append(f"{fmt_s(r[key])} ({r['ratio']:.1f}×)")
                    elif r.get("subset"):
                        labels.append(f"{fmt_s(r[key])} ({r['subset']})")
                    else:
                        labels.append(fmt_s(r[key]))
                else:
                    labels.append(f"{r[key]:.0f}")
            if not ys:
                continue
            bars = ax.barh(ys, xs, height=height, color=COLORS[e], label=NAMES[e])
            ax.bar_label(bars, labels=labels, padding=3, fontsize=7)
        ax.set_yticks(range(len(ws)))
        ax.set_yticklabels([SHORT[w] for w in ws], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        if key == "median_s":
            ax.set_xscale("log")
        ax.margins(x=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"omega_engine vs vectorbt vs backtesting.py (aligned mode; "
                 f"{env['cpu']}, {env['cores']} cores; × = time relative to omega_engine)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def environment(threads: int) -> dict[str, Any]:
    import importlib.metadata as md

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("omega-engine", "vectorbt", "backtesting", "numba", "numpy", "pandas",
                "pyarrow"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=C.HERE).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cores": C.cpu_count(), "omega_threads": threads,
            "python": platform.python_version(), "versions": versions, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


# ------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="W3 on 100 configs for omega and vectorbt (2 for backtesting.py), "
                         "smaller W5 subset for backtesting.py; nothing is extrapolated")
    ap.add_argument("--workloads", default=",".join(C.WORKLOADS))
    ap.add_argument("--engines", default=",".join(C.ENGINES))
    ap.add_argument("--repeat", type=int, default=None, help="repeats for every timing")
    ap.add_argument("--threads", type=int, default=C.cpu_count(),
                    help="omega_engine's rayon threads for W3/W5 (default: all cores)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per worker, seconds")
    ap.add_argument("--update-docs", action="store_true",
                    help="copy the chart to docs/performance.png")
    ap.add_argument("--replot", action="store_true",
                    help="redraw the chart and table.md from results/results.json, run nothing")
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        engine, workload = a.worker
        worker(engine, workload, a.repeat or 1, a.quick, a.threads, a.result)
        return 0

    if a.replot:
        saved = json.loads((C.RESULTS / "results.json").read_text())
        rs = rows(saved["results"])
        (C.RESULTS / "table.md").write_text(table_md(rs) + "\n")
        chart(rs, C.RESULTS / "performance.png", saved["environment"])
        print(table_text(rs))
        if a.update_docs:
            (C.HERE.parent / "docs").mkdir(exist_ok=True)
            shutil.copyfile(C.RESULTS / "performance.png",
                            C.HERE.parent / "docs" / "performance.png")
        return 0

    workloads = [w.strip().upper() for w in a.workloads.split(",") if w.strip()]
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    for w in workloads:
        if w not in C.WORKLOADS:
            ap.error(f"unknown workload {w}")
    for e in engines:
        if e not in C.ENGINES:
            ap.error(f"unknown engine {e}")
    env = environment(a.threads)
    print(f"# {env['cpu']}, {env['cores']} cores, Python {env['python']}, "
          f"omega_engine {env['versions']['omega-engine']} ({env['commit']}), "
          f"vectorbt {env['versions']['vectorbt']}, backtesting.py "
          f"{env['versions']['backtesting']}", flush=True)
    prepare_data()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for w in workloads:
        for e in engines:
            if w == "W4" and e != "omega":
                continue  # no equivalent API in the peers
            rep = a.repeat if a.repeat is not None else REPEATS[e][w]
            if w == "W4":
                rep = max(rep, 50)
            print(f"  {w} {NAMES[e]:<15} x{rep} ...", end="", flush=True)
            res = run_worker(e, w, rep, a.quick, a.threads, a.timeout)
            results.setdefault(w, {})[e] = res
            print(f" median {fmt_s(med(res))}, peak {res['peak_rss_mb']:.0f} MB "
                  f"({res['process_wall_s']:.1f} s in all; load average "
                  f"{res['loadavg'][0]:.1f})", flush=True)

    ok, checks = check_agreement(results)
    print()
    for line in checks:
        print(line)
    out_json = {"environment": env, "quick": a.quick, "agreement_ok": ok, "checks": checks,
                "results": results}
    C.RESULTS.mkdir(parents=True, exist_ok=True)
    if not ok:
        (C.RESULTS / "results.json").write_text(json.dumps(out_json, indent=1,
                                                           default=_json_default))
        print("\nThe trade lists do not agree: no ratios are reported (see above).")
        return 1
    rs = rows(results)
    out_json["rows"] = rs
    print()
    print(table_text(rs))
    print()
    for line in targets(results):
        print(line)
    (C.RESULTS / "results.json").write_text(json.dumps(out_json, indent=1,
                                                       default=_json_default))
    (C.RESULTS / "table.md").write_text(table_md(rs) + "\n")
    png = C.RESULTS / "performance.png"
    chart(rs, png, env)
    print(f"\nwrote {C.RESULTS / 'results.json'}, {C.RESULTS / 'table.md'}, {png}")
    if a.update_docs:
        docs = C.HERE.parent / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copyfile(png, docs / "performance.png")
        print(f"copied the chart to {docs / 'performance.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
