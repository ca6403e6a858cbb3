"""Walk-forward windows: pure arithmetic on a time axis.

Units are whatever the caller uses consistently (the services use milliseconds UTC; candle
indices work just as well). Every span is half-open, ``[start, end)``.

Rolling windows: in-sample ``[s, s + in_sample)``, out-of-sample ``[s + in_sample, s + in_sample
+ out_of_sample)``, then ``s += step``. Anchored windows: the in-sample always starts at the
data's start and grows; the out-of-sample windows advance by ``step`` the same way. ``step``
defaults to ``out_of_sample`` (out-of-sample windows that touch and never overlap). A last
out-of-sample window that would pass the end of the data is cut at the end when it keeps at least
half its length, else dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class Window:
    """One walk-forward step: ``index`` from 0, in-sample ``[is_start, is_end)``, out-of-sample
    ``[oos_start, oos_end)`` (``oos_start == is_end``)."""

    index: int
    is_start: int
    is_end: int
    oos_start: int
    oos_end: int


def walk_forward_windows(start: int, end: int, in_sample: int, out_of_sample: int, step: Optional[int] = None,
                         anchored: bool = False) -> List[Window]:
    """The windows over ``[start, end)``. Raises ``ValueError`` naming the field (``in_sample``,
    ``out_of_sample``, ``step``) when a length is not positive or the windows do not fit the data."""
    step = out_of_sample if step is None else step
    for name, v in (("in_sample", in_sample), ("out_of_sample", out_of_sample), ("step", step)):
        if v <= 0:
            raise ValueError(f"{name}: must be > 0, got {v}")
    if start + in_sample + out_of_sample > end:
        raise ValueError(f"in_sample: the first window (in-sample {in_sample} + out-of-sample {out_of_sample}) "
                         f"is longer than the data ({end - start})")
    out: List[Window] = []
    s = start
    while True:
        is_end = s + in_sample
        oos_end = is_end + out_of_sample
        if oos_end > end:
            if end - is_end >= (out_of_sample + 1) // 2 and end > is_end:
                oos_end = end
            else:
                break
        out.append(Window(len(out), start if anchored else s, is_end, is_end, oos_end))
        if oos_end >= end:
            break
        s += step
    return out
