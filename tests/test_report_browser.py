"""Renders reports in headless Chromium: a PNG screenshot, every chart drawn, no script errors.

Needs a Chromium binary (Debian's ``chromium`` package; ``.ci/run`` installs it). Without one the
test is skipped locally, but fails in CI (``CI=true`` or ``OMEGA_REQUIRE_BROWSER=1``).
"""

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import omega_engine as oe
import pytest
from omega_engine.strategies import SmaCross

pytest.importorskip("plotly", reason="the report extra is not installed (pip install "
                                     "'omega-engine[report]')")

from omega_engine import report  # noqa: E402

WIDTH, HEIGHT = 1400, 3600


def _required() -> bool:
    return bool(os.environ.get("OMEGA_REQUIRE_BROWSER")) or \
        os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                 "google-chrome-stable"):
        path = shutil.which(name) if name else None
        if path:
            return path
    message = ("no Chromium binary found on PATH (chromium, chromium-browser, google-chrome; "
               "Debian: apt-get install chromium, as .ci/run does)")
    if _required():
        pytest.fail(message + " -- required in CI (CI / OMEGA_REQUIRE_BROWSER is set)")
    pytest.skip(message)


def _browser(chromium: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--virtual-time-budget=20000", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def render(chromium: str, page: Path, tmp: Path) -> tuple[bytes, str, list[str]]:
    """(PNG bytes, DOM after the scripts ran, console messages)."""
    url = page.resolve().as_uri()
    png = tmp / (page.stem + ".png")
    shot = _browser(chromium, tmp / "profile-shot", f"--window-size={WIDTH},{HEIGHT}",
                    f"--screenshot={png}", "--enable-logging=stderr", "--v=0", url)
    assert png.exists(), f"no screenshot (exit {shot.returncode}):\n{shot.stderr[-3000:]}"
    console = re.findall(r":CONSOLE[:(]\d*\)?\]? (.*)", shot.stderr)
    dom = _browser(chromium, tmp / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-3000:]
    return png.read_bytes(), dom.stdout, console


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_page(chromium: str, page: Path, tmp: Path, expected: set[str]) -> None:
    png, dom, console = render(chromium, page, tmp)
    assert png_size(png) == (WIDTH, HEIGHT)
    # A blank page of the same size compresses to a few KB; charts make it far larger.
    blank = tmp / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    blank_png, _, _ = render(chromium, blank, tmp)
    assert len(png) > 5 * len(blank_png), (len(png), len(blank_png))

    errors = [m for m in console if "Uncaught" in m or "Error" in m]
    assert not errors, f"script errors in the console: {errors}"
    recorded = re.search(r'<pre id="oe-errors">(.*?)</pre>', dom, re.S)
    assert recorded is not None, "the page's error recorder is missing"
    assert recorded.group(1).strip() == "", f"script errors: {recorded.group(1)}"
    body = re.search(r'<body data-oe-charts="(\d+)" data-oe-rendered="(\d+)"', dom)
    assert body is not None, "the render check did not run"
    charts, rendered = int(body.group(1)), int(body.group(2))
    assert charts == rendered == len(expected)
    assert set(re.findall(r'data-chart="([a-z-]+)"', dom)) == expected
    starts = sorted((dom.index(f'data-chart="{c}"'), c) for c in expected)
    ends = [pos for pos, _ in starts[1:]] + [len(dom)]
    for (pos, chart), end in zip(starts, ends, strict=True):
        assert 'class="main-svg"' in dom[pos:end], f"{chart} was not drawn"


def test_checker_catches_script_errors(chromium, tmp_path):
    """The checks above can fail: a page with a broken script is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><script>window.__oeErrors=[];'
                    "window.addEventListener('error',function(e){window.__oeErrors.push("
                    "String(e.message));});</script></head><body><div>x</div>"
                    "<script>noSuchFunction();</script><pre id=\"oe-errors\"></pre><script>"
                    "window.addEventListener('load',function(){document.getElementById("
                    "'oe-errors').textContent=window.__oeErrors.join('\\n');});</script>"
                    "</body></html>")
    _, dom, console = render(chromium, page, tmp_path)
    assert any("noSuchFunction" in m for m in console), console
    assert "noSuchFunction is not defined" in dom


def test_sweep_report_renders(chromium, tmp_path):
    bars = oe.synthetic_bars("EURUSD", n=3000, timeframe="1h", seed=3)
    grid = oe.grid(SmaCross, fast=[5, 10, 20], slow=[40, 80], sl_pips=[20], tp_pips=[40])
    res = oe.run_many(grid, bars, include=("summary", "trades", "equity"), progress=False)
    page = report.html(res, tmp_path / "sweep.html", data=bars)
    check_page(chromium, page, tmp_path, {"oe-equity", "oe-trades", "oe-monthly", "oe-heatmap"})


def test_walk_forward_report_renders(chromium, tmp_path):
    bars = oe.synthetic_bars("EURUSD", n=4000, timeframe="1h", seed=4)
    grid = oe.grid(SmaCross, fast=[5, 10], slow=[40, 80], sl_pips=[20], tp_pips=[40])
    wf = oe.walk_forward(grid, bars, train="40D", test="20D", progress=False)
    page = report.html(wf, tmp_path / "wf.html", data=bars)
    check_page(chromium, page, tmp_path,
               {"oe-equity", "oe-trades", "oe-monthly", "oe-wf", "oe-wf-params"})
    # keep the screenshot next to the test output for a human look when it fails
    assert (tmp_path / "wf.png").stat().st_size > 0
