"""The backtest window and its parts.

* :mod:`.window`: :class:`BacktestWindow`, the panel (run bar, state, result tabs, exports);
* :mod:`.form`: the settings on its left (strategy, parameters, presets, account and costs);
* :mod:`.data_source`: where the candles come from (dataset, CSV import, exchange history);
* :mod:`.results`: the result tabs: metrics panel, breakdown tables, trades table;
* :mod:`.charts`: equity/drawdown curves and the price chart with trade markers.

Loading, checks, the run and the exports are the backtests service's
(:mod:`cts_desktop.services.backtests`); nothing here talks to an exchange.
"""
from ...services.backtests import BacktestInputs
from ...store.presets import PresetStore
from .charts import CurveCharts, PriceChart
from .data_source import SOURCE_CSV, SOURCE_DATASET, SOURCE_HISTORY, DataSourceBox
from .form import SettingsForm
from .results import SORT_ROLE, TRADE_HEADERS, MetricsPanel, ResultTabs, TradesModel
from .window import BacktestWindow

__all__ = [
    "BacktestInputs", "BacktestWindow", "CurveCharts", "DataSourceBox", "MetricsPanel", "PresetStore", "PriceChart",
    "ResultTabs", "SORT_ROLE", "SOURCE_CSV", "SOURCE_DATASET", "SOURCE_HISTORY", "SettingsForm", "TRADE_HEADERS",
    "TradesModel",
]
