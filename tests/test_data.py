"""Loading bars and ticks: file formats, table types, normalization and every bad input."""

from __future__ import annotations

import math
from pathlib import Path

import omega_engine as oe
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from conftest import bars_table

BID_CSV = """UTC time,Open,High,Low,Close,Volume
01.01.2024 00:00:00.000,1.10000,1.10020,1.09990,1.10010,12.5
01.01.2024 00:01:00.000,1.10010,1.10030,1.10000,1.10020,8
01.01.2024 00:02:00.000,1.10020,1.10040,1.10010,1.10015,3
"""
ASK_CSV = BID_CSV.replace("1.10", "1.11")


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal values and types (the engine's schema marks price columns non-nullable)."""
    return a.cast(b.schema).equals(b)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_export_format_with_separate_sides(tmp_path: Path) -> None:
    bars = oe.load_bars("EURUSD", write(tmp_path, "EURUSD_M1_BID.csv", BID_CSV),
                       write(tmp_path, "EURUSD_M1_ASK.csv", ASK_CSV))
    t = bars.to_arrow()
    assert t.schema.equals(oe.schemas()["bars"])
    assert len(bars) == 3 and bars.symbol == "EURUSD"
    assert t.column("timestamp")[1].value == 1_704_067_260_000_000
    assert t.column("ask_close")[0].as_py() == 1.11010 and t.column("volume")[0].as_py() == 12.5


def test_export_format_gmt_suffix_and_lowercase(tmp_path: Path) -> None:
    text = BID_CSV.replace(".000,", ".000 GMT+0000,")
    one = oe.load_bars("EURUSD", write(tmp_path, "b.csv", text), spread_pips=1.0)
    assert one.to_arrow().column("ask_open")[0].as_py() == pytest.approx(1.1001)
    lower = ("timestamp,bid_open,bid_high,bid_low,bid_close,ask_open,ask_high,ask_low,"
             "ask_close\n2024-01-01T00:00:00Z,1,1.2,0.9,1.1,1.01,1.21,0.91,1.11\n"
             "2024-01-01T00:01:00Z,1,1.2,0.9,1.1,1.01,1.21,0.91,1.11\n")
    two = oe.load_bars("EURUSD", write(tmp_path, "c.csv", lower))
    assert len(two) == 2 and two.to_arrow().column("volume").null_count == 2
    plain = "time,open,high,low,close\n2024-01-01 00:00,1,1.2,0.9,1.1\n2024-01-02 00:00,1,1,1,1\n"
    three = oe.load_bars("US500", write(tmp_path, "d.csv", plain), spread_pips=0.5)
    assert three.to_arrow().column("ask_high")[0].as_py() == pytest.approx(1.7)


def test_parquet_arrow_pandas_polars_record_batch(tmp_path: Path) -> None:
    t = bars_table(50)
    pq.write_table(t, tmp_path / "b.parquet")
    feather.write_feather(t, tmp_path / "b.arrow")
    loaded = [oe.load_bars("EURUSD", tmp_path / "b.parquet"),
              oe.load_bars("EURUSD", str(tmp_path / "b.arrow")),
              oe.load_bars("EURUSD", t.to_batches()[0])]
    pytest.importorskip("pandas")
    df = t.to_pandas().set_index("timestamp")
    loaded.append(oe.load_bars("EURUSD", df))
    naive = t.to_pandas()
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None).astype("datetime64[ns]")
    loaded.append(oe.load_bars("EURUSD", naive))
    pl = pytest.importorskip("polars")
    loaded.append(oe.load_bars("EURUSD", pl.from_arrow(t)))
    for b in loaded:
        assert same(b.to_arrow(), t), b


def test_multi_chunk_input_is_combined() -> None:
    t = bars_table(10)
    chunked = pa.concat_tables([t.slice(0, 4), t.slice(4)])
    assert chunked.column(0).num_chunks == 2
    assert same(oe.load_bars("EURUSD", chunked).to_arrow(), t)


def test_slice_by_rows_and_times() -> None:
    b = oe.load_bars("EURUSD", bars_table(10))
    assert len(b.slice(2, 5)) == 3 and len(b.slice(-3)) == 3 and len(b.slice(8, 100)) == 2
    ts = b.timestamps()
    s = b.slice(ts[3].as_py(), ts[6].as_py())
    assert s.timestamps().equals(ts.slice(3, 3))
    assert b.slice("2024-01-01T00:02:00Z").start == ts[2].value
    assert len(b.slice(5, 2)) == 0


def test_synthetic_bars_are_seeded_and_valid() -> None:
    a = oe.synthetic_bars("USDJPY", n=5000, timeframe="15min", seed=3)
    b = oe.synthetic_bars("USDJPY", n=5000, timeframe="M15", seed=3)
    c = oe.synthetic_bars("USDJPY", n=5000, timeframe="15min", seed=4)
    assert a.to_arrow().equals(b.to_arrow()) and not a.to_arrow().equals(c.to_arrow())
    t = a.to_arrow()
    assert pc.all(pc.greater_equal(t.column("ask_low"), t.column("bid_low"))).as_py()
    assert 100 < t.column("bid_close")[0].as_py() < 200  # a JPY price level
    steps = pc.subtract(t.column("timestamp").cast(pa.int64())[1:],
                        t.column("timestamp").cast(pa.int64())[:-1])
    assert pc.min(steps).as_py() == 15 * 60_000_000
    with pytest.raises(oe.errors.InvalidParameterError, match="timeframe"):
        oe.synthetic_bars(timeframe="fortnight")
    with pytest.raises(oe.errors.InvalidParameterError, match="n:"):
        oe.synthetic_bars(n=0)


