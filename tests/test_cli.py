"""The omega-engine command line end to end, in subprocesses, on synthetic data."""

import importlib.util
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import omega_engine as oe
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HAVE_PLOTLY = importlib.util.find_spec("plotly") is not None

CONFIG = """\
symbol = "EURUSD"
seed = 1

[strategy]
name = "sma_cross"
params = { fast = 10, slow = 40, sl_pips = 20, tp_pips = 40 }

[account]
risk_per_trade = 50.0
"""

SYNTH = ["--synthetic", "4000", "--timeframe", "1h", "--data-seed", "9"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "omega_engine.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=env, check=False)


def ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    table = table.replace_schema_metadata(None).combine_chunks()  # chunking is not content
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def bars():
    return oe.synthetic_bars("EURUSD", n=4000, timeframe="1h", seed=9)


def test_help_lists_every_command_and_the_exit_codes():
    r = cli("--help")
    assert r.returncode == 0, r.stderr
    for command in ("demo", "run", "sweep", "walk-forward", "plugins", "specs"):
        assert command in r.stdout
    assert "exit status" in r.stdout and "130" in r.stdout
    for command in (["demo"], ["run"], ["sweep"], ["walk-forward"], ["plugins", "list"],
                    ["specs", "list"]):
        sub = cli(*command, "--help")
        assert sub.returncode == 0, (command, sub.stderr)
        assert "usage: omega-engine" in sub.stdout
    assert "90D" in cli("walk-forward", "--help").stdout
    assert cli().returncode == 2  # no command: help and a usage status


def test_console_script_is_installed():
    script = Path(sys.executable).parent / ("omega-engine.exe" if os.name == "nt"
                                            else "omega-engine")
    if not script.exists():
        pytest.skip("the omega-engine console script is not installed in this environment")
    r = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0 and r.stdout.startswith("omega-engine ")


def test_demo(tmp_path):
    r = cli("demo", "--bars", "20000", "--timeframe", "5min", "--out", str(tmp_path / "demo"),
            "--top", "3")
    assert r.returncode == 0, r.stderr
    assert "top 3 by net_profit" in r.stdout
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["config_id", "fast"])
    assert len(lines[header + 2].split()) == len(lines[header].split())
    if HAVE_PLOTLY:
        assert (tmp_path / "demo" / "report.html").stat().st_size > 1_000_000


def test_run_writes_the_same_tables_as_the_api(tmp_path, config, bars):
    out = tmp_path / "run"
    r = cli("run", str(config), *SYNTH, "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    expected = oe.run_many(oe.load_configs(config), bars,
                           include=("summary", "trades", "equity"), progress=False)
    for name in ("summary", "trades", "equity"):
        got = pq.read_table(out / f"{name}.parquet")
        assert ipc(got) == ipc(getattr(expected, name)), name
    assert expected.summary["config_id"][0].as_py() in r.stdout
    if HAVE_PLOTLY:
        text = (out / "report.html").read_text()
        assert 'data-chart="oe-equity"' in text and 'data-chart="oe-trades"' in text


