"""The backtest window's colours (charts in the app's theme, green up, red down) and its error text
style. ``bg()`` and ``fg()`` are read when a chart is made, so a window opened after a theme change
is drawn in the new theme."""
from ..theme import is_dark

DARK_BG, DARK_FG = "#161a22", "#aab3c5"
LIGHT_BG, LIGHT_FG = "#ffffff", "#3d4757"


def bg() -> str:
    """The charts' background in the current theme."""
    return DARK_BG if is_dark() else LIGHT_BG


def fg() -> str:
    """The charts' text and axes in the current theme."""
    return DARK_FG if is_dark() else LIGHT_FG

UP = "#26a69a"
DOWN = "#ef5350"
EQUITY_PEN = "#4c9be8"
ERROR_STYLE = "color:#ff6b6b;"
