"""Overhead of the Dask and Ray executors against a local ``run_many`` (issue 7).

Runs the same batch (default: 1,000 SMA-cross configs on 1,000,000 one-minute bars) three ways on
this machine — locally on every core, on a Dask ``LocalCluster`` with one single-threaded worker
process per core, and on a local Ray with as many CPUs — checks that the three give identical
Arrow IPC bytes, and prints the median wall times and the ratios distributed / local.

    python benchmarks/bench_distributed.py [--configs 1000] [--bars 1000000] [--rounds 3]

Both clusters are started first; then each round runs local, Dask and Ray once, one after the
other, so that load from elsewhere on the machine spreads over the three alike. Every call ships
the bars again (a fresh batch), as a user's call would. A first warm-up round (worker imports,
first shipping) is reported separately and left out of the medians.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from typing import Any

import omega_engine as oe
import pyarrow as pa


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def make_configs(n: int) -> list[Any]:
    fast = range(5, 200)
    slow = range(20, 400, 10)
    stops = [(10, 20), (20, 40), (30, 60)]
    out: list[Any] = []
    for f, s, (sl, tp) in itertools.product(fast, slow, stops):
        if f < s:
            out.append(oe.SmaCross(f, s, sl_pips=sl, tp_pips=tp))
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument(
        "--include", default="summary,trades", help="tables to build (summary[,trades][,equity])"
    )
    args = ap.parse_args()
    include = tuple(args.include.split(","))

    data = oe.synthetic_bars("EURUSD", n=args.bars, seed=42)
    configs = make_configs(args.configs)
    print(
        f"{len(configs)} configs x {len(data):,} bars, {args.workers} workers/threads, "
        f"include={include}",
        flush=True,
    )

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    client = Client(cluster)
    runners: dict[str, Any] = {
        "local": lambda: oe.run_many(
            configs, data, threads=args.workers, include=include, progress=False
        ),
        "dask": lambda: oe.run_many(
            configs, data, executor=client, include=include, progress=False
        ),
    }
    ray: Any = None
    if not args.skip_ray:
        # Single-machine mode: Ray's services bind to and talk over 127.0.0.1.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ray_ex = oe.distributed.RayExecutor()
        runners["ray"] = lambda: oe.run_many(
            configs, data, executor=ray_ex, include=include, progress=False
        )

    def key(r: Any) -> tuple[bytes, bytes | None]:
        return ipc(r.summary), None if r.trades is None else ipc(r.trades)

    times: dict[str, list[float]] = {name: [] for name in runners}
    warm: dict[str, float] = {}
    reference: tuple[bytes, bytes | None] | None = None
    try:
        for rnd in range(args.rounds + 1):
            for name, fn in runners.items():
                t0 = time.perf_counter()
                res = fn()
                elapsed = time.perf_counter() - t0
                if rnd == 0:
                    warm[name] = elapsed
                    k = key(res)
                    if reference is None:
                        reference = k
                        rows = 0 if res.trades is None else res.trades.num_rows
                        print(f"summary {res.summary.num_rows} rows, trades {rows:,} rows")
                    assert k == reference, f"{name}: result differs from the local run"
                else:
                    times[name].append(elapsed)
                print(f"  round {rnd} {name:6} {elapsed:8.3f} s", flush=True)
                del res
    finally:
        if ray is not None:
            ray.shutdown()
        client.close()
        cluster.close()

    base = statistics.median(times["local"]) if args.rounds else warm["local"]
    print(f"{'backend':8} {'warm-up s':>10} {'median s':>10} {'ratio':>7}")
    for name in runners:
        med = statistics.median(times[name]) if args.rounds else warm[name]
        print(f"{name:8} {warm[name]:10.3f} {med:10.3f} {med / base:7.3f}")
    print(f"results identical (Arrow IPC bytes of {', '.join(include)}): yes")


if __name__ == "__main__":
    main()
