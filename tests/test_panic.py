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