def test_ticks() -> None:
    t = pa.table({"Time": pa.array([1, 2, 3], pa.timestamp("s")), "Bid": [1.0, 1.1, 1.2],
                  "Ask": [1.01, 1.11, 1.21]})
    ticks = oe.load_ticks("EURUSD", t)
    assert len(ticks) == 3 and ticks.to_arrow().column("timestamp")[1].value == 2_000_000
    assert ticks.to_arrow().schema.equals(oe.schemas()["ticks"])
    one_sided = oe.load_ticks("EURUSD", t.drop_columns(["Ask"]), spread_pips=2.0)
    assert one_sided.to_arrow().column("ask")[0].as_py() == pytest.approx(1.0002)
    with pytest.raises(oe.errors.MissingSideError):
        oe.load_ticks("EURUSD", t.drop_columns(["Ask"]))
    with pytest.raises(oe.errors.UnsortedTimestampsError):
        oe.load_ticks("EURUSD", t.take([0, 2, 1]))


# --- bad input: DESIGN §6 / SEMANTICS §1 ---------------------------------------------------------

def _with(t: pa.Table, column: str, row: int, value: float) -> pa.Table:
    vals = t.column(column).to_pylist()
    vals[row] = value
    return t.set_column(t.schema.get_field_index(column), column, pa.array(vals, pa.float64()))


@pytest.mark.parametrize(("mutate", "cls", "code", "words"), [
    (lambda t: _with(t, "bid_close", 3, math.nan), "NonFinitePriceError", 2001,
     ["bid_close", "3"]),
    (lambda t: _with(t, "ask_high", 2, math.inf), "NonFinitePriceError", 2001, ["ask_high", "2"]),
    (lambda t: _with(t, "bid_low", 4, None), "NonFinitePriceError", 2001, ["bid_low", "4"]),
    (lambda t: _with(t, "bid_open", 1, -1.0), "NonPositivePriceError", 2002, ["bid_open", "1"]),
    (lambda t: _with(t, "bid_high", 2, 1.0), "OhlcInconsistentError", 2005, ["bid_high", "2"]),
    (lambda t: t.take([0, 2, 1, 3, 4]), "UnsortedTimestampsError", 2003, ["timestamp", "2"]),
    (lambda t: t.take([0, 1, 1, 2, 3]), "DuplicateTimestampError", 2004, ["timestamp", "2"]),
    (lambda t: t.slice(0, 0), "EmptyDataError", 2008, ["rows"]),
    (lambda t: t.drop_columns(["ask_open", "ask_high", "ask_low", "ask_close"]),
     "MissingSideError", 2007, ["spread"]),
    (lambda t: t.drop_columns(["bid_close"]), "SchemaViolationError", 3001, ["close"]),
    (lambda t: t.drop_columns(["ask_low"]), "SchemaViolationError", 3001, ["ask_low"]),
    (lambda t: t.set_column(1, "bid_open", pa.array(["x"] * 5)), "SchemaViolationError", 3001,
     ["bid_open"]),
    (lambda t: t.drop_columns(["timestamp"]), "SchemaViolationError", 3001, ["timestamp"]),
])
def test_bad_bars(mutate, cls: str, code: int, words: list[str]) -> None:
    t = mutate(bars_table(5))
    with pytest.raises(oe.OmegaError) as info:
        oe.load_bars("EURUSD", t)
    e = info.value
    assert type(e).__name__ == cls and e.code == code and isinstance(e, ValueError)
    assert str(e).startswith(f"[{code}] ")
    for w in words:
        assert w in str(e), (w, str(e))


def test_bad_sides(tmp_path: Path) -> None:
    bid = write(tmp_path, "bid.csv", BID_CSV)
    shorter = write(tmp_path, "ask.csv", "\n".join(ASK_CSV.splitlines()[:-1]) + "\n")
    with pytest.raises(oe.errors.BidAskMismatchError, match="ask has 2 rows"):
        oe.load_bars("EURUSD", bid, shorter)
    shifted = write(tmp_path, "ask2.csv", ASK_CSV.replace("00:02:00", "00:03:00"))
    with pytest.raises(oe.errors.BidAskMismatchError, match="row 2"):
        oe.load_bars("EURUSD", bid, shifted)


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(oe.errors.FfiSchemaMismatchError):
        oe.load_bars("EURUSD", {"not": "a table"})
    with pytest.raises(oe.errors.InvalidParameterError, match="does not exist"):
        oe.load_bars("EURUSD", tmp_path / "missing.csv")
    with pytest.raises(oe.errors.InvalidParameterError, match="file type"):
        oe.load_bars("EURUSD", write(tmp_path, "x.xlsx", ""))
    with pytest.raises(oe.errors.SchemaViolationError, match="time column"):
        oe.load_bars("EURUSD", pa.table({"open": [1.0], "high": [1.0], "low": [1.0],
                                         "close": [1.0]}), spread_pips=1)
    with pytest.raises(oe.errors.SchemaViolationError, match="cannot parse"):
        oe.load_bars("EURUSD", write(tmp_path, "t.csv", "time,open,high,low,close\nsoon,1,1,1,1\n"),
                     spread_pips=1)
    with pytest.raises(oe.errors.InvalidParameterError, match="spread_pips"):
        oe.load_bars("EURUSD", bars_table(3).drop_columns(
            ["ask_open", "ask_high", "ask_low", "ask_close"]), spread_pips=-1.0)


def test_bars_pickle_round_trip() -> None:
    import pickle

    b = oe.load_bars("EURUSD", bars_table(7))
    back = pickle.loads(pickle.dumps(b))
    assert back.symbol == "EURUSD" and back.to_arrow().equals(b.to_arrow())