def test_run_from_a_parquet_file_and_set_overrides(tmp_path, config, bars):
    data = tmp_path / "bars.parquet"
    pq.write_table(bars.to_arrow(), data)
    out = tmp_path / "run2"
    r = cli("run", str(config), "--data", str(data), "--out", str(out), "--no-report",
            "--set", "risk_per_trade=25", "--set", "costs=ftmo_like", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    expected = oe.run_many(oe.load_configs(config), bars, include=("summary", "trades"),
                           risk_per_trade=25, costs="ftmo_like", progress=False)
    summary = pq.read_table(out / "summary.parquet")
    assert ipc(summary) == ipc(expected.summary)
    assert not (out / "report.html").exists()


def test_sweep_grid_and_heatmap(tmp_path, config, bars):
    out = tmp_path / "sweep"
    r = cli("sweep", str(config), *SYNTH, "--param", "fast=5,10,20", "--param", "slow=40:80:40",
            "--objective", "net_profit", "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = pq.read_table(out / "summary.parquet")
    pairs = sorted(zip(summary["fast"].to_pylist(), summary["slow"].to_pylist(), strict=True))
    assert pairs == [(f, s) for f in (5.0, 10.0, 20.0) for s in (40.0, 80.0)]
    assert set(summary["sl_pips"].to_pylist()) == {20.0}  # fixed params from the config
    best = max(summary.to_pylist(), key=lambda row: (row["net_profit"], -row["config_index"]))
    lines = r.stdout.splitlines()
    first_row = lines[next(i for i, ln in enumerate(lines) if ln.startswith("---")) + 1]
    assert first_row.split()[:3] == [best["config_id"], str(int(best["fast"])),
                                     str(int(best["slow"]))]
    if HAVE_PLOTLY:
        assert 'data-chart="oe-heatmap"' in (out / "report.html").read_text()


def test_walk_forward_matches_the_api(tmp_path, config, bars):
    out = tmp_path / "wf"
    r = cli("walk-forward", str(config), *SYNTH, "--param", "fast=5,10", "--param",
            "slow=40,80", "--train", "40D", "--test", "20D", "--out", str(out))
    assert r.returncode == 0, r.stderr
    grid = [{"symbol": "EURUSD", "seed": 1, "account": {"risk_per_trade": 50.0},
             "strategy": {"name": "sma_cross",
                          "params": {"fast": f, "slow": s, "sl_pips": 20, "tp_pips": 40}}}
            for f in (5, 10) for s in (40, 80)]
    expected = oe.walk_forward(grid, bars, train="40D", test="20D", progress=False)
    for name in ("windows", "oos_trades", "oos_equity", "param_stability"):
        assert ipc(pq.read_table(out / f"{name}.parquet")) == ipc(getattr(expected, name)), name
    assert "walk-forward efficiency" in r.stdout
    eff = expected.efficiency
    assert (f"{eff:.3g}" if not math.isnan(eff) else "nan") in r.stdout
    if HAVE_PLOTLY:
        assert 'data-chart="oe-wf"' in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["run", "missing.toml", "--synthetic", "100", "--out", "o"], 3, "[1003]"),
        (["walk-forward", "CONFIG", "--synthetic", "300", "--timeframe", "1h",
          "--train", "40D", "--test", "20D", "--out", "o"], 3, "[1009] INVALID_WINDOW"),
        (["walk-forward", "CONFIG", "--synthetic", "3000", "--timeframe", "1h",
          "--train", "3M", "--test", "20D", "--out", "o"], 3, "[1009] INVALID_WINDOW: train"),
        (["sweep", "CONFIG", "--synthetic", "300", "--param", "fast=a:b", "--out", "o"], 3,
         "[1001] INVALID_PARAMETER: --param fast"),
        (["run", "CONFIG", "--out", "o"], 3, "[1001] INVALID_PARAMETER: no data"),
        (["run", "CONFIG", "--data", "BADDATA", "--spread-pips", "1", "--out", "o"], 4,
         "[2005] OHLC_INCONSISTENT"),
    ],
)
def test_bad_input_exits_with_its_code(tmp_path, config, args, status, code):
    bad = tmp_path / "bad.csv"
    # the second bar's high is below its open and close
    bad.write_text("timestamp,open,high,low,close\n2024-01-01 00:00:00,1.1,1.2,1.0,1.1\n"
                   "2024-01-01 00:01:00,1.1,1.05,1.0,1.1\n")
    args = [str(config) if a == "CONFIG" else str(bad) if a == "BADDATA" else a for a in args]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith(f"omega-engine: {code}"), r.stderr
    assert "Traceback" not in r.stderr


def test_usage_errors_exit_2():
    r = cli("walk-forward", "x.toml", "--out", "o")  # --train/--test missing
    assert r.returncode == 2
    assert "--train" in r.stderr
    assert cli("nonsense").returncode == 2


def test_specs_and_plugins_list():
    r = cli("specs", "list", "--symbol", "JPY")
    assert r.returncode == 0, r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines()[2:]]
    assert rows and all("JPY" in row[0] for row in rows)
    assert "USDJPY" in {row[0] for row in rows}
    r = cli("specs", "list")
    assert {"EURUSD", "XAUUSD"} <= {ln.split()[0] for ln in r.stdout.splitlines()[2:]}
    r = cli("plugins", "list")
    assert r.returncode == 0, r.stderr


def test_timestamps_survive_parquet(tmp_path, config):
    out = tmp_path / "ts"
    assert cli("run", str(config), *SYNTH, "--out", str(out), "--no-report").returncode == 0
    trades = pq.read_table(out / "trades.parquet")
    t = trades.schema.field("entry_time").type
    assert pa.types.is_timestamp(t) and t.unit == "us" and t.tz == "UTC"
    assert np.all(np.asarray(trades["exit_time"].cast(pa.int64())) >=
                  np.asarray(trades["entry_time"].cast(pa.int64())))
