"""The equity chart's data takes a curve as two columns (no tuple per point) exactly as it takes
the list of pairs: same arrays, same overlap rule (older points dropped, an equal timestamp
replaces the last point)."""
from __future__ import annotations

import random
from array import array

import numpy as np

from cts_desktop.ui.chart_data import Columns, EquityData


def _state(d: EquityData) -> tuple:
    return (d.eq.x.tolist(), d.eq.y.tolist(), d.dd.x.tolist(), d.dd.y.tolist(), d.peak, d.lowest, d.highest,
            d.dd_min, d.last_ts)


def test_columns_and_pairs_give_the_same_curve_overlaps_included():
    rng = random.Random(5)
    pts = [(60_000 * i, 10_000 + rng.gauss(0, 50)) for i in range(30_000)]
    cols = Columns(array("q", [p[0] for p in pts]), array("d", [p[1] for p in pts]))
    assert len(cols) == 30_000 and len(cols[100:200]) == 100
    pairs, columns = EquityData(), EquityData()
    # a history, a batch overlapping it (an equal timestamp replaces the last point), one entirely older
    for lo, hi in ((0, 20_000), (19_990, 25_000), (10, 20), (25_000, 30_000)):
        pairs.extend(pts[lo:hi])
        columns.extend(cols[lo:hi])
    assert _state(pairs) == _state(columns)
    assert pairs.eq.n == 30_000 and np.all(np.diff(columns.eq.x) > 0)
    columns.extend(Columns(array("q", [pts[-1][0]]), array("d", [1.0])))  # the same time again: replaced
    assert columns.eq.n == 30_000 and columns.eq.y[-1] == 1.0 and columns.lowest == 1.0
