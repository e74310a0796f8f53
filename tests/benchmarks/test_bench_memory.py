"""Peak memory of a summary-only ``oe.run_many`` over a huge grid (issue 8 resource guard).

Each measurement runs in a fresh interpreter: it builds the bars and the configs, resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``), runs ``run_many(include="summary")`` and
reads the peak (``VmHWM``). The growth must stay within the summary table plus a fixed allowance,
far below what keeping the trades would need: nothing per trade or per bar is kept.

10,000 configs run in every test run; the 100,000-config measurement of the issue runs with
``OMEGA_BENCH=1`` (about 10-20 s):

    OMEGA_BENCH=1 python -m pytest tests/benchmarks/test_bench_memory.py -s

The same measurement in Rust alone: ``cargo test -p omega-loop --profile ci --test memory --
--ignored --nocapture``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import omega_engine as oe

    def kib(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])
        raise KeyError(key)

    n = int(sys.argv[1])
    bars = oe.synthetic_bars("EURUSD", n=2_000, seed=3)
    configs = [{"strategy": {"name": "sma_cross", "params": {
                    "fast": 2 + k % 40, "slow": 45 + (k // 40) % 50,
                    "sl_pips": 5 + k // 2000, "tp_pips": 2 * (5 + k // 2000)}}}
               for k in range(n)]
    t = time.perf_counter()
    # Warm-up on a few configs so that one-time allocations (thread pool, module state) are
    # in the baseline, not in the measured growth.
    oe.run_many(configs[:64], bars, include="summary", progress=False)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = kib("VmRSS:")
    t = time.perf_counter()
    r = oe.run_many(configs, bars, include="summary", progress=False)
    secs = time.perf_counter() - t
    peak = kib("VmHWM:")
    trades = sum(r.summary.column("trades").to_pylist())
    print(json.dumps({
        "configs": n, "seconds": secs, "baseline_mib": base / 1024,
        "growth_mib": (peak - base) / 1024, "summary_mib": r.summary.nbytes / 2**20,
        "json_mib": sum(map(len, r.configs)) / 2**20, "trades": trades,
        "failed": r.failed().num_rows,
    }))
""")

#: Bytes of one config parsed in Rust (RunConfig with its strings and maps), measured: ~1.4 KiB.
CONFIG_BYTES = 1536
#: Bytes one trades row takes in the trades table (29 columns; see crates/loop/src/runner.rs).
TRADE_ROW_BYTES = 280


def measure(n: int) -> dict[str, float]:
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc (peak RSS reset)")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(n)], check=True,
                         capture_output=True, text=True, timeout=900)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("n", [
    10_000,
    pytest.param(100_000, marks=pytest.mark.skipif(
        not os.environ.get("OMEGA_BENCH"), reason="set OMEGA_BENCH=1 for the 100k measurement")),
])
def test_summary_only_peak_memory_is_bounded(n: int) -> None:
    m = measure(n)
    print(f"\nsummary-only run_many: {n} configs x 2,000 bars in {m['seconds']:.1f} s; "
          f"{m['trades']} trades not kept; summary table {m['summary_mib']:.1f} MiB; "
          f"peak RSS growth {m['growth_mib']:.1f} MiB (baseline {m['baseline_mib']:.0f} MiB)")
    assert m["failed"] == 0
    # What a summary-only batch holds by design: the summary table, and the configs themselves
    # (their JSON, copied into Rust, and every config parsed up front: about 1.5 KiB each).
    # 64 MiB more for the pool, chunk buffers and allocator slack. Nothing grows with the
    # number of trades or bars.
    per_config_mib = CONFIG_BYTES * n / 2**20
    bound = m["summary_mib"] + m["json_mib"] + per_config_mib + 64
    assert m["growth_mib"] < bound, m
    # The check can fail: keeping the trades rows as well would exceed the allowance.
    if n >= 100_000:
        assert m["trades"] * TRADE_ROW_BYTES / 2**20 > 64, m
