"""A UTC time axis for the candle chart whose cost does not grow with the span shown.

pyqtgraph's ``DateAxisItem`` converts every tick through ``QDateTime`` one by one and, between
about 8 and 30 years in view, makes ~270 ticks a frame: a zoomed-out frame cost 12-20 ms of axis
alone. Here the ticks are one ``numpy.arange`` (seconds, minutes, hours, days) or a ``datetime64``
month / year range, spaced so that labels are at least :data:`LABEL_PX` pixels apart, with one
level of unlabelled minor ticks; the labels are made in one ``numpy.datetime_as_string`` call.

Values are s since the epoch, UTC (the chart's x axis); labels: ``HH:MM:SS``, ``HH:MM`` (a
midnight shows its date, ``Nov 30``), ``Nov 30``, ``Dec`` (January shows its year), ``2026``.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pyqtgraph as pg

LABEL_PX = 80  # the least distance between two labels, pixels
DAY, MONTH, YEAR = 86_400, 30 * 86_400, 365 * 86_400
# (approximate spacing in s, unit, step in that unit): units "s" (seconds), "M" (months), "Y" (years)
STEPS: List[Tuple[float, str, int]] = (
    [(s, "s", s) for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                           43200, DAY, 2 * DAY, 5 * DAY, 10 * DAY)]
    + [(m * MONTH, "M", m) for m in (1, 2, 3, 6)]
    + [(y * YEAR, "Y", y) for y in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)])
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# the chart cannot be panned or zoomed out beyond these (years 1 and 9999, as pyqtgraph's date axis)
MIN_S, MAX_S = -62_135_596_800.0, 253_370_764_800.0


def ticks(lo: float, hi: float, unit: str, step: int) -> np.ndarray:
    """Tick positions (s, UTC) in ``[lo, hi]`` on multiples of ``step`` ``unit`` s."""
    if unit == "s":
        return np.arange(np.ceil(lo / step) * step, hi + 1e-9, step, dtype=np.float64)
    code = "datetime64[M]" if unit == "M" else "datetime64[Y]"
    first = np.datetime64(int(np.floor(max(lo, MIN_S))), "s").astype(code)
    last = np.datetime64(int(np.ceil(min(hi, MAX_S))), "s").astype(code)
    start = first.astype(np.int64)
    if unit == "Y":
        start -= (start + 1970) % step  # years on multiples of step: 2020, 2025
    else:
        start -= start % step  # months on multiples of step from January
    cal = np.arange(start, last.astype(np.int64) + 1, step).astype(code)
    out = cal.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    return out[(out >= lo) & (out <= hi)]


def labels(values: np.ndarray, unit: str, spacing: float) -> List[str]:
    """The labels of ``values`` (s, UTC) at this spacing (module docstring)."""
    if len(values) == 0:
        return []
    if unit == "Y":
        return [str(int(y) + 1970) for y in np.asarray(values, "int64").astype("datetime64[s]")
                .astype("datetime64[Y]").astype(np.int64)]
    text = np.datetime_as_string(np.asarray(np.round(values), dtype="int64").astype("datetime64[s]"), unit="s")
    out = []
    for t in text:
        date, clock = t[:-9], t[-8:]  # '2026-11-30', '12:00:00' (years past 9999 have more digits)
        month, day = int(date[-5:-3]), int(date[-2:])
        if unit == "M":
            out.append(date[:-6] if month == 1 else MONTHS[month - 1])
        elif spacing < 60:
            out.append(clock)
        elif spacing >= DAY or clock == "00:00:00":
            out.append(f"{MONTHS[month - 1]} {day}")
        else:
            out.append(clock[:5])
    return out


class UtcTimeAxis(pg.AxisItem):
    """A bottom axis showing UTC dates and times (module docstring)."""

    def __init__(self, orientation: str = "bottom", **kw) -> None:
        super().__init__(orientation, **kw)
        self.setStyle(maxTextLevel=0)  # labels on the major ticks only
        self.enableAutoSIPrefix(False)  # no "x1e9" on a time; spares re-setting the label each range change

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802 (pyqtgraph's name)
        if size <= 0 or not np.isfinite(minVal) or not np.isfinite(maxVal) or maxVal <= minVal:
            return []
        per_px = (maxVal - minVal) / size
        major = next((i for i, st in enumerate(STEPS) if st[0] / per_px >= LABEL_PX), len(STEPS) - 1)
        spacing, unit, step = STEPS[major]
        levels = [(spacing, ticks(minVal, maxVal, unit, step))]
        if major > 0 and STEPS[major - 1][0] / per_px >= 8:  # unlabelled minor ticks a level finer
            mspacing, munit, mstep = STEPS[major - 1]
            minor = ticks(minVal, maxVal, munit, mstep)
            levels.append((mspacing, minor[~np.isin(minor, levels[0][1])]))  # not again under a label
        return [(sp, list(v)) for sp, v in levels]

    def tickStrings(self, values: list, scale: float, spacing: float) -> List[str]:  # noqa: N802
        unit = "Y" if spacing >= YEAR else "M" if spacing >= MONTH else "s"
        return labels(np.asarray(values, dtype=np.float64), unit, spacing)
