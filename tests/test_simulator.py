"""oe.ExecutionSimulator: the seed API, batch calls, tick mode, atomicity and bad inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import omega_engine as oe
import pyarrow as pa
import pytest
from omega_engine.simulator import ENV_VAR

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


def candle(i: int, o: float, h: float, low: float, c: float, spread: float = 0.0) -> dict:
    return {"timestamp": T0 + timedelta(minutes=i), "open": o + spread, "high": h + spread,
            "low": low + spread, "close": c + spread}


def signal(i: int = 0, direction: str = "long", entry: float | None = 1.1000,
           sl: float = 1.0980, tp: float = 1.1040, **kw) -> dict:
    return {"timestamp": T0 + timedelta(minutes=i), "symbol": "EURUSD", "direction": direction,
            "entry_price": entry, "stop_loss": sl, "take_profit": tp, **kw}


def test_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    oe.ExecutionSimulator()
    monkeypatch.setenv(ENV_VAR, "always")
    oe.ExecutionSimulator()
    for bad in ("never", "python", "0", ""):
        monkeypatch.setenv(ENV_VAR, bad)
        with pytest.raises(ValueError, match=ENV_VAR) as info:
            oe.ExecutionSimulator()
        assert isinstance(info.value, oe.errors.InvalidParameterError)


def test_seed_flow_market_order_to_take_profit() -> None:
    sim = oe.ExecutionSimulator(None, 100.0)
    out = sim.process_signal(signal(reason="cross", scenario="s1", tags="a,b"))
    assert out == {"status": "opened", "position_id": 0, "reject_reason": None}
    active = sim.active_positions.to_pylist()
    assert active[0]["lots"] == 0.5 and active[0]["reason"] == "cross"
    # Its own bar never exits it; the next bar reaching TP - buffer does.
    assert sim.evaluate_exits(candle(0, 1.1, 1.2, 1.0, 1.1), candle(0, 1.1, 1.2, 1.0, 1.1)) == 0
    assert sim.evaluate_exits(candle(1, 1.1, 1.10396, 1.0995, 1.103),
                              candle(1, 1.1, 1.10396, 1.0995, 1.103, 0.0001)) == 1
    closed = sim.closed_positions.to_pylist()[0]
    assert closed["exit_reason"] == "take_profit" and closed["exit_price"] == 1.104
    assert closed["net_pnl"] == pytest.approx(200.0) and closed["r_multiple"] == pytest.approx(2)
    assert (closed["scenario"], closed["tags"]) == ("s1", "a,b")
    assert sim.stats()["balance"] == pytest.approx(100_200.0)
    assert sim.active_positions.num_rows == 0


def test_rejections_are_counted_not_raised() -> None:
    sim = oe.ExecutionSimulator()
    assert sim.process_signal(signal(sl=1.1010))["reject_reason"] == "sl_wrong_side"
    assert sim.process_signal(signal(tp=1.0990))["reject_reason"] == "tp_wrong_side"
    assert sim.process_signal(signal(sl=1.099995))["reject_reason"] == "sl_too_close"
    tiny = oe.ExecutionSimulator(risk_per_trade=0.01)
    assert tiny.process_signal(signal())["reject_reason"] == "size_below_min"
    s = sim.stats()
    assert (s["rejected_sl_wrong_side"], s["rejected_tp_wrong_side"],
            s["rejected_sl_too_close"]) == (1, 1, 1)
    assert sim.active_positions.num_rows == 0


def test_pending_orders_and_batches_agree_with_single_calls() -> None:
    n = 40
    rows = []
    for i in range(n):
        d = "long" if i % 2 else "short"
        sgn = 1 if d == "long" else -1
        e = 1.1 + 0.0001 * (i % 7) - sgn * 0.0003
        rows.append({"timestamp": T0 + timedelta(minutes=i), "symbol": "EURUSD",
                     "direction": d, "order_type": ["market", "limit", "stop"][i % 3],
                     "entry_price": e, "stop_loss": e - sgn * 0.0015,
                     "take_profit": e + sgn * 0.0025})
    for r in rows:
        if r["order_type"] == "stop":  # a stop sits beyond the market
            sgn = 1 if r["direction"] == "long" else -1
            r["entry_price"] += sgn * 0.0006
            r["stop_loss"] += sgn * 0.0006
            r["take_profit"] += sgn * 0.0006
    bars = [candle(i, 1.1, 1.1012, 1.0988, 1.1003) for i in range(n)]
    asks = [candle(i, 1.1, 1.1012, 1.0988, 1.1003, 0.0001) for i in range(n)]
    # A slow rise then a slow fall: some positions reach TP, others SL.
    path = [1.1 + 0.0003 * i for i in range(15)] + [1.1045 - 0.0004 * i for i in range(15)]
    later_bid = [candle(n + i, p, p + 0.0004, p - 0.0004, p + 0.0001)
                 for i, p in enumerate(path)]
    later_ask = [candle(n + i, p, p + 0.0004, p - 0.0004, p + 0.0001, 0.0001)
                 for i, p in enumerate(path)]

    one = oe.ExecutionSimulator(slippage={"fixed_pips": 0.2, "random_pips": 0.5}, base_seed=3,
                                commission={"schema": "per_lot", "rate": 3.0})
    single = [one.process_signal(r, b, a) for r, b, a in zip(rows, bars, asks, strict=True)]
    for b, a in zip(later_bid, later_ask, strict=True):
        one.evaluate_exits(b, a, symbol="EURUSD")

    many = oe.ExecutionSimulator(slippage={"fixed_pips": 0.2, "random_pips": 0.5}, base_seed=3,
                                 commission={"schema": "per_lot", "rate": 3.0})
    out = many.process_signals_batch(pa.Table.from_pylist(rows), pa.Table.from_pylist(bars),
                                     pa.Table.from_pylist(asks))
    assert out.column("status").to_pylist() == [s["status"] for s in single]
    assert out.column("position_id").to_pylist() == [s["position_id"] for s in single]
    closed = many.evaluate_exits_batch(pa.Table.from_pylist(later_bid),
                                       pa.Table.from_pylist(later_ask), symbol="EURUSD")
    assert closed == one.closed_positions.num_rows > 5
    assert many.closed_positions.equals(one.closed_positions)
    assert many.active_positions.equals(one.active_positions)
    reasons = set(many.closed_positions.column("exit_reason").to_pylist())
    assert reasons <= {"stop_loss", "take_profit"} and len(reasons) == 2
    assert set(many.closed_positions.column("order_type").to_pylist()) == {"market", "limit",
                                                                            "stop"}


def test_batch_without_candles_uses_entry_prices() -> None:
    sim = oe.ExecutionSimulator()
    t = pa.Table.from_pylist([signal(0), signal(1, "short", 1.1, 1.102, 1.096)])
    out = sim.process_signals_batch(t)
    assert out.column("status").to_pylist() == ["opened", "opened"]
    with pytest.raises(oe.errors.InvalidParameterError, match="row 1"):
        sim.process_signals_batch(pa.Table.from_pylist(
            [signal(2), {**signal(3), "entry_price": None}]))


def test_batches_are_atomic() -> None:
    sim = oe.ExecutionSimulator()
    sim.process_signal(signal(0))
    before = (sim.active_positions, sim.closed_positions, sim.stats())
    rows = [signal(1), signal(2), signal(3, sl=float("nan"))]
    with pytest.raises(oe.errors.InvalidParameterError, match=r"stop_loss.*row 2"):
        sim.process_signals_batch(pa.Table.from_pylist(rows))
    assert (sim.active_positions, sim.closed_positions, sim.stats()) == before
    bid = pa.Table.from_pylist([candle(1, 1.1, 1.1, 1.09, 1.09), candle(2, 1.1, 1.1, 1.09,
                                                                        float("nan"))])
    with pytest.raises(oe.errors.NonFinitePriceError, match="row 1"):
        sim.evaluate_exits_batch(bid, bid, symbol="EURUSD")
    assert sim.active_positions.num_rows == 1 and sim.closed_positions.num_rows == 0
    # the first bar alone closes it
    assert sim.evaluate_exits_batch(bid.slice(0, 1), bid.slice(0, 1), symbol="EURUSD") == 1


@pytest.mark.parametrize(("sig", "cls", "words"), [
    (signal(entry=float("nan")), "InvalidParameterError", ["entry_price"]),
    (signal(sl=float("inf")), "InvalidParameterError", ["stop_loss"]),
    (signal(direction="up"), "InvalidParameterError", ["direction"]),
    ({**signal(), "order_type": "iceberg"}, "InvalidParameterError", ["order_type"]),
    ({**signal(), "symbol": "NOPE"}, "UnknownSymbolError", ["NOPE"]),
    ({**signal(), "order_type": "limit", "entry_price": None}, "InvalidParameterError",
     ["entry_price"]),
    ({**signal(), "timestamp": "later"}, "InvalidConfigError", ["timestamp"]),
])
def test_bad_signals(sig: dict, cls: str, words: list[str]) -> None:
    sim = oe.ExecutionSimulator()
    with pytest.raises(oe.OmegaError) as info:
        sim.process_signal(sig, candle(0, 1.1, 1.101, 1.099, 1.1), candle(0, 1.1, 1.101, 1.099,
                                                                          1.1))
    assert type(info.value).__name__ == cls and isinstance(info.value, ValueError)
    for w in words:
        assert w in str(info.value)
    assert sim.active_positions.num_rows == 0 and sim.stats()["signals_processed"] == 0


def test_bad_candles_and_tables() -> None:
    sim = oe.ExecutionSimulator()
    with pytest.raises(oe.errors.MissingSideError):  # v2 long market close fill needs the ask
        sim.process_signal(signal(entry=None), candle(0, 1.1, 1.101, 1.099, 1.1))
    with pytest.raises(oe.errors.NonFinitePriceError, match="bar.bid"):
        sim.process_signal(signal(), candle(0, 1.1, float("nan"), 1.099, 1.1))
    with pytest.raises(oe.errors.BidAskMismatchError):
        sim.evaluate_exits(candle(0, 1.1, 1.1, 1.1, 1.1), candle(1, 1.1, 1.1, 1.1, 1.1))
    with pytest.raises(oe.errors.SchemaViolationError, match="stop_loss"):
        sim.process_signals_batch(pa.Table.from_pylist([signal()]).drop_columns(["stop_loss"]))
    bid = pa.Table.from_pylist([candle(0, 1.1, 1.1, 1.1, 1.1)])
    with pytest.raises(oe.errors.BidAskMismatchError, match="rows"):
        sim.process_signals_batch(pa.Table.from_pylist([signal(), signal()]), bid, bid)
    with pytest.raises(oe.errors.SchemaViolationError, match="close"):
        sim.evaluate_exits_batch(bid.drop_columns(["close"]), symbol="EURUSD")
    with pytest.raises(oe.errors.FfiSchemaMismatchError):
        sim.process_signals_batch(42)  # type: ignore[arg-type]


def test_variant_v1_without_ask_and_options() -> None:
    sim = oe.ExecutionSimulator(execution_variant="v1_parity")
    sim.process_signal(signal(entry=None, sl=1.098, tp=1.102), candle(0, 1.1, 1.1, 1.1, 1.1))
    assert sim.evaluate_exits(candle(1, 1.1, 1.1025, 1.0995, 1.1)) == 1
    with pytest.raises(oe.errors.InvalidConfigError, match="execution.variant"):
        oe.ExecutionSimulator(execution_variant="v9")
    with pytest.raises(oe.errors.InvalidConfigError, match="pip_buffer_factor"):
        oe.ExecutionSimulator(pip_buffer_factor=-1.0)
    with pytest.raises(oe.errors.MissingFxRateError):
        oe.ExecutionSimulator(symbol_specs=[oe.specs.get("USDJPY")])
    jpy = oe.ExecutionSimulator(symbol_specs=[oe.specs.get("USDJPY")],
                                fx_rates={"USDJPY": 150.0})
    assert jpy.symbols == ["USDJPY"]


def test_tick_mode_and_manual_close() -> None:
    sim = oe.ExecutionSimulator()
    tick = {"timestamp": T0, "bid": 1.1000, "ask": 1.1001}
    out = sim.process_signal_tick(signal(entry=None, sl=1.0990, tp=1.1020), tick)
    assert out["status"] == "opened"
    assert sim.active_positions.column("entry_price").to_pylist() == [1.1001]
    assert sim.evaluate_exits_tick({"timestamp": T0 + timedelta(seconds=1), "bid": 1.0991,
                                    "ask": 1.0992}) == 0
    assert sim.evaluate_exits_tick({"timestamp": T0 + timedelta(seconds=2), "bid": 1.0989,
                                    "ask": 1.0990}) == 1
    closed = sim.closed_positions.to_pylist()[0]
    assert closed["exit_reason"] == "stop_loss" and closed["exit_price"] == 1.0989
    sim.process_signal(signal(1, entry=1.1, sl=1.099, tp=1.102))
    pid = sim.active_positions.column("position_id")[0].as_py()
    sim.close_position(pid, T0 + timedelta(minutes=5), 1.1005, 1.1006, "timeout")
    assert sim.closed_positions.column("exit_reason").to_pylist()[-1] == "timeout"
    with pytest.raises(oe.errors.InvalidParameterError, match="position_id"):
        sim.close_position(pid, T0, 1.1, 1.1, "timeout")
    with pytest.raises(oe.errors.InvalidParameterError, match="reason"):
        sim.close_position(0, T0, 1.1, 1.1, "stop_loss")


def test_result_tables_have_declared_columns() -> None:
    sim = oe.ExecutionSimulator()
    assert sim.active_positions.column_names[:5] == ["position_id", "symbol", "direction",
                                                     "order_type", "status"]
    assert "exit_reason" in sim.closed_positions.column_names
    assert pa.types.is_timestamp(sim.closed_positions.schema.field("exit_time").type)
