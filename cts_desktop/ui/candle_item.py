"""Candles (or volume bars) as one graphics item: two colours of bodies and wicks, painted with one
``drawRects`` and one ``drawLines`` a colour from arrays filled by numpy.

It replaces six pyqtgraph items (bodies and wicks per colour, volume per colour): each of those
recomputed its bounds and went through pyqtgraph's per-item paint path every frame. Coordinates are
the plot's: x in s, y in quote (or volume)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QLineF, QRectF, Qt


class BarsItem(pg.GraphicsObject):
    """Bars from ``bottom`` to ``top`` (``width`` wide, centred on ``x``), optionally with a wick from
    ``low`` to ``high``; ``up`` (bool array) picks the first colour of ``colours``."""

    def __init__(self, colours: Tuple, wicks: bool = True) -> None:
        super().__init__()
        self._brushes = tuple(pg.mkBrush(c) for c in colours)
        self._pens = tuple(pg.mkPen(c) for c in colours)
        self._rects = (PrimitiveArray(QRectF, 4), PrimitiveArray(QRectF, 4))
        self._lines = (PrimitiveArray(QLineF, 4), PrimitiveArray(QLineF, 4))
        self._wicks = wicks
        self._bounds = QRectF()
        self.count = 0

    def set_bars(self, x: np.ndarray, width: float, bottom: np.ndarray, top: np.ndarray, up: np.ndarray,
                 low: Optional[np.ndarray] = None, high: Optional[np.ndarray] = None) -> None:
        """Replace the bars (equal-length arrays; ``low``/``high`` for the wicks)."""
        self.prepareGeometryChange()
        self.count = len(x)
        for rects, lines, sel in zip(self._rects, self._lines, (up, ~up), strict=True):
            xs = x[sel]
            rects.resize(len(xs))
            r = rects.ndarray()
            r[:, 0] = xs - width / 2
            r[:, 1] = np.minimum(bottom[sel], top[sel])
            r[:, 2] = width
            r[:, 3] = np.abs(top[sel] - bottom[sel])
            if self._wicks and low is not None and high is not None:
                lines.resize(len(xs))
                ln = lines.ndarray()
                ln[:, 0] = xs
                ln[:, 1] = low[sel]
                ln[:, 2] = xs
                ln[:, 3] = high[sel]
        if self.count:
            lo = float(np.min(low if low is not None else np.minimum(bottom, top)))
            hi = float(np.max(high if high is not None else np.maximum(bottom, top)))
            x0, x1 = float(x[0]) - width / 2, float(x[-1]) + width / 2
            self._bounds = QRectF(x0, lo, x1 - x0, hi - lo)
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._bounds

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None) -> Tuple:  # noqa: N802
        if not self.count:
            return (None, None)
        b = self._bounds
        return (b.left(), b.right()) if ax == 0 else (b.top(), b.bottom())

    def paint(self, p, *_args) -> None:
        for i in (0, 1):  # the wicks first, under the bodies
            if self._wicks and self._lines[i].ndarray().size:
                p.setPen(self._pens[i])
                p.drawLines(*self._lines[i].drawargs())
        for i in (0, 1):
            if self._rects[i].ndarray().size:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(self._brushes[i])
                p.drawRects(*self._rects[i].drawargs())
