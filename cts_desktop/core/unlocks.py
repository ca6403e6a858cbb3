"""Token-unlock calendars: scheduled releases of locked token supply, imported from a file.

A calendar is a CSV or JSON file the user provides (format in ``docs/token_unlocks.md``).
Each event has four fields:

* ``token``: the project's token name or ticker (free text, shown to the user).
* ``symbol``: the unified market symbol to trade, ``"ETH/BTC"`` or ``"OP/USDT"``.
* ``time``: when the tokens unlock, ISO 8601 (``2018-01-20T12:00:00Z``; a time without an
  offset is taken as UTC, other offsets are converted) or milliseconds since the Unix
  epoch (a whole number >= 10^11, so that seconds are not mistaken for milliseconds).
* ``unlock_pct``: the amount unlocked as a **percent** of circulating supply (``7.5`` = 7.5 %),
  > 0.

CSV files need a header row naming those columns (any order; other columns are ignored).
JSON files hold a list of objects, or an object with an ``"events"`` list.

:func:`load_unlock_calendar` checks the whole file first and raises :class:`CalendarError`
listing every problem; it never returns part of a file. Rows are named as users see them:
``row N`` is the line number in a CSV file (the header is row 1) and the 1-based position of
the object in a JSON list.

This module imports only the standard library.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Collection, Dict, List, Optional, Set, Tuple

FIELDS = ("token", "symbol", "time", "unlock_pct")
MIN_MS = 10 ** 11  # 1973-03-03: smaller whole numbers are almost certainly seconds


class CalendarError(ValueError):
    """An unlock calendar could not be imported. ``problems`` lists every finding, one line each
    (``"row 4, time: ..."``); ``path`` is the file. Nothing from the file was imported."""

    def __init__(self, path: str, problems: List[str]):
        self.path = path
        self.problems = list(problems)
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        text = f"{path}: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''} in the unlock calendar:\n  " + "\n  ".join(shown)
        if more > 0:
            text += f"\n  ... and {more} more"
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class UnlockEvent:
    """One scheduled unlock. ``time`` in ms since the epoch (UTC); ``unlock_pct`` in percent of
    circulating supply; ``row``: where it came from in the file (see the module docstring)."""

    token: str
    symbol: str
    time: int
    unlock_pct: float
    row: int = 0


def parse_time(value: Any) -> int:
    """ISO 8601 text or epoch milliseconds (number or digits) -> ms since the epoch, UTC.

    Raises ``ValueError`` with a message for the user.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected ISO 8601 UTC or milliseconds, got {value!r}")
    if isinstance(value, (int, float)):
        return _ms_from_number(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty")
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return _ms_from_number(number)
    iso = text[:-1] + "+00:00" if text[-1] in "zZ" else text
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time or epoch milliseconds: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def _ms_from_number(x: float) -> int:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x) or not x.is_integer()):
        raise ValueError(f"epoch milliseconds must be a whole number, got {x!r}")
    ms = int(x)
    if ms < MIN_MS:
        raise ValueError(f"{ms} is too small for epoch milliseconds (seconds? multiply by 1000)")
    return ms


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


Rows = List[Tuple[int, Dict[str, Any]]]


