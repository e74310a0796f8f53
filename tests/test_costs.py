"""omega_engine.costs: the model objects and their config, their arithmetic through whole runs
(hand-computed per trade), formula errors, PythonCallable ≡ Formula, the GIL released during a
formula batch, named models from the installed example plugins, swaps in trades and summary."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import omega_engine as oe
import pyarrow.compute as pc
import pytest
from omega_engine import costs as oc
from omega_engine import errors

STRATEGY = oe.SmaCross(10, 40, sl_pips=20, tp_pips=40)


@pytest.fixture(scope="module")
def bars() -> oe.Bars:
    return oe.synthetic_bars("EURUSD", n=8_000, timeframe="15min", seed=4)


def trades_of(bars: oe.Bars, costs: object, **kw: object) -> list[dict]:
    res = oe.run(STRATEGY, bars, costs=costs, seed=2, include=("summary", "trades"), **kw)
    out = res.trades.to_pylist()
    assert len(out) >= 10
    return out


# --- objects and their config -------------------------------------------------------------------

def test_fee_models_serialize_into_commission_nodes():
    terms = {"side": "both", "min_fee": 0.0, "max_fee": None, "multiplier": 1.0,
             "currency": None}
    assert oc.PerLot(3.5).to_config() == {
        "commission": {"default": {"schema": "per_lot", "rate": 3.5, **terms}}}
    m = oc.PerMillionNotional(30, side="exit", min_fee=2, max_fee=50, multiplier=2,
                              currency="EUR")
    assert m.fee_node() == {"schema": "per_million_notional", "rate": 30.0, "side": "exit",
                            "min_fee": 2.0, "max_fee": 50.0, "multiplier": 2.0,
                            "currency": "EUR"}
    assert oc.PercentOfNotional(0.0001).fee_node()["schema"] == "percent_of_notional"
    t = oc.Tiered([(10, 5.0), (0, 7.0)])
    assert t.fee_node() == {"schema": "tiered", "rate_kind": "per_lot", "basis": "lots",
                            "tiers": [{"from": 0.0, "rate": 7.0}, {"from": 10.0, "rate": 5.0}],
                            **terms}
    f = oc.Formula("max(7, notional * 30 / 1e6)", side="entry")
    assert f.variables == ("notional",)
    assert f.fee_node() == {"schema": "formula", "formula": "max(7, notional * 30 / 1e6)",
                            **dict(terms, side="entry")}


def test_composition_and_maps():
    s = oc.PerLot(3) + oc.Formula("hour >= 21 ? 1 : 0")
    assert isinstance(s, oc.FeeSum)
    assert [p["schema"] for p in s.fee_node()["parts"]] == ["per_lot", "formula"]
    assert sum([oc.PerLot(1), oc.PerLot(2), oc.PerLot(3)]).fee_node()["schema"] == "sum"
    slip = oc.Slippage(0.1) + oc.VolatilitySlippage(atr=0.05)
    assert slip.to_config() == {"slippage": {"model": "sum", "parts": [
        {"fixed_pips": 0.1, "random_pips": 0.0},
        {"model": "volatility", "source": "atr", "multiplier": 0.05}]}}
    # different kinds bundle into a Costs section; a formula next to slippage is slippage
    bundle = oc.PerLot(3) + oc.Slippage(0.2, 0.5) + oc.Swap(-6.5, 1.2)
    cfg = bundle.to_config()
    assert set(cfg) == {"commission", "slippage", "swap"}
    assert cfg["swap"] == {"long_points": -6.5, "short_points": 1.2, "unit": "pips",
                           "triple_day": "wednesday", "rollover_hour_utc": 22, "currency": None}
    assert (oc.Slippage(0.1) + oc.Formula("u * 0.5")).to_config()["slippage"]["parts"][1] == \
        {"model": "formula", "formula": "u * 0.5"}
    per = oc.PerSymbol({"XAUUSD": oc.PerLot(9)}, default=oc.PerLot(3))
    cfg = (per + oc.Slippage(0.1)).to_config()
    assert cfg["commission"]["per_symbol"]["XAUUSD"]["rate"] == 9.0
    assert cfg["commission"]["default"]["rate"] == 3.0
    sw = oc.PerSymbol({"EURUSD": oc.Swap(-1, 1)}).to_config()["swap"]
    assert (sw["long_points"], sw["per_symbol"]["EURUSD"]["long_points"]) == (0.0, -1.0)
    full = oc.Costs(commission=oc.PerLot(1), atr_period=20, legacy_fee=None).to_config()
    assert full["atr_period"] == 20


@pytest.mark.parametrize("make, match", [
    (lambda: oc.PerLot(-1), "PerLot.rate: must be >= 0"),
    (lambda: oc.PerLot(1, side="open"), "PerLot.side: expected one of entry, exit, both"),
    (lambda: oc.PerLot(1, min_fee=5, max_fee=2), "max_fee: must be >= min_fee"),
    (lambda: oc.PerLot(1, currency="usd"), "three-letter upper-case"),
    (lambda: oc.Tiered({}), "needs at least one tier"),
    (lambda: oc.Tiered({0: 1}, basis="volume"), "Tiered.basis"),
    (lambda: oc.VolatilitySlippage(), "exactly one of atr= or spread="),
    (lambda: oc.Swap(1, 1, triple_day="sunday"), "Swap.triple_day"),
    (lambda: oc.Swap(1, 1, rollover_hour_utc=24), "rollover_hour_utc"),
    (lambda: oc.PerSymbol({"X": oc.PerLot(1), "Y": oc.Slippage(1)}), "mixes kinds"),
    (lambda: oc.Swap(1, 1) + oc.Swap(2, 2), "swap given twice"),
    (lambda: oc.Costs(slippage=oc.Formula("1", min_fee=1)).to_config(), "as slippage"),
])
def test_bad_models_are_config_errors(make, match):
    with pytest.raises(errors.ConfigError, match=match):
        make()


def test_formula_syntax_errors_show_the_column():
    with pytest.raises(errors.FormulaSyntaxError) as info:
        oc.Formula("lots * (price + )")
    e = info.value
    assert e.code == 1008
    assert "column 17" in str(e)
    assert "  lots * (price + )\n                  ^" in str(e)
    with pytest.raises(errors.FormulaSyntaxError, match="unknown variable 'volume'"):
        oc.Formula("volume * 2")
    # the same check when a config holds the formula as text
    with pytest.raises(errors.FormulaSyntaxError, match="costs.commission.default.formula"):
        oe.config_id(STRATEGY, "EURUSD", costs={"commission": {"default": {
            "schema": "formula", "formula": "1 +"}}})


# --- arithmetic through runs --------------------------------------------------------------------

def test_per_lot_percent_and_side_by_hand(bars):
    for t in trades_of(bars, oc.PerLot(3.5) + oc.PercentOfNotional(0.00002, side="exit")):
        assert t["entry_fee"] == pytest.approx(3.5 * t["lots"], rel=1e-12)
        notional = t["lots"] * 100_000 * t["exit_price"]
        assert t["exit_fee"] == pytest.approx(3.5 * t["lots"] + 0.00002 * notional, rel=1e-12)


def test_tiered_min_and_max_by_hand(bars):
    tiers = {0: 40.0, 150_000: 30.0}
    model = oc.Tiered(tiers, rate_kind="per_million_notional", basis="notional",
                      min_fee=4.0, max_fee=6.0)
    seen = set()
    for risk in (50.0, 200.0, 300.0, 1000.0):
        for t in trades_of(bars, model, risk_per_trade=risk):
            notional = t["lots"] * 100_000 * t["entry_price"]
            rate = 30.0 if notional >= 150_000 else 40.0
            raw = rate * notional / 1e6
            assert t["entry_fee"] == pytest.approx(min(max(raw, 4.0), 6.0), rel=1e-12)
            seen.add("min" if raw < 4 else "max" if raw > 6 else rate)
    assert seen == {"min", 40.0, 30.0, "max"}


def test_slippage_fixed_and_spread_by_hand(bars):
    table = bars.to_arrow()
    row = {t.as_py(): i for i, t in enumerate(table.column("timestamp"))}
    bid_c = table.column("bid_close").to_pylist()
    ask_c = table.column("ask_close").to_pylist()
    pip = 0.0001
    for model, want in ((oc.Slippage(0.7), lambda i: 0.7 * pip),
                        (oc.VolatilitySlippage(spread=0.5),
                         lambda i: 0.5 * (ask_c[i] - bid_c[i]))):
        for t in trades_of(bars, model):
            i = row[t["entry_time"]]
            if t["direction"] == "long":
                got = t["entry_price"] - ask_c[i]
            else:
                got = bid_c[i] - t["entry_price"]
            assert got == pytest.approx(want(i), abs=1e-12), t


def test_atr_slippage_changes_fills_once_the_atr_is_known(bars):
    base = trades_of(bars, None)
    with_atr = trades_of(bars, oc.Costs(slippage=oc.VolatilitySlippage(atr=0.2), atr_period=5))
    assert with_atr[0]["entry_time"] == base[0]["entry_time"]
    for a, b in zip(base[:5], with_atr[:5], strict=True):
        sign = 1 if a["direction"] == "long" else -1
        assert (b["entry_price"] - a["entry_price"]) * sign > 0


def _nights(entry: datetime, exit_: datetime, hour: int = 22, triple: int = 2) -> int:
    r = datetime.combine(entry.date(), dtime(hour), tzinfo=UTC)
    if r <= entry:
        r += timedelta(days=1)
    n = 0
    while r <= exit_:
        n += 0 if r.weekday() >= 5 else 3 if r.weekday() == triple else 1
        r += timedelta(days=1)
    return n


def test_swap_column_in_trades_and_summary(bars):
    strategy = oe.SmaCross(30, 120, sl_pips=60, tp_pips=150)
    res = oe.run(strategy, bars, costs=oc.Swap(-4.0, 1.5), seed=2,
                 include=("summary", "trades"))
    trades = res.trades.to_pylist()
    held = 0
    for t in trades:
        n = _nights(t["entry_time"], t["exit_time"])
        pts = -4.0 if t["direction"] == "long" else 1.5
        assert t["swap"] == pytest.approx(n * pts * 0.0001 * 100_000 * t["lots"], abs=1e-9)
        assert t["net_pnl"] == pytest.approx(t["gross_pnl"] - t["fees"] + t["swap"], abs=1e-9)
        held += n > 0
    assert held >= 3
    total = pc.sum(res.trades.column("swap")).as_py()
    assert total != 0.0
    assert res.summary.column("swap_total")[0].as_py() == pytest.approx(total, abs=1e-9)


# --- PythonCallable ---------------------------------------------------------------------------

def test_python_callable_equals_the_formula(bars):
    calls = []

    def fee(o):
        calls.append(o)
        return max(2.0, 30 * o.notional / 1e6) * (1.5 if o.hour >= 21 else 1.0)

    def slip(o):
        return 0.3 if o.is_entry == 1.0 else 0.1

    formula = oc.Costs(commission=oc.Formula("max(2, 30 * notional / 1e6) * "
                                             "(hour >= 21 ? 1.5 : 1)"),
                       slippage=oc.Formula("is_entry == 1 ? 0.3 : 0.1"))
    callable_ = oc.Costs(commission=oc.PythonCallable(fee), slippage=oc.PythonCallable(slip))
    want = trades_of(bars, formula)
    got = trades_of(bars, callable_)
    drop = ("config_id",)
    assert [{k: v for k, v in t.items() if k not in drop} for t in got] == \
        [{k: v for k, v in t.items() if k not in drop} for t in want]
    assert len(calls) == 2 * len(got)
    o = calls[0]
    assert isinstance(o, oe._core.CostInputs)
    assert (o.is_entry, o.contract_size, o.pip) == (1.0, 100_000.0, 0.0001)
    assert o.notional == pytest.approx(o.lots * 100_000 * o.price)
    assert "CostInputs(lots=" in repr(o)


def test_python_callable_slippage_gets_a_deterministic_draw(bars):
    draws: list[float] = []

    def slip(o):
        draws.append(o.u)
        return o.u * 0.5

    model = oc.PythonCallable(slip, name="test_costs.uniform_slip")
    a = trades_of(bars, oc.Costs(slippage=model))
    first = list(draws)
    b = trades_of(bars, oc.Costs(slippage=model))
    assert a == b and draws[len(first):] == first
    assert all(0.0 <= u < 1.0 for u in first) and len(set(first)) > 5


def test_python_callable_errors_are_plugin_errors(bars):
    def broken(o):
        raise ZeroDivisionError("no fee today")

    with pytest.raises(errors.PluginError) as info:
        oe.run(STRATEGY, bars, costs=oc.PythonCallable(broken))
    assert info.value.code == 4001
    assert "ZeroDivisionError: no fee today" in str(info.value)
    assert "cost callback" in str(info.value)
    with pytest.raises(errors.InvalidParameterError, match="only in the local process"):
        oe.run_many([STRATEGY], bars, costs=oc.PythonCallable(broken), executor=object())


def test_callable_names_are_unique_per_function():
    def f(o):
        return 1.0

    def g(o):
        return 2.0

    a = oc.PythonCallable(f, name="same_name")
    b = oc.PythonCallable(g, name="same_name")
    c = oc.PythonCallable(f, name="same_name")
    assert a.name == c.name == "same_name" and b.name == "same_name#2"
    assert oc.callbacks_for(['{"callback":"same_name#2"}']) == {"same_name#2": g}
    assert oc.callbacks_for(['{"commission":null}']) == {}


# --- the GIL ------------------------------------------------------------------------------------

def test_run_many_with_a_formula_model_releases_the_gil(bars):
    grid = oe.grid(oe.SmaCross, fast=range(5, 30), slow=[60, 90, 120, 150], sl_pips=[20],
                   tp_pips=[40])
    model = oc.Costs(commission=oc.Formula("max(2, notional * 30 / 1e6)"),
                     slippage=oc.Formula("0.2 + u * 0.5"))
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks
        start = time.perf_counter()
        res = oe.run_many(grid, bars, costs=model, threads=1, progress=False)
        elapsed = time.perf_counter() - start
        during = ticks - before
    finally:
        stop.set()
        t.join()
    assert res.summary.num_rows == len(grid)
    assert res.failed().num_rows == 0
    assert elapsed > 0.05
    # a thread that only gets the GIL between switch intervals would count far less
    assert during > 200_000 * elapsed, (during, elapsed)


# --- named models from the installed example plugins ---------------------------------------------

def test_named_cost_models_from_installed_plugins(bars):
    names = oe.plugins.cost_models()
    assert {"ecn_raw", "ecn_tiered", "retail_spread_only"} <= set(names)
    res = oe.run(STRATEGY, bars, costs="ecn_tiered", include=("summary", "trades"))
    assert pc.min(res.trades.column("entry_fee")).as_py() >= 2.0
    res = oe.run(STRATEGY, bars, costs="retail_spread_only", include=("summary", "trades"))
    assert pc.sum(res.trades.column("fees")).as_py() == 0.0
    with pytest.raises(errors.UnknownPluginNameError) as info:
        oe.run(STRATEGY, bars, costs="no_such_broker")
    assert info.value.code == 4002
    assert "ecn_tiered" in str(info.value) and "retail_spread_only" in str(info.value)
