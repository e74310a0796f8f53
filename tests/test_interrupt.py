"""Ctrl-C during a long run_many: KeyboardInterrupt within 0.5 s, nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import signal, sys, time
    import omega_engine as oe

    # Python leaves SIGINT ignored when it starts ignored (a background job of a non-interactive
    # shell, as some CI runners start tests); a terminal user has the default handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    bars = oe.synthetic_bars("EURUSD", n=1_000_000, seed=1)
    grid = oe.grid(oe.SmaCross, fast=list(range(2, 42)), slow=list(range(50, 100)),
                   sl_pips=[10], tp_pips=[20])
    result = None
    print("started", flush=True)
    t0 = time.perf_counter()
    try:
        result = oe.run_many(grid, bars, include=("summary", "trades"), progress=False)
        print("finished", time.perf_counter() - t0, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    assert result is None
    # The process is healthy afterwards: a new batch runs normally.
    small = oe.run_many(grid[:3], bars.slice(0, 5000), progress=False)
    print("after", small.summary.num_rows, flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_run_many_quickly() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.5)  # well inside a batch that takes several seconds
        sent = time.perf_counter()
        os.kill(proc.pid, signal.SIGINT)
        line = proc.stdout.readline().strip()
        latency = time.perf_counter() - sent
        assert line == "interrupted", (line, proc.stderr.read() if proc.stderr else "")
        assert latency < 0.5, f"KeyboardInterrupt took {latency:.3f} s"
        assert proc.stdout.readline().strip() == "after 3"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
