"""The Dashboard's colours, per theme (applied to the tab, so the app's style sheets stay as they
are). LIVE is unmistakable: a red strip with white text and a red frame; PAPER a calm blue strip."""
from __future__ import annotations

import re
from functools import lru_cache

from ...core.resources import resources_dir
from ..theme import current_theme, is_dark

_DARK = """
QFrame#DashCard { background: #1f2430; border: 1px solid #2c3342; border-radius: 8px; }
QFrame#DashCard[live="true"] { border: 2px solid #e5312b; }
QFrame#DashCard QLabel { background: transparent; }
QFrame#DashCard QLabel#DashMode { background: #1e3a5f; color: #9cc8ff; font-weight: 700; padding: 4px;
                  border-top-left-radius: 7px; border-top-right-radius: 7px; }
QFrame#DashCard QLabel#DashMode[live="true"] { background: #c62828; color: #ffffff; letter-spacing: 1px; }
QLabel#DashName { font-size: 12pt; font-weight: 700; }
QLabel#DashValue { font-size: 13pt; font-weight: 600; }
QLabel#DashValue[tone="up"] { color: #26a69a; }
QLabel#DashValue[tone="down"] { color: #ef5350; }
QLabel#DashFeed[health="ok"] { color: #3fd1bf; }
QLabel#DashFeed[health="stale"] { color: #f0b94a; font-weight: 700; }
QPushButton#DashKill { color: #ffffff; background: #c62828; font-weight: 600; border-radius: 4px; padding: 4px 14px; }
QPushButton#DashKill:disabled { background: #4a2a2a; color: #a08080; }
"""

_LIGHT = """
QFrame#DashCard { background: #ffffff; border: 1px solid #d5dbe3; border-radius: 8px; }
QFrame#DashCard[live="true"] { border: 2px solid #c62828; }
QFrame#DashCard QLabel { background: transparent; }
QFrame#DashCard QLabel#DashMode { background: #dbe8f8; color: #1f5699; font-weight: 700; padding: 4px;
                  border-top-left-radius: 7px; border-top-right-radius: 7px; }
QFrame#DashCard QLabel#DashMode[live="true"] { background: #c62828; color: #ffffff; letter-spacing: 1px; }
QLabel#DashName { font-size: 12pt; font-weight: 700; }
QLabel#DashValue { font-size: 13pt; font-weight: 600; }
QLabel#DashValue[tone="up"] { color: #1b7f74; }
QLabel#DashValue[tone="down"] { color: #c62828; }
QLabel#DashFeed[health="ok"] { color: #1b7f74; }
QLabel#DashFeed[health="stale"] { color: #8a4b00; font-weight: 700; }
QPushButton#DashKill { color: #ffffff; background: #c62828; font-weight: 600; border-radius: 4px; padding: 4px 14px; }
QPushButton#DashKill:disabled { background: #e8c4c4; color: #fdf2f2; }
"""


@lru_cache(maxsize=4)
def _pill_rules(name: str) -> str:
    """The app style sheet's state-pill rules, which a card's transparent labels would hide
    (a widget's own sheet wins over the application's)."""
    try:
        text = (resources_dir() / "styles" / f"{name}.qss").read_text(encoding="utf-8")
    except OSError:
        return ""
    return "\n".join(re.findall(r"[^{}]*StatePill[^{}]*\{[^}]*\}", text))


def sheet() -> str:
    """The style sheet for the current theme."""
    return (_DARK if is_dark() else _LIGHT) + _pill_rules(current_theme())
