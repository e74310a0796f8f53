"""Golden outputs: every scenario of fixtures/scenarios.json must reproduce the committed Arrow IPC
bytes of its summary, trades and equity tables exactly (see tests/golden/README.md).

When a change of the engine changes results on purpose, regenerate with
``bash scripts/regen_golden.sh``, read the printed diff and commit the new files with the change.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import goldenlib as g
import pyarrow as pa
import pyarrow.compute as pc
import pytest

FX = g.load_fixtures()
SCENARIOS = list(FX["scenarios"])


@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    return g.build_inputs(FX)


@pytest.fixture(scope="module")
def outputs(inputs: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    return {name: g.run_scenario(FX, name, inputs) for name in SCENARIOS}


def _input_note(inputs: dict[str, Any]) -> str:
    recorded = json.loads(g.INPUTS_FILE.read_text()) if g.INPUTS_FILE.exists() else {}
    now = g.input_hashes(inputs)
    changed = sorted(k for k in set(now) | set(recorded) if now.get(k) != recorded.get(k))
    if not changed:
        return "the inputs are unchanged, so the engine's output changed"
    return (f"the inputs {changed} changed too (their SHA-256 differs from expected/inputs.json: "
            "e.g. the synthetic bar generator changed), which explains at least part of it")


@pytest.mark.parametrize("table", g.TABLES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_output_is_byte_identical(scenario: str, table: str, outputs, inputs) -> None:
    expected = g.read_expected(scenario, table)
    actual = outputs[scenario][table]
    if expected == actual:
        return
    detail = "\n    ".join(g.describe_diff(expected, actual))
    pytest.fail(
        f"golden output {scenario}.{table} differs from "
        f"{g.expected_path(scenario, table).relative_to(g.HERE.parent.parent)}; "
        f"{_input_note(inputs)}:\n    {detail}\n"
        f"If the change is intended, regenerate with `{g.REGEN_COMMAND}`, review its diff report "
        "and commit the new files in tests/golden/expected with the change.",
        pytrace=False,
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_thread_count_does_not_change_the_bytes(scenario: str, outputs, inputs) -> None:
    assert g.run_scenario(FX, scenario, inputs, threads=None) == outputs[scenario]


def test_inputs_are_the_recorded_ones(inputs) -> None:
    recorded = json.loads(g.INPUTS_FILE.read_text())
    assert g.input_hashes(inputs) == recorded, (
        f"golden inputs changed; {_input_note(inputs)}. Regenerate with `{g.REGEN_COMMAND}`.")


def test_no_stray_expected_files() -> None:
    wanted = {g.expected_path(n, t).name for n in SCENARIOS for t in g.TABLES}
    present = {p.name for p in g.EXPECTED.glob("*.arrows.gz")}
    assert present == wanted, (
        f"missing {sorted(wanted - present)}, stray {sorted(present - wanted)}")


def test_describe_diff_names_what_changed(outputs) -> None:
    # The review aid must point at the changed cell, not only say "bytes differ".
    old = outputs["costs"]["trades"]
    t = g.read_ipc(old)
    pos = t.schema.get_field_index("net_pnl")
    values = t.column(pos).to_pylist()
    values[3] += 0.01
    new = g.ipc_bytes(t.set_column(pos, t.schema.field(pos), pa.array(values, pa.float64())))
    lines = g.describe_diff(old, new)
    assert lines == [f"column net_pnl: 1 of {t.num_rows} common rows differ, first at row 3: "
                     f"{t.column('net_pnl')[3].as_py()!r} -> {values[3]!r}"]
    assert g.describe_diff(old, old) == []
    assert "rows:" in g.describe_diff(old, g.ipc_bytes(t.slice(1)))[0]


# --- the scenarios cover what they claim ------------------------------------------------------
# Regenerating must not silently lose coverage (e.g. a rule that stops firing on the fixture data).


def _all(table: str, outputs) -> pa.Table:
    parts = []
    for name in SCENARIOS:
        t = g.read_ipc(outputs[name][table])
        keep = [c for c in ("config_index", "strategy", "variant", "reason", "order_type",
                            "trades", "fees_total", "orders_expired", "symbol",
                            "signals_rejected_sl_wrong_side", "signals_rejected_sl_too_close",
                            "signals_rejected_size_below_min") if c in t.column_names]
        t = t.select(keep)
        parts.append(t.append_column("scenario", pa.array([name] * t.num_rows, pa.string())))
    return pa.concat_tables(parts, promote_options="default")


def test_every_strategy_runs_and_trades_in_both_variants(outputs) -> None:
    s = _all("summary", outputs)
    traded = {(r["strategy"], r["variant"]) for r in s.to_pylist() if r["trades"] > 0}
    for name in ("sma_cross", "ema_cross", "donchian_breakout", "zscore_reversion",
                 "rsi_reversion", "signals"):
        for variant in ("v2", "v1_parity"):
            assert (name, variant) in traded, (name, variant)


def test_every_exit_reason_and_order_type_occurs(outputs) -> None:
    t = _all("trades", outputs)
    reasons = set(t.column("reason").to_pylist())
    assert {"stop_loss", "take_profit", "break_even_stop_loss", "trailing_stop", "timeout",
            "end_of_data", "signal_exit"} <= reasons, reasons
    assert set(t.column("order_type").to_pylist()) == {"market", "limit", "stop"}
    by = Counter(zip(t.column("scenario").to_pylist(), t.column("reason").to_pylist(),
                     strict=True))
    assert by[("ticks", "timeout")] > 0 and by[("ticks", "trailing_stop")] > 0
    assert by[("trade_management", "trailing_stop")] > 0


def test_costs_expiry_rejections_and_gaps_have_effects(outputs) -> None:
    s = _all("summary", outputs)
    rows = s.to_pylist()
    assert all(r["fees_total"] > 0 for r in rows if r["scenario"] == "costs"
               and r["config_index"] != 3)  # config 3: slippage only
    assert any(r["orders_expired"] > 0 for r in rows if r["variant"] == "v2")
    for col in ("signals_rejected_sl_wrong_side", "signals_rejected_sl_too_close",
                "signals_rejected_size_below_min"):
        assert pc.sum(s.column(col)).as_py() > 0, col
    assert {r["symbol"] for r in rows if r["scenario"] == "costs"} == {"EURUSD", "USDJPY"}
    ex = g.read_ipc(outputs["execution"]["summary"]).to_pylist()
    configs = FX["scenarios"]["execution"]["configs"]
    gap_off = next(i for i, c in enumerate(configs) if c.get("gap_fills") is False)
    gap_on = next(i for i, c in enumerate(configs) if c.get("gap_fills") is True
                  and c.get("variant") == "v2" and "market_fill" not in c)
    assert ex[gap_off]["net_profit"] != ex[gap_on]["net_profit"]
    base = g.read_ipc(outputs["costs"]["trades"])
    slip = base.filter(pc.equal(base.column("config_index"), 3))
    plain = g.read_ipc(outputs["costs"]["trades"]).filter(
        pc.equal(base.column("config_index"), 0))
    assert slip.column("entry_time").equals(plain.column("entry_time"))
    assert not slip.column("entry_price").equals(plain.column("entry_price"))
