"""Overhead of the Dask and Ray executors against a local ``run_many`` (issue 7).

Runs the same batch (default: 1,000 SMA-cross configs on 1,000,000 one-minute bars) three ways on
this machine — locally with every core, on a Dask ``LocalCluster`` with one single-threaded worker
process per core, and on a local Ray with as many CPUs — checks that the three give identical
Arrow IPC bytes, and prints the median wall times and the ratios distributed / local.

    python benchmarks/bench_distributed.py [--configs 1000] [--bars 1000000] [--repeat 3]

The first distributed call of each backend is a warm-up (worker imports, first shipping) and is
reported separately; the medians are over ``--repeat`` further calls, each of which ships the bars
again (a fresh batch), as a user's call would.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import omega_engine as oe
import pyarrow as pa


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def make_configs(n: int) -> list[dict[str, Any]]:
    fast = range(5, 200)
    slow = range(20, 400, 10)
    stops = [(10, 20), (20, 40), (30, 60)]
    out: list[dict[str, Any]] = []
    for f, s, (sl, tp) in itertools.product(fast, slow, stops):
        if f < s:
            out.append(oe.SmaCross(f, s, sl_pips=sl, tp_pips=tp))
        if len(out) == n:
            break
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    t0 = time.perf_counter()
    first = fn()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return warm, times, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()

    data = oe.synthetic_bars("EURUSD", n=args.bars, seed=42)
    configs = make_configs(args.configs)
    print(f"{len(configs)} configs x {len(data):,} bars, {args.workers} workers/threads")

    def local() -> Any:
        return oe.run_many(configs, data, threads=args.workers, progress=False)

    rows: list[tuple[str, float, list[float]]] = []
    warm, times, ref = timed(local, args.repeat)
    rows.append(("local", warm, times))
    ref_bytes = (ipc(ref.summary), ipc(ref.trades))

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):

        def dask() -> Any:
            return oe.run_many(configs, data, executor=client, progress=False)

        warm, times, res = timed(dask, args.repeat)
        assert (ipc(res.summary), ipc(res.trades)) == ref_bytes, "dask result differs"
        rows.append(("dask", warm, times))

    if not args.skip_ray:
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        try:
            ex = oe.distributed.RayExecutor()

            def ray_run() -> Any:
                return oe.run_many(configs, data, executor=ex, progress=False)

            warm, times, res = timed(ray_run, args.repeat)
            assert (ipc(res.summary), ipc(res.trades)) == ref_bytes, "ray result differs"
            rows.append(("ray", warm, times))
        finally:
            ray.shutdown()

    base = statistics.median(rows[0][2])
    print(f"{'backend':8} {'warm-up s':>10} {'median s':>10} {'ratio':>7}")
    for name, warm, times in rows:
        med = statistics.median(times)
        print(f"{name:8} {warm:10.3f} {med:10.3f} {med / base:7.3f}")
    print("results identical (Arrow IPC bytes of summary and trades): yes")


if __name__ == "__main__":
    main()
