"""A Rust panic surfaces as code 5005 and the process survives (test-only injection hooks)."""

from __future__ import annotations

import omega_engine as oe
import pytest
from omega_engine import _core, config, errors
from omega_engine.strategies import SmaCross


def test_panic_in_one_config_of_a_batch(small_bars: oe.Bars) -> None:
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[50], sl_pips=10, tp_pips=20)
    jsons = config.prepare(list(grid), {}, ["EURUSD"])
    summary, trades, _ = _core.run_many(jsons, {"EURUSD": small_bars.core}, _panic_on_config=1)
    assert summary.column("error_code").to_pylist() == [None, 5005, None]
    message = summary.column("error").to_pylist()[1]
    assert message.startswith("[5005] FFI_PANIC_CAUGHT") and "panic" in message
    assert trades is not None and set(trades.column("config_index").to_pylist()) == {0, 2}
    # The same batch without the hook is complete, and the failed row maps to its class.
    clean = oe.run_many(grid, small_bars, progress=False)
    assert clean.failed().num_rows == 0
    assert errors.error_class(5005) is errors.FfiPanicCaughtError


def test_panic_at_the_boundary() -> None:
    sim = oe.ExecutionSimulator()
    with pytest.raises(errors.FfiPanicCaughtError) as info:
        with errors.translate():
            sim._sim._panic_for_tests()
    assert info.value.code == 5005 and isinstance(info.value, RuntimeError)
    assert "injected panic" in str(info.value)
    # The simulator is still usable.
    assert sim.active_positions.num_rows == 0


def test_panic_isolation_on_many_threads_keeps_the_other_results_exact(
        small_bars: oe.Bars) -> None:
    """A panic in the middle of a multi-threaded batch: that config alone fails with 5005 and
    every other config's summary and trades are exactly those of a batch without the panic."""
    import pyarrow.compute as pc

    grid = list(oe.grid(SmaCross, fast=[3, 5, 8, 13], slow=[21, 34, 55], sl_pips=[8, 15],
                        tp_pips=20))
    jsons = config.prepare(grid, {}, ["EURUSD"])
    bars = {"EURUSD": small_bars.core}
    clean = _core.run_many(jsons, bars, threads=4)
    hit = 11
    summary, trades, _ = _core.run_many(jsons, bars, threads=4, _panic_on_config=hit)
    codes = summary.column("error_code").to_pylist()
    assert codes == [5005 if i == hit else None for i in range(len(jsons))]
    keep = pc.not_equal(summary.column("config_index"), hit)
    assert summary.filter(keep).drop_columns(["error_code", "error"]).equals(
        clean[0].filter(keep).drop_columns(["error_code", "error"]))
    assert trades is not None and clean[1] is not None
    assert trades.equals(clean[1].filter(pc.not_equal(clean[1].column("config_index"), hit)))
    # The failed row carries no metrics that could be mistaken for a result.
    row = summary.slice(hit, 1).to_pylist()[0]
    assert row["trades"] in (None, 0) and row["error"].startswith("[5005] FFI_PANIC_CAUGHT")


def test_process_survives_a_panic_and_exits_normally() -> None:
    """In a fresh interpreter: a panicking config, then a panicking simulator call, then a clean
    run; the process ends with status 0 (no abort, no poisoned state)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import omega_engine as oe
        from omega_engine import _core, config, errors
        bars = oe.synthetic_bars("EURUSD", n=3_000, seed=1)
        jsons = config.prepare([oe.SmaCross(5, 20, sl_pips=10, tp_pips=20)] * 3, {}, ["EURUSD"])
        s, _, _ = _core.run_many(jsons, {"EURUSD": bars.core}, _panic_on_config=0)
        assert s.column("error_code").to_pylist() == [5005, None, None]
        sim = oe.ExecutionSimulator()
        try:
            with errors.translate():
                sim._sim._panic_for_tests()
        except errors.FfiPanicCaughtError:
            pass
        r = oe.run(oe.SmaCross(5, 20, sl_pips=10, tp_pips=20), bars)
        print("ok", r.summary.num_rows)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok 1"
