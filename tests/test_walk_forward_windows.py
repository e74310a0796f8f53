"""Window arithmetic of walk_forward: a pure function over timestamps (no engine involved)."""

from datetime import timedelta

import numpy as np
import pytest
from omega_engine.walk_forward import compute_windows, parse_length

MIN = 60_000_000
DAY = 86_400_000_000


def spans(windows):
    return [(w.train_start, w.train_end, w.test_start, w.test_end, w.partial) for w in windows]


def assert_invalid_window(excinfo, *needles):
    err = excinfo.value
    assert isinstance(err, ValueError)
    assert str(err).startswith("[1009] INVALID_WINDOW"), str(err)
    assert getattr(err, "code", None) == 1009
    for needle in needles:
        assert needle in str(err), str(err)


def test_rolling_bar_counts_tile_the_test_windows():
    ts = np.arange(100) * MIN
    w = compute_windows(ts, train=40, test=20)
    assert spans(w) == [(0, 40, 40, 60, False), (20, 60, 60, 80, False), (40, 80, 80, 100, False)]
    assert [x.window_id for x in w] == [0, 1, 2]
    # test windows are contiguous and never overlap
    assert all(a.test_end == b.test_start for a, b in zip(w, w[1:], strict=False))


def test_anchored_keeps_the_train_start():
    ts = np.arange(100) * MIN
    w = compute_windows(ts, train=40, test=20, anchored=True)
    assert spans(w) == [(0, 40, 40, 60, False), (0, 60, 60, 80, False), (0, 80, 80, 100, False)]


def test_explicit_step_and_gap():
    ts = np.arange(100) * MIN
    w = compute_windows(ts, train=30, test=10, step=25, gap=5)
    # the 4th window would start its test at bar 110, after the data: not a window
    assert spans(w) == [(0, 30, 35, 45, False), (25, 55, 60, 70, False), (50, 80, 85, 95, False)]
    for x in w:
        assert x.test_start - x.train_end == 5


def test_partial_last_window_kept_truncated_or_dropped():
    ts = np.arange(95) * MIN
    kept = compute_windows(ts, train=40, test=20)
    assert spans(kept)[-1] == (40, 80, 80, 95, True)
    assert kept[-1].test_bars == 15
    dropped = compute_windows(ts, train=40, test=20, partial=False)
    assert spans(dropped) == spans(kept)[:-1]
    assert not any(x.partial for x in dropped)


def test_warmup_moves_the_origin_and_precedes_every_window():
    ts = np.arange(120) * MIN
    w = compute_windows(ts, train=40, test=20, warmup=10)
    assert w[0].train_start == 10 and w[0].train_warmup == 0
    for x in w:
        assert x.train_warmup == x.train_start - 10
        assert x.test_warmup == x.test_start - 10
    # warm-up for the test window lies in the past (inside the train window): no look-ahead
    assert all(x.test_warmup < x.test_start <= x.test_end for x in w)


def test_durations_rolling_and_anchored():
    ts = np.arange(0, 100 * DAY, 6 * 3_600_000_000, dtype=np.int64)  # 6-hourly bars, 100 days
    w = compute_windows(ts, train="40D", test="20D")
    assert [(x.train_start, x.train_end, x.test_start, x.test_end) for x in w] == [
        (0, 160, 160, 240), (80, 240, 240, 320), (160, 320, 320, 400)
    ]
    assert not any(x.partial for x in w)  # the data covers exactly 100 days
    a = compute_windows(ts, train=timedelta(days=40), test="20D", anchored=True)
    assert [x.train_start for x in a] == [0, 0, 0]
    assert [x.train_end for x in a] == [160, 240, 320]


def test_durations_skip_empty_windows_and_truncate_the_last():
    # hourly bars with every weekend (days 5,6 of each week) missing
    hours = np.arange(0, 30 * 24, dtype=np.int64)
    hours = hours[(hours // 24) % 7 < 5]
    ts = hours * 3_600_000_000
    w = compute_windows(ts, train="5D", test="1D")
    days = [int(ts[x.test_start] // DAY) for x in w]
    assert all(d % 7 < 5 for d in days)  # no window tests an empty weekend day
    assert len(days) == len(set(days))
    assert all(x.test_bars == 24 for x in w)
    # a 2.5-day test window at the end is partial
    p = compute_windows(ts[: 24 * 12], train="5D", test="60H", step="60H")
    assert p[-1].partial and p[-1].test_end == 24 * 12


def test_duration_warmup_and_gap():
    ts = np.arange(0, 30 * DAY, 3_600_000_000, dtype=np.int64)
    w = compute_windows(ts, train="10D", test="5D", gap="12H", warmup="2D")
    assert w[0].train_start == 48 and w[0].train_warmup == 0
    assert w[0].test_start - w[0].train_end == 12
    assert all(x.test_start - x.test_warmup == 48 for x in w)


def test_too_little_data_is_a_coded_error():
    ts = np.arange(50) * MIN
    with pytest.raises(ValueError) as ei:
        compute_windows(ts, train=40, test=20, gap=15)
    assert_invalid_window(ei, "train=40 bars", "50 bars")
    with pytest.raises(ValueError) as ei:
        compute_windows(ts, train=45, test=20, partial=False)
    assert_invalid_window(ei)
    with pytest.raises(ValueError) as ei:
        compute_windows(ts, train="10D", test="1D")
    assert_invalid_window(ei)
    with pytest.raises(ValueError) as ei:
        compute_windows(ts[:0], train=1, test=1)
    assert_invalid_window(ei)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"train": 0, "test": 5}, "train"),
        ({"train": 10, "test": -1}, "test"),
        ({"train": 10, "test": 5, "step": 0}, "step"),
        ({"train": 10, "test": 5, "gap": -2}, "gap"),
        ({"train": "3M", "test": 5}, "train"),
        ({"train": "10D", "test": 5}, "use bar counts for all"),
        ({"train": 10, "test": "1D"}, "use bar counts for all"),
        ({"train": True, "test": 5}, "train"),
    ],
)
def test_bad_lengths_are_coded_errors(kwargs, needle):
    with pytest.raises(ValueError) as ei:
        compute_windows(np.arange(100) * MIN, **kwargs)
    assert_invalid_window(ei, needle)


def test_parse_length_units():
    assert parse_length(15, "x").unit == "bars"
    assert parse_length("250", "x").value == 250
    assert parse_length("90D", "x").value == 90 * DAY
    assert parse_length("12h", "x").value == 12 * 3_600_000_000
    assert parse_length("30min", "x").value == 30 * MIN
    assert parse_length("2W", "x").value == 14 * DAY
    assert parse_length("1.5D", "x").value == 36 * 3_600_000_000
    assert parse_length(timedelta(hours=1), "x").value == 3_600_000_000


def test_unsorted_timestamps_refused():
    with pytest.raises(ValueError) as ei:
        compute_windows(np.array([0, 2, 1, 3]) * MIN, train=1, test=1)
    assert_invalid_window(ei, "increasing")
