"""The backtest window's colours (dark charts, green up, red down) and its error text style."""

BG = "#161a22"
FG = "#aab3c5"
UP = "#26a69a"
DOWN = "#ef5350"
EQUITY_PEN = "#4c9be8"
ERROR_STYLE = "color:#ff6b6b;"
