"""run_many on Dask and Ray (issue 7): identical results, a worker killed mid-run, worker errors.

Real clusters on loopback, no mocks: a Dask ``LocalCluster`` with two single-threaded worker
processes and a local Ray with two CPUs. Skipped (with the reason) only where dask distributed or
ray is not importable.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import threading
import time

import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine import _core, errors
from omega_engine import distributed as od

HAVE_DASK = importlib.util.find_spec("distributed") is not None
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_dask = pytest.mark.skipif(
    not HAVE_DASK, reason="dask distributed not installed (pip install 'omega-engine[dask]')"
)
needs_ray = pytest.mark.skipif(
    not HAVE_RAY, reason="ray not installed (pip install 'omega-engine[ray]')"
)


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def data():
    return oe.synthetic_bars("EURUSD", n=20_000, seed=11)


@pytest.fixture(scope="module")
def configs():
    # Two strategies interleaved in blocks, so that chunks differ in their parameter columns.
    out = []
    for fast, slow in [(5, 20), (8, 30), (10, 40), (12, 60), (15, 80)]:
        for sl, tp in [(10, 20), (20, 40)]:
            out.append(oe.strategies.SmaCross(fast, slow, sl_pips=sl, tp_pips=tp))
    for period in (7, 14, 21):
        for sl, tp in [(15, 30), (25, 50)]:
            out.append(oe.strategies.RsiReversion(period, 30.0, 70.0, sl_pips=sl, tp_pips=tp))
    return out


@pytest.fixture(scope="module")
def local(configs, data):
    return oe.run_many(configs, data, threads=1, include=("summary", "trades"), progress=False)


@pytest.fixture(scope="module")
def long_data():
    # Long enough (~10-20 ms per config at the engine's 5-10 ns per bar) that a worker is still
    # busy when the first chunk is back.
    return oe.synthetic_bars("EURUSD", n=1_500_000, seed=12)


@pytest.fixture(scope="module")
def long_local(configs, long_data):
    return oe.run_many(configs, long_data, threads=2, progress=False)


@pytest.fixture(scope="module")
def dask_client():
    if not HAVE_DASK:
        pytest.skip("dask distributed not installed (pip install 'omega-engine[dask]')")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ray_started():
    if not HAVE_RAY:
        pytest.skip("ray not installed (pip install 'omega-engine[ray]')")
    # Ray's "single machine" mode: every Ray service binds to and talks over 127.0.0.1 (read when
    # ray is first imported).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def assert_same(result, local):
    assert result.summary.num_rows == local.summary.num_rows
    assert ipc(result.summary) == ipc(local.summary)
    assert ipc(result.trades) == ipc(local.trades)


@needs_dask
def test_dask_matches_local(configs, data, local, dask_client):
    assert local.trades.num_rows > 0
    # A plain Client, and an executor with small chunks (parameter columns differ per chunk).
    assert_same(oe.run_many(configs, data, executor=dask_client, progress=False), local)
    seen = []
    ex = od.DaskExecutor(dask_client, chunk_size=3)
    result = oe.run_many(configs, data, executor=ex, progress=lambda d, t: seen.append((d, t)))
    assert_same(result, local)
    n = len(configs)
    assert seen[-1] == (n, n) and len(seen) == -(-n // 3)


@needs_dask
def test_ticks_signals_and_two_symbols_on_dask(data, dask_client):
    # Every kind of data the batch can carry: bars of one symbol, ticks of another, and a
    # precomputed signals table, each rebuilt on the workers.
    n = 3_000
    ts = pa.array(
        [1_704_067_200_000_000 + i * 1_000_000 for i in range(n)], pa.timestamp("us", tz="UTC")
    )
    bid = [1.25 + 0.00001 * (i % 70) for i in range(n)]
    ticks = oe.load_ticks(
        "GBPUSD", pa.table({"timestamp": ts, "bid": bid, "ask": [b + 0.0001 for b in bid]})
    )
    signals = pa.table(
        {
            "timestamp": ts.take([10, 500, 1200]),
            "symbol": ["GBPUSD"] * 3,
            "direction": ["long", "short", "long"],
            "stop_loss": [1.2490, 1.2515, 1.2490],
            "take_profit": [1.2504, 1.2495, 1.2506],
        }
    )
    configs = [
        {"symbol": "EURUSD", "strategy": oe.strategies.SmaCross(5, 20, sl_pips=10, tp_pips=20)},
        {"symbol": "GBPUSD", "strategy": oe.strategies.Signals()},
        {"symbol": "EURUSD", "strategy": oe.strategies.SmaCross(8, 30, sl_pips=10, tp_pips=20)},
    ]
    configs = [{**c, "strategy": c["strategy"].to_config()} for c in configs]
    both = {"EURUSD": data, "GBPUSD": ticks}
    local = oe.run_many(configs, both, signals=signals, threads=1, progress=False)
    assert set(local.trades.column("symbol").to_pylist()) == {"EURUSD", "GBPUSD"}
    ex = od.DaskExecutor(dask_client, chunk_size=1)
    assert_same(oe.run_many(configs, both, signals=signals, executor=ex, progress=False), local)


@needs_dask
def test_walk_forward_on_dask_matches_local(dask_client):
    from omega_engine.walk_forward import walk_forward

    bars = oe.synthetic_bars("EURUSD", n=3000, timeframe="1h", seed=7)
    grid = oe.grid(oe.strategies.SmaCross, fast=[4, 8], slow=[24, 48], sl_pips=[15], tp_pips=[30])
    kw = {"train": "40D", "test": "15D", "min_trades": 1, "progress": False}
    local_wf = walk_forward(grid, bars, threads=1, **kw)
    dask_wf = walk_forward(grid, bars, executor=od.DaskExecutor(dask_client, chunk_size=1), **kw)
    assert local_wf.windows.num_rows > 1 and local_wf.oos_trades.num_rows > 0
    for name in ("windows", "oos_trades", "oos_equity"):
        assert ipc(getattr(dask_wf, name)) == ipc(getattr(local_wf, name)), name


@needs_ray
def test_ray_matches_local(configs, data, local, ray_started):
    assert_same(oe.run_many(configs, data, executor=od.RayExecutor(chunk_size=4)), local)


@needs_ray
def test_ray_worker_killed_mid_run(configs, long_data, long_local, ray_started):
    import psutil

    killed = []

    def kill_a_running_chunk(done, total):
        if not killed:
            running = [
                p
                for p in psutil.process_iter(["name"])
                if (p.info["name"] or "").startswith("ray::omega-chunk")
            ]
            if running:
                os.kill(running[0].pid, signal.SIGKILL)
                killed.append(running[0].pid)

    ex = od.RayExecutor(chunk_size=2)
    result = oe.run_many(configs, long_data, executor=ex, progress=kill_a_running_chunk)
    assert killed, "no chunk was running when the first one came back"
    assert_same(result, long_local)


def set_allowed_failures(dask_scheduler, n):
    old = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = n
    return old


@needs_dask
@pytest.mark.parametrize("allowed_failures", [None, 0], ids=["dask-reschedules", "resubmitted"])
def test_dask_worker_killed_mid_run(configs, long_data, long_local, dask_client, allowed_failures):
    # Dask reschedules the lost worker's chunks itself; with allowed-failures = 0 it gives up on
    # a chunk at once (KilledWorker) and the executor submits it again.
    if allowed_failures is not None:
        old = dask_client.run_on_scheduler(set_allowed_failures, n=allowed_failures)
    before = dask_client.run(os.getpid)
    victim_addr, victim_pid = sorted(before.items())[0]
    state = {}

    def kill_after_first_chunk(done, total):
        if not state:
            state["busy"] = dask_client.processing(workers=[victim_addr]).get(victim_addr, ())
            os.kill(victim_pid, signal.SIGKILL)

    ex = od.DaskExecutor(dask_client, chunk_size=1)
    try:
        result = oe.run_many(configs, long_data, executor=ex, progress=kill_after_first_chunk)
    finally:
        if allowed_failures is not None:
            dask_client.run_on_scheduler(set_allowed_failures, n=old)
    assert state["busy"], "the killed worker had no chunk in flight"
    assert_same(result, long_local)
    assert ex.last_chunks == len(configs)
    if allowed_failures == 0:
        assert ex.last_resubmitted >= 1
    else:
        assert ex.last_resubmitted == 0
    # The nanny restarted the worker: a new process took the dead one's place.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        after = dask_client.run(os.getpid)
        if len(after) == 2:
            break
        time.sleep(0.2)
    assert victim_pid not in after.values()


def config_json(**params):
    return json.dumps(
        {
            "symbol": "EURUSD",
            "symbol_spec": {"pip_size": 0.0001},
            "strategy": {"name": "sma_cross", "params": params},
        }
    )


@pytest.mark.parametrize(
    "backend", [pytest.param("dask", marks=needs_dask), pytest.param("ray", marks=needs_ray)]
)
def test_worker_error_arrives_as_the_same_coded_exception(backend, data, request):
    # Raw config JSON straight to the engine's batch, so the bad configs are only seen on the
    # workers. Two different errors: like a local run, the lowest config index wins.
    good = config_json(fast=5, slow=20, sl_pips=10, tp_pips=20)
    unknown = json.dumps({"symbol": "EURUSD", "strategy": {"name": "no_such_strategy"}})
    inconsistent = config_json(fast=30, slow=20, sl_pips=10, tp_pips=20)
    configs_json = [good, good, unknown, good, good, inconsistent, good]
    bars = {"EURUSD": data.core}
    with pytest.raises(errors.OmegaError) as info:
        with errors.translate():
            _core.run_many(configs_json, bars, threads=1)
    expected = info.value
    assert expected.code == 1005 and "configs[2]" in str(expected)
    if backend == "dask":
        executor = od.DaskExecutor(request.getfixturevalue("dask_client"), chunk_size=1)
    else:
        request.getfixturevalue("ray_started")
        executor = od.RayExecutor(chunk_size=1)
    with pytest.raises(errors.OmegaError) as info:
        od.run_core(executor, configs_json, bars)
    got = info.value
    assert type(got) is type(expected) and isinstance(got, ValueError)
    assert got.code == expected.code and str(got) == str(expected)


@needs_dask
def test_ctrl_c_cancels_outstanding_and_running_chunks(long_data, dask_client):
    # Four chunks of ~2 s on two workers; a real SIGINT once chunks run. Without the worker-side
    # stop they would keep running well over a second after it. The chunk size comes from the
    # engine's speed measured here (the fastest of three timings: other processes only slow a
    # timing down), so the test does not depend on how fast the engine is.
    grid = [
        oe.strategies.SmaCross(fast, slow, sl_pips=sl, tp_pips=2 * sl)
        for sl in range(10, 60)
        for fast in range(5, 17)
        for slow in range(30, 110, 10)
    ]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        oe.run_many(grid[:4], long_data, threads=1, include="summary", progress=False)
        timings.append((time.perf_counter() - started) / 4)
    per_config = min(timings)
    per_chunk = min(len(grid) // 4, max(8, math.ceil(2.0 / per_config)))
    configs = grid[: 4 * per_chunk]
    # A worker killed by an earlier test of this module is restarted by its nanny.
    dask_client.wait_for_workers(2, timeout=60)

    def executing(dask_worker):
        return len(dask_worker.state.executing)

    state = {"running": True, "busy": {}}

    def ctrl_c_once_chunks_run():
        deadline = time.monotonic() + 60
        while state["running"] and time.monotonic() < deadline:
            state["busy"] = dask_client.run(executing)
            if any(state["busy"].values()):
                time.sleep(0.2)
                if state["running"]:
                    os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=ctrl_c_once_chunks_run, daemon=True)
    ex = od.DaskExecutor(dask_client, chunk_size=per_chunk)
    # What a user's Ctrl-C does under Python's own SIGINT handler: Python leaves SIGINT ignored
    # when the test process started with it ignored (a background job of a non-interactive
    # shell, as some CI runners start tests), and a library may have installed another handler.
    handler_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    try:
        watcher.start()
        try:
            oe.run_many(configs, long_data, executor=ex, progress=False)
        except KeyboardInterrupt:
            interrupted = time.monotonic()
        else:
            pytest.fail(
                f"no KeyboardInterrupt: the run took {time.monotonic() - started:.2f} s "
                f"({per_config * 1e3:.2f} ms per config locally, {per_chunk} configs per chunk, "
                f"workers executing: {state['busy']}; SIGINT handler before the test: "
                f"{handler_before!r})"
            )
    finally:
        state["running"] = False
        watcher.join()
        signal.signal(signal.SIGINT, handler_before)
    assert any(state["busy"].values()), "no chunk was running when Ctrl-C came"

    def omega_tasks(dask_scheduler):
        return [k for k in dask_scheduler.tasks if "omega-chunk" in str(k)]

    # The scheduler forgets the chunks and the workers stop running them (Dask cannot interrupt
    # a task; the engine's progress poll on the worker does) well before they would have ended.
    deadline = interrupted + 1.0
    while time.monotonic() < deadline and (
        dask_client.run_on_scheduler(omega_tasks) or any(dask_client.run(executing).values())
    ):
        time.sleep(0.05)
    assert dask_client.run_on_scheduler(omega_tasks) == []
    assert not any(dask_client.run(executing).values())


def test_unknown_executor_is_a_coded_error():
    with pytest.raises(errors.OmegaError) as info:
        od.resolve_executor(object())
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("[1001]") and "executor" in str(info.value)
