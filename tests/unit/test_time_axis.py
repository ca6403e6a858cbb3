"""The candle chart's UTC time axis: a bounded number of ticks at any span (the cost of a frame
must not grow with it), on round UTC times, labelled as a trader reads them."""
import calendar

import numpy as np

from cts_desktop.ui.time_axis import LABEL_PX, UtcTimeAxis, labels, ticks

T0 = calendar.timegm((2026, 11, 30, 12, 0, 0))  # s, UTC


def test_ticks_stay_few_and_labels_apart_at_every_span(qapp):  # an axis item needs the app
    axis = UtcTimeAxis()
    for span in (60.0, 3_600.0, 86_400.0, 7 * 86_400.0, 365 * 86_400.0, 20 * 365 * 86_400.0, 3_000 * 365 * 86_400.0):
        levels = axis.tickValues(T0 - span / 2, T0 + span / 2, 1200)
        (major_sp, major), *minor = levels
        assert 1 <= len(major) <= 1200 / LABEL_PX + 1, span
        assert all(len(v) <= 1200 / 8 + 1 for _sp, v in minor), span
        gaps = np.diff(major)
        assert (gaps / span * 1200 >= LABEL_PX * 0.9).all(), span  # months and years vary a little
        assert len(axis.tickStrings(major, 1.0, major_sp)) == len(major)


def test_round_utc_times_and_their_labels():
    day = calendar.timegm((2026, 11, 30, 0, 0, 0))
    hours = ticks(day - 3 * 3600, day + 3 * 3600, "s", 3600)
    assert labels(hours, "s", 3600)[2:5] == ["23:00", "Nov 30", "01:00"]  # a midnight shows its date
    assert labels(ticks(T0, T0 + 3, "s", 1), "s", 1)[:2] == ["12:00:00", "12:00:01"]
    months = ticks(calendar.timegm((2025, 10, 15, 0, 0, 0)), calendar.timegm((2026, 4, 15, 0, 0, 0)), "M", 3)
    assert [calendar.timegm((y, m, 1, 0, 0, 0)) for y, m in ((2026, 1), (2026, 4))] == list(months)
    assert labels(months, "M", 90 * 86_400) == ["2026", "Apr"]  # January shows its year
    years = ticks(calendar.timegm((2003, 1, 1, 0, 0, 0)), calendar.timegm((2031, 1, 1, 0, 0, 0)), "Y", 10)
    assert labels(years, "Y", 10 * 365 * 86_400) == ["2010", "2020", "2030"]