def _read_rows(path: str) -> Tuple[Rows, List[str]]:
    """``[(row_number, {field: value})]`` and file-level problems."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "r", encoding="utf-8-sig", newline="") as fh:
            if ext == ".json":
                return _read_json_rows(fh)
            if ext not in (".csv", ".txt", ""):
                return [], [f"unsupported file type {ext!r}; use .csv or .json"]
            return _read_csv_rows(fh)
    except FileNotFoundError:
        return [], ["file not found"]
    except UnicodeDecodeError as e:
        return [], [f"not UTF-8 text ({e.reason} at byte {e.start})"]
    except OSError as e:
        return [], [f"cannot read: {e.strerror or e}"]


def _read_json_rows(fh: IO[str]) -> Tuple[Rows, List[str]]:
    try:
        data = json.load(fh)
    except json.JSONDecodeError as e:
        return [], [f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"]
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    if not isinstance(data, list):
        return [], ['expected a JSON list of events or {"events": [...]}']
    rows: Rows = []
    problems: List[str] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            problems.append(f"row {n}: expected an object with {', '.join(FIELDS)}, got {type(item).__name__}")
            continue
        missing = [f for f in FIELDS if f not in item]
        if missing:
            problems.append(f"row {n}: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            continue
        rows.append((n, item))
    return rows, problems


def _read_csv_rows(fh: IO[str]) -> Tuple[Rows, List[str]]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        return [], ["the file is empty; expected a header row: " + ",".join(FIELDS)]
    names = [h.strip().lower() for h in header]
    missing = [f for f in FIELDS if f not in names]
    if missing:
        return [], [f"row 1 (header): missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; found {', '.join(h for h in names if h) or 'nothing'}"]
    index = {f: names.index(f) for f in FIELDS}
    rows: Rows = []
    problems: List[str] = []
    for values in reader:
        n = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) < len(names):
            problems.append(f"row {n}: {len(values)} values, the header has {len(names)}")
            continue
        rows.append((n, {f: values[i] for f, i in index.items()}))
    return rows, problems


def load_unlock_calendar(path: str, known_symbols: Optional[Collection[str]] = None,
                         now_ms: Optional[int] = None) -> List[UnlockEvent]:
    """Read and check an unlock calendar; events sorted by time (then symbol).

    ``known_symbols``: when given, every event's symbol must be one of them (the markets the
    exchange offers). ``now_ms``: when given, events at or before it are rejected as past
    (leave it None for backtests over old data). Also rejected: missing columns or fields,
    empty token or symbol, a symbol without ``/``, unparseable times, non-numeric or
    non-positive ``unlock_pct``, and duplicate events (same symbol and time).

    Raises :class:`CalendarError` listing every problem; nothing is returned then.
    """
    path = os.fspath(path)
    rows, problems = _read_rows(os.path.expanduser(path))
    known = set(known_symbols) if known_symbols is not None else None
    events: List[UnlockEvent] = []
    seen: Dict[Tuple[str, int], int] = {}
    for n, raw in rows:
        token, symbol, names_ok = _row_names(n, raw, known, problems)
        t, time_ok = _row_time(n, raw["time"], now_ms, problems)
        pct = _row_pct(n, raw["unlock_pct"], problems)
        row_ok = names_ok and time_ok and pct is not None
        if symbol and t is not None:
            key = (symbol, t)
            if key in seen:
                problems.append(f"row {n}: duplicates row {seen[key]} (same symbol {symbol} and time {_iso(t)})")
                row_ok = False
            else:
                seen[key] = n
        if row_ok and t is not None and pct is not None:
            events.append(UnlockEvent(token, symbol, t, pct, n))
    if problems:
        raise CalendarError(path, problems)
    events.sort(key=lambda e: (e.time, e.symbol))
    return events


def _row_names(n: int, raw: Dict[str, Any], known: Optional[Set[str]], problems: List[str]) -> Tuple[str, str, bool]:
    """Row ``n``'s ``(token, symbol, ok)``; what is wrong with them goes to ``problems``."""
    token = str(raw["token"] if raw["token"] is not None else "").strip()
    symbol = str(raw["symbol"] if raw["symbol"] is not None else "").strip()
    ok = True
    if not token:
        problems.append(f"row {n}, token: empty")
        ok = False
    if not symbol:
        problems.append(f"row {n}, symbol: empty")
        ok = False
    elif "/" not in symbol:
        problems.append(f"row {n}, symbol: {symbol!r} is not a unified symbol like 'ETH/USDT'")
        ok = False
    elif known is not None and symbol not in known:
        problems.append(f"row {n}, symbol: unknown symbol {symbol!r}")
        ok = False
    return token, symbol, ok


def _row_time(n: int, value: Any, now_ms: Optional[int], problems: List[str]) -> Tuple[Optional[int], bool]:
    """Row ``n``'s ``(time_ms or None when unreadable, ok)``: a past time is read but not ok."""
    try:
        t = parse_time(value)
    except ValueError as e:
        problems.append(f"row {n}, time: {e}")
        return None, False
    if now_ms is not None and t <= now_ms:
        problems.append(f"row {n}, time: {_iso(t)} is in the past (now is {_iso(now_ms)})")
        return t, False
    return t, True


def _row_pct(n: int, pct_raw: Any, problems: List[str]) -> Optional[float]:
    """Row ``n``'s ``unlock_pct`` (percent of circulating supply, > 0), or None when unusable."""
    try:
        if isinstance(pct_raw, bool):
            raise ValueError
        pct = float(str(pct_raw).strip().rstrip("%").strip()) if isinstance(pct_raw, str) else float(pct_raw)
        if math.isnan(pct) or math.isinf(pct):
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"row {n}, unlock_pct: expected a number (percent of circulating supply), got {pct_raw!r}")
        return None
    if pct <= 0:
        problems.append(f"row {n}, unlock_pct: must be > 0, got {pct:g}")
        return None
    return pct
