"""The backtest window: pick data, a strategy and its parameters, run, study and export the result.

``BacktestWindow(services)`` is a plain ``QWidget``: the main window can put it in a tab or show it
as its own window (``Tools > Backtest...``). Everything runs on the qasync loop:

* data: a shipped dataset (:data:`~cts_desktop.exchange.replay.DATASETS`, loaded on a worker
  thread), a candle CSV the user imports (checked whole by
  :func:`~cts_desktop.exchange.candles.load_candles_csv`: a bad file is refused with its
  line-numbered problems and nothing of it is kept), or exchange history downloaded through a
  configured connection and cached in the database
  (:func:`~cts_desktop.store.candle_cache.download_for_connection`; the window never talks to an
  exchange itself);
* the strategy's parameter form is generated from its :class:`~cts_desktop.engine.strategies.Param`
  declarations (ranges, units as suffixes, help as tooltips); a :class:`ParamError` is shown under
  the field it names and nothing runs;
* the run is :meth:`Backtest.run_async` (slices of 20 ms, progress bar, Cancel); results are kept
  in the database as a ``backtest`` run, a cancelled run writes nothing but its cancelled run row;
* results: every metric with its unit, per-symbol and per-strategy tables, equity and drawdown
  charts, a price chart with entry/exit markers (clipped and peak-downsampled: a year of 1-minute
  candles pans smoothly), a sortable trades table, and exports (trades CSV, HTML report).

Presets (strategy, parameters, cash, fee, slippage, max position) are kept by name in
``<config dir>/presets.json``.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDateEdit, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QMessageBox, QProgressBar, QPushButton, QScrollArea, QSizePolicy,
                               QSplitter, QStackedWidget, QTableView, QTableWidget, QTableWidgetItem,
                               QTabWidget, QVBoxLayout, QWidget)

from ..services import reports as report
from ..store.presets import PresetStore  # noqa: F401 - also used by tests through this module
from ..core.models import TIMEFRAME_MS, Candle, Market
from ..core.risk import RiskLimits
from ..engine import strategies
from ..engine.backtest import Backtest, BacktestCancelled, BacktestResult, trades_rows
from ..engine.strategies.base import ParamError
from ..exchange.candles import CandleFileError, CandleSeries, load_candles_csv
from ..exchange.replay import DATASETS, ReplaySource, get_dataset
from .connections import ParamForm  # the app's one generated parameter form (shared with the Connections tab)

log = logging.getLogger(__name__)

SOURCE_DATASET = "dataset"
SOURCE_CSV = "csv"
SOURCE_HISTORY = "history"

BG = "#161a22"
FG = "#aab3c5"
UP = "#26a69a"
DOWN = "#ef5350"
EQUITY_PEN = "#4c9be8"
ERROR_STYLE = "color:#ff6b6b;"


@dataclass
class BacktestInputs:
    """Candles and market rules of one run. ``cash_factor`` converts the cash field (USD for the
    shipped datasets) to the quote currency; 1 for CSV and exchange data (cash in quote)."""

    label: str
    series: Dict[str, List[Candle]]
    markets: Dict[str, Market]
    timeframe_ms: int
    cash_factor: float = 1.0

    @property
    def quote(self) -> str:
        return self.markets[next(iter(self.series))].quote


def _utc_ms(d: QDate) -> int:
    return int(datetime(d.year(), d.month(), d.day(), tzinfo=timezone.utc).timestamp() * 1000)


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------
TRADE_HEADERS = ["#", "Symbol", "Side", "Entry (UTC)", "Entry price", "Exit (UTC)", "Exit price", "Amount",
                 "P&L", "Fees", "Net P&L", "Exit reason", "Strategy"]
_NUMERIC = {0, 4, 6, 7, 8, 9, 10}
_MONEY = {8, 9, 10}
SORT_ROLE = Qt.ItemDataRole.UserRole


class TradesModel(QAbstractTableModel):
    """The closed trades (rows of :func:`trades_rows`); raw values under ``SORT_ROLE``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: List[list] = []
        self.currency = ""

    def set_rows(self, rows: List[list], currency: str) -> None:
        self.beginResetModel()
        self.rows, self.currency = rows, currency
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(TRADE_HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            h = TRADE_HEADERS[section]
            return f"{h} ({self.currency})" if section in _MONEY and self.currency else h
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        c = index.column()
        v = r[c]
        if role == SORT_ROLE:
            return v if v is not None else ""
        if role == Qt.ItemDataRole.DisplayRole:
            if c in (3, 5):
                return report.fmt_time(v)
            if c in (4, 6):
                return report.fmt_price(v)
            if c == 7:
                return report.fmt_amount(v)
            if c in _MONEY:
                return report.fmt_money(v, self.currency, unit=False)
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole and c in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and c in (8, 10) and v:
            return QColor(UP if v > 0 else DOWN)
        return None


def _small_table(headers: List[str], name: str) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    t.verticalHeader().setDefaultSectionSize(24)
    t.setFixedHeight(60)
    return t


def _fill_table(t: QTableWidget, rows: List[List[str]]) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            item = QTableWidgetItem(v)
            if j > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            t.setItem(i, j, item)
    shown = max(1, min(len(rows), 6))
    t.setFixedHeight(t.horizontalHeader().height() + shown * t.verticalHeader().defaultSectionSize() + 2 * t.frameWidth() + 2)


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------
class MetricsPanel(QFrame):
    """Every :class:`~cts_desktop.core.metrics.Metrics` field, with its unit, in three columns."""

    COLUMNS = 3

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("MetricsPanel")
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 8, 8, 8)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        self.values: Dict[str, QLabel] = {}
        per_col = math.ceil(len(report.METRIC_ROWS) / self.COLUMNS)
        for i, (field, label, kind, help_) in enumerate(report.METRIC_ROWS):
            col, row = divmod(i, per_col)
            name = QLabel(label + ":")
            name.setToolTip(help_)
            name.setStyleSheet(f"color:{FG};")
            val = QLabel("–")
            val.setObjectName(f"metric_{field}")
            val.setToolTip(help_)
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            f = val.font()
            f.setBold(True)
            val.setFont(f)
            grid.addWidget(name, row, col * 2)
            grid.addWidget(val, row, col * 2 + 1)
            self.values[field] = val
        for c in range(self.COLUMNS):
            grid.setColumnStretch(c * 2 + 1, 1)

    def set_metrics(self, metrics, currency: str) -> None:
        for field, _label, value, _help in report.metric_rows(metrics, currency):
            lab = self.values[field]
            lab.setText(value)
            raw = getattr(metrics, field)
            colour = ""
            if field in ("total_return", "net_pnl", "realized_pnl", "unrealized_pnl", "expectancy") and raw:
                colour = UP if raw > 0 else DOWN
            lab.setStyleSheet(f"color:{colour};" if colour else "")

    def clear(self) -> None:
        for lab in self.values.values():
            lab.setText("–")
            lab.setStyleSheet("")

    def text(self, field: str) -> str:
        return self.values[field].text()


# ----------------------------------------------------------------------------------------------
# charts
# ----------------------------------------------------------------------------------------------
def _style_plot(p: pg.PlotItem, left: str) -> None:
    p.showGrid(x=True, y=True, alpha=0.15)
    p.setMenuEnabled(False)
    p.setClipToView(True)
    p.setDownsampling(auto=True, mode="peak")
    p.setMouseEnabled(x=True, y=False)
    p.enableAutoRange(axis="y", enable=True)
    p.setAutoVisible(y=True)
    for ax in ("left", "bottom"):
        axis = p.getAxis(ax)
        axis.setPen(pg.mkPen(FG))
        axis.setTextPen(pg.mkPen(FG))
    p.getAxis("left").setWidth(78)
    p.getAxis("left").enableAutoSIPrefix(False)  # BTC-quoted prices stay in BTC, not "x0.001"
    p.setLabel("left", left, color=FG)


class CurveCharts(QWidget):
    """Equity (top) and drawdown in percent of the running peak (bottom), x axes linked (UTC)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget(self)
        self.glw.setBackground(BG)
        self.equity_plot = self.glw.addPlot(row=0, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.dd_plot = self.glw.addPlot(row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.glw.ci.layout.setRowStretchFactor(0, 3)
        self.glw.ci.layout.setRowStretchFactor(1, 1)
        self.dd_plot.setXLink(self.equity_plot)
        _style_plot(self.equity_plot, "Equity")
        _style_plot(self.dd_plot, "Drawdown %")
        self.equity_curve = self.equity_plot.plot(pen=pg.mkPen(EQUITY_PEN, width=1.5))
        self.dd_curve = self.dd_plot.plot(pen=pg.mkPen(DOWN, width=1.0), fillLevel=0.0,
                                          brush=pg.mkBrush(QColor(239, 83, 80, 70)))
        self.start_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(FG, width=1, style=Qt.PenStyle.DashLine))
        self.equity_plot.addItem(self.start_line)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)

    def set_curve(self, curve, starting: float, currency: str) -> None:
        if not curve:
            self.equity_curve.setData([], [])
            self.dd_curve.setData([], [])
            return
        arr = np.asarray(curve, dtype=np.float64)
        x = arr[:, 0] / 1000.0
        eq = arr[:, 1]
        peak = np.maximum.accumulate(np.concatenate(([starting], eq)))[1:]
        dd = np.where(peak > 0, (eq - peak) / peak * 100.0, 0.0)
        self.equity_curve.setData(x, eq)
        self.dd_curve.setData(x, dd)
        self.start_line.setValue(starting)
        self.equity_plot.setLabel("left", f"Equity ({currency})", color=FG)
        self.equity_plot.enableAutoRange()
        self.dd_plot.enableAutoRange()


class PriceChart(QWidget):
    """Close prices of one symbol with the trades' entries (triangles: up = long, down = short) and
    exits (circles: green = net win, red = net loss). Clipped to the view and peak-downsampled."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.symbol_box = QComboBox()
        self.symbol_box.setObjectName("PriceSymbol")
        self.symbol_box.currentTextChanged.connect(self._show_symbol)
        self.info = QLabel("")
        self.info.setStyleSheet(f"color:{FG};")
        top = QHBoxLayout()
        top.addWidget(QLabel("Symbol:"))
        top.addWidget(self.symbol_box)
        top.addWidget(self.info, 1)
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot_widget.setBackground(BG)
        self.plot = self.plot_widget.getPlotItem()
        _style_plot(self.plot, "Price")
        self.close_curve = self.plot.plot(pen=pg.mkPen("#c8cfdc", width=1.0))
        self.close_curve.setZValue(0)
        self.entry_markers = pg.ScatterPlotItem(size=10, pen=pg.mkPen(None), hoverable=True)
        self.exit_markers = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#10131a", width=0.8), hoverable=True)
        for m in (self.entry_markers, self.exit_markers):
            m.setZValue(5)
            self.plot.addItem(m)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot_widget, 1)
        self._candles: Dict[str, List[Candle]] = {}
        self._positions: list = []
        self._currency = ""

    def set_result(self, candles_by_symbol: Dict[str, List[Candle]], positions: list, currency: str) -> None:
        self._candles, self._positions, self._currency = candles_by_symbol, positions, currency
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(list(candles_by_symbol))
        self.symbol_box.blockSignals(False)
        self._show_symbol(self.symbol_box.currentText())

    def _show_symbol(self, symbol: str) -> None:
        candles = self._candles.get(symbol) or []
        if not candles:
            self.close_curve.setData([], [])
            self.entry_markers.setData([])
            self.exit_markers.setData([])
            return
        ts = np.fromiter((c[0] for c in candles), dtype=np.float64, count=len(candles)) / 1000.0
        close = np.fromiter((c[4] for c in candles), dtype=np.float64, count=len(candles))
        self.close_curve.setData(ts, close)
        entries, exits = [], []
        for p in self._positions:
            if p.symbol != symbol:
                continue
            long_ = p.side == "long"
            entries.append({"pos": (p.opened_at / 1000.0, p.entry_price), "symbol": "t1" if long_ else "t",
                            "brush": pg.mkBrush(UP if long_ else DOWN),
                            "data": f"#{p.id} {p.side} entry {report.fmt_price(p.entry_price)}"})
            if p.closed_at is not None:
                net = p.realized_pnl - p.fees
                exits.append({"pos": (p.closed_at / 1000.0, p.exit_price), "symbol": "o",
                              "brush": pg.mkBrush(UP if net > 0 else DOWN),
                              "data": f"#{p.id} exit {report.fmt_price(p.exit_price)}: {p.close_reason}, net "
                                      f"{report.fmt_money(net, self._currency)}"})
        self.entry_markers.setData(entries)
        self.exit_markers.setData(exits)
        for m in (self.entry_markers, self.exit_markers):
            m.setToolTip("")
        self.info.setText(f"{len(candles):,} candles, {len(entries)} entries, {len(exits)} exits. Drag to pan, "
                          "wheel to zoom (time axis); the price axis follows the visible range.")
        self.plot.enableAutoRange()

    def marker_counts(self) -> tuple:
        return len(self.entry_markers.data), len(self.exit_markers.data)


# ----------------------------------------------------------------------------------------------
# the window
# ----------------------------------------------------------------------------------------------
class BacktestWindow(QWidget):
    """The backtest panel. ``services``: :class:`~cts_desktop.services.AppServices` (database for
    the results and the history cache, ``config_dir`` for presets, connections for downloads).

    :attr:`state` is one of ``idle``, ``loading``, ``running``, ``finished``, ``cancelled``,
    ``error``; :attr:`result` the last :class:`BacktestResult`. Signals: ``state_changed(str)``,
    ``progressed(done, total)`` (candles), ``finished(object)`` (the result).
    """

    state_changed = Signal(str)
    progressed = Signal(int, int)
    finished = Signal(object)

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.setObjectName("BacktestWindow")
        self.setWindowTitle("Backtest")
        self.state = "idle"
        self.result: Optional[BacktestResult] = None
        self.task: Optional[asyncio.Task] = None
        self._cancel = False
        self._csv: Optional[CandleSeries] = None
        self._dataset_cache: Dict[str, BacktestInputs] = {}
        self._run_info: Dict[str, Any] = {}
        self.presets = PresetStore(services.config_dir)

        left = self._build_settings()
        right = self._build_results()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self.resize(1320, 820)
        self._source_changed()
        self._strategy_changed()
        self._refresh_presets()
        if self.presets.error:
            self._set_state("idle", self.presets.error)

    # -- building ---------------------------------------------------------------------------------
    def _build_settings(self) -> QWidget:
        panel = QWidget()
        v = QVBoxLayout(panel)
        v.setContentsMargins(0, 0, 6, 0)

        # data
        data = QGroupBox("Data")
        dv = QVBoxLayout(data)
        self.source_box = QComboBox()
        self.source_box.setObjectName("SourceBox")
        self.source_box.addItem("Shipped dataset", SOURCE_DATASET)
        self.source_box.addItem("Candle CSV file", SOURCE_CSV)
        self.source_box.addItem("Exchange history (download, cached)", SOURCE_HISTORY)
        self.source_box.currentIndexChanged.connect(self._source_changed)
        dv.addWidget(self.source_box)
        self.source_stack = QStackedWidget()
        dv.addWidget(self.source_stack)

        ds = QWidget()
        f = QFormLayout(ds)
        f.setContentsMargins(0, 0, 0, 0)
        self.dataset_box = QComboBox()
        self.dataset_box.setObjectName("DatasetBox")
        for key, d in DATASETS.items():
            self.dataset_box.addItem(d.title, key)
        self.dataset_box.currentIndexChanged.connect(self._source_changed)
        f.addRow("Dataset:", self.dataset_box)
        self.source_stack.addWidget(ds)

        cs = QWidget()
        f = QFormLayout(cs)
        f.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.csv_path = QLineEdit()
        self.csv_path.setReadOnly(True)
        self.csv_path.setPlaceholderText("timestamp(ms),open,high,low,close,volume")
        self.csv_button = QPushButton("Import…")
        self.csv_button.setObjectName("ImportCsvButton")
        self.csv_button.clicked.connect(self._choose_csv)
        row.addWidget(self.csv_path, 1)
        row.addWidget(self.csv_button)
        f.addRow("File:", row)
        self.csv_symbol = QLineEdit("BTC/USDT")
        self.csv_symbol.setToolTip("Unified symbol of the file's market, BASE/QUOTE (money is in QUOTE)")
        self.csv_symbol.textChanged.connect(self._update_cash_unit)
        f.addRow("Symbol:", self.csv_symbol)
        self.csv_type = QComboBox()
        self.csv_type.addItem("spot (long only)", "spot")
        self.csv_type.addItem("swap (linear perpetual, shorts allowed)", "swap")
        f.addRow("Market:", self.csv_type)
        self.csv_status = QLabel("No file imported.")
        self.csv_status.setObjectName("CsvStatus")
        self.csv_status.setWordWrap(True)
        self.csv_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow(self.csv_status)
        self.source_stack.addWidget(cs)

        hs = QWidget()
        f = QFormLayout(hs)
        f.setContentsMargins(0, 0, 0, 0)
        self.hist_conn = QComboBox()
        self.hist_conn.setObjectName("HistoryConnection")
        f.addRow("Connection:", self.hist_conn)
        self.hist_symbol = QLineEdit("BTC/USDT")
        self.hist_symbol.textChanged.connect(self._update_cash_unit)
        f.addRow("Symbol:", self.hist_symbol)
        self.hist_tf = QComboBox()
        self.hist_tf.addItems(list(TIMEFRAME_MS))
        self.hist_tf.setCurrentText("1h")
        f.addRow("Timeframe:", self.hist_tf)
        today = QDate.currentDate()
        self.hist_from = QDateEdit(today.addDays(-90))
        self.hist_to = QDateEdit(today)
        for d in (self.hist_from, self.hist_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.setToolTip("UTC dates; the end date is included")
        f.addRow("From (UTC):", self.hist_from)
        f.addRow("To (UTC):", self.hist_to)
        self.hist_status = QLabel("Candles are public data: no API key is used. Downloaded candles are kept in the "
                                  "database and not downloaded again.")
        self.hist_status.setObjectName("HistoryStatus")
        self.hist_status.setWordWrap(True)
        f.addRow(self.hist_status)
        self.source_stack.addWidget(hs)
        v.addWidget(data)

        # strategy
        st = QGroupBox("Strategy")
        sv = QVBoxLayout(st)
        self.strategy_box = QComboBox()
        self.strategy_box.setObjectName("StrategyBox")
        for name, cls in strategies.REGISTRY.items():
            self.strategy_box.addItem(cls.title or name, name)
        self.strategy_box.currentIndexChanged.connect(self._strategy_changed)
        sv.addWidget(self.strategy_box)
        self.strategy_desc = QLabel()
        self.strategy_desc.setWordWrap(True)
        self.strategy_desc.setStyleSheet(f"color:{FG};")
        sv.addWidget(self.strategy_desc)
        self.param_form = ParamForm()
        sv.addWidget(self.param_form)
        pr = QHBoxLayout()
        pr2 = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("PresetBox")
        self.preset_box.setToolTip(f"Named presets, kept in {self.presets.path}")
        self.preset_load = QPushButton("Load")
        self.preset_save = QPushButton("Save as…")
        self.preset_delete = QPushButton("Delete")
        self.preset_load.clicked.connect(lambda: self.load_preset(self.preset_box.currentText()))
        self.preset_save.clicked.connect(self._ask_save_preset)
        self.preset_delete.clicked.connect(self._delete_preset)
        pr.addWidget(QLabel("Preset:"))
        pr.addWidget(self.preset_box, 1)
        pr2.addStretch(1)
        pr2.addWidget(self.preset_load)
        pr2.addWidget(self.preset_save)
        pr2.addWidget(self.preset_delete)
        sv.addLayout(pr)
        sv.addLayout(pr2)
        v.addWidget(st)

        # account
        ac = QGroupBox("Account and costs")
        af = QFormLayout(ac)
        self.cash = QDoubleSpinBox()
        self.cash.setObjectName("CashBox")
        self.cash.setRange(1.0, 1e12)
        self.cash.setDecimals(2)
        self.cash.setValue(10_000.0)
        self.cash.setSingleStep(1000.0)
        self.cash.setGroupSeparatorShown(True)
        self.cash_label = QLabel("Starting cash:")
        af.addRow(self.cash_label, self.cash)
        self.fee = QDoubleSpinBox()
        self.fee.setObjectName("FeeBox")
        self.fee.setRange(0.0, 9.99)
        self.fee.setDecimals(3)
        self.fee.setSingleStep(0.01)
        self.fee.setValue(0.1)
        self.fee.setSuffix(" %")
        self.fee.setToolTip("Fee per fill, percent of the notional (taker and maker); 0.1 % = 0.001")
        af.addRow("Fee:", self.fee)
        self.slippage = QDoubleSpinBox()
        self.slippage.setObjectName("SlippageBox")
        self.slippage.setRange(0.0, 9.99)
        self.slippage.setDecimals(3)
        self.slippage.setSingleStep(0.01)
        self.slippage.setSuffix(" %")
        self.slippage.setToolTip("Market fills move against the trade by this much of the open price")
        af.addRow("Slippage:", self.slippage)
        self.max_position = QDoubleSpinBox()
        self.max_position.setRange(1.0, 100.0)
        self.max_position.setDecimals(0)
        self.max_position.setValue(100.0)
        self.max_position.setSuffix(" % of equity")
        self.max_position.setToolTip("Risk limit: the largest position notional (the strategy's size is applied first)")
        af.addRow("Max position:", self.max_position)
        self.form_error = QLabel()
        self.form_error.setObjectName("FormError")
        self.form_error.setStyleSheet(ERROR_STYLE)
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        af.addRow(self.form_error)
        v.addWidget(ac)
        v.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(panel)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)
        for box in (self.source_box, self.dataset_box, self.strategy_box, self.preset_box, self.hist_conn, self.csv_type):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        return scroll

    def _build_results(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(6, 0, 0, 0)
        bar = QHBoxLayout()
        self.run_button = QPushButton("Run backtest")
        self.run_button.setObjectName("RunBacktestButton")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelBacktestButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setObjectName("BacktestProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")
        self.export_csv_button = QPushButton("Export trades CSV…")
        self.export_csv_button.setObjectName("ExportTradesButton")
        self.export_html_button = QPushButton("Export HTML report…")
        self.export_html_button.setObjectName("ExportReportButton")
        self.export_csv_button.clicked.connect(self._choose_export_trades)
        self.export_html_button.clicked.connect(self._choose_export_report)
        for b in (self.export_csv_button, self.export_html_button):
            b.setEnabled(False)
        bar.addWidget(self.run_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.export_csv_button)
        bar.addWidget(self.export_html_button)
        v.addLayout(bar)
        self.state_label = QLabel("Choose the data and a strategy, then Run.")
        self.state_label.setObjectName("BacktestState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.state_label)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("BacktestTabs")
        summary = QWidget()
        sv = QVBoxLayout(summary)
        self.metrics_panel = MetricsPanel()
        sv.addWidget(self.metrics_panel)
        sv.addWidget(QLabel("By symbol"))
        self.by_symbol = _small_table(["Symbol"] + report.BREAKDOWN_COLUMNS, "BySymbolTable")
        sv.addWidget(self.by_symbol)
        sv.addWidget(QLabel("By strategy"))
        self.by_strategy = _small_table(["Strategy"] + report.BREAKDOWN_COLUMNS, "ByStrategyTable")
        sv.addWidget(self.by_strategy)
        note = QLabel("Money in the quote currency of the markets; fractions in percent; Sharpe and Sortino from "
                      "daily (UTC) returns, annualised with sqrt(365), risk-free rate 0. Fills at the next candle's "
                      "open, taker fee; stop-loss first when a candle touches both stop and target.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{FG};")
        sv.addWidget(note)
        sv.addStretch(1)
        self.tabs.addTab(summary, "Summary")

        self.curve_charts = CurveCharts()
        self.tabs.addTab(self.curve_charts, "Equity && drawdown")
        self.price_chart = PriceChart()
        self.tabs.addTab(self.price_chart, "Price && trades")

        self.trades_model = TradesModel(self)
        self.trades_proxy = QSortFilterProxyModel(self)
        self.trades_proxy.setSourceModel(self.trades_model)
        self.trades_proxy.setSortRole(SORT_ROLE)
        self.trades_view = QTableView()
        self.trades_view.setObjectName("TradesTable")
        self.trades_view.setModel(self.trades_proxy)
        self.trades_view.setSortingEnabled(True)
        self.trades_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.trades_view.verticalHeader().setVisible(False)
        self.trades_view.verticalHeader().setDefaultSectionSize(22)
        self.trades_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.trades_view.setAlternatingRowColors(True)
        self.trades_view.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.trades_view, "Trades")
        v.addWidget(self.tabs, 1)
        return box

    # -- settings reactions -----------------------------------------------------------------------
    def source(self) -> str:
        return self.source_box.currentData()

    def _source_changed(self, *_a) -> None:
        idx = {SOURCE_DATASET: 0, SOURCE_CSV: 1, SOURCE_HISTORY: 2}[self.source()]
        self.source_stack.setCurrentIndex(idx)
        for i in range(self.source_stack.count()):  # the stack takes the height of the page shown only
            pol = QSizePolicy.Policy.Preferred if i == idx else QSizePolicy.Policy.Ignored
            self.source_stack.widget(i).setSizePolicy(QSizePolicy.Policy.Preferred, pol)
        self.source_stack.updateGeometry()
        if self.source() == SOURCE_HISTORY:
            self._refresh_connections()
        self._update_cash_unit()

    def _refresh_connections(self) -> None:
        current = self.hist_conn.currentText()
        self.hist_conn.clear()
        for c in self.services.connections():
            if not c.is_paper_replay:
                self.hist_conn.addItem(c.name)
        if self.hist_conn.count() == 0:
            self.hist_conn.addItem("(no exchange connection: add one under Connections)")
            self.hist_conn.setEnabled(False)
        else:
            self.hist_conn.setEnabled(True)
            i = self.hist_conn.findText(current)
            if i >= 0:
                self.hist_conn.setCurrentIndex(i)

    def _update_cash_unit(self, *_a) -> None:
        src = self.source()
        if src == SOURCE_DATASET:
            d = DATASETS[self.dataset_box.currentData()]
            unit = "USD"
            tip = "US dollars" + (f", converted to {d.quote} at the first candle" if d.quote not in
                                  ("USD", "USDT", "USDC", "BUSD") else f" ({d.quote})")
        else:
            sym = (self.csv_symbol if src == SOURCE_CSV else self.hist_symbol).text().strip()
            unit = sym.split("/", 1)[1].split(":")[0] if "/" in sym else "quote"
            tip = f"In the quote currency of {sym or 'the symbol'}"
        self.cash.setSuffix(f" {unit}")
        self.cash.setToolTip(tip)

    def _strategy_changed(self, *_a) -> None:
        cls = strategies.get(self.strategy_box.currentData())
        self.strategy_desc.setText(cls.description)
        self.param_form.set_strategy(cls)

    def select_strategy(self, name: str) -> None:
        i = self.strategy_box.findData(name)
        if i < 0:
            raise KeyError(name)
        self.strategy_box.setCurrentIndex(i)

    def select_source(self, source: str, dataset: Optional[str] = None) -> None:
        self.source_box.setCurrentIndex(self.source_box.findData(source))
        if dataset is not None:
            self.dataset_box.setCurrentIndex(self.dataset_box.findData(dataset))

    # -- CSV import -------------------------------------------------------------------------------
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import candles", str(Path.home()),
                                              "Candle CSV (*.csv);;All files (*)")
        if path:
            self.import_csv(path)

    def import_csv(self, path) -> bool:
        """Load and check a candle file. On a problem the message (with line numbers) is shown,
        any earlier import is dropped and False is returned: nothing half-imported is ever used."""
        self._csv = None
        self.csv_path.setText(str(path))
        try:
            series = load_candles_csv(path)
        except CandleFileError as exc:
            self.csv_status.setStyleSheet(ERROR_STYLE)
            self.csv_status.setText(f"Not imported. {exc}")
            return False
        self._csv = series
        gaps = f", {series.gaps} gap(s): " + "; ".join(series.warnings[:3]) if series.gaps else ", no gaps"
        self.csv_status.setStyleSheet("")
        self.csv_status.setText(f"{len(series.candles):,} candles, {series.timeframe}, "
                                f"{report.fmt_time(series.start)} to {report.fmt_time(series.end)} UTC{gaps}")
        return True

    # -- presets ----------------------------------------------------------------------------------
    def _refresh_presets(self) -> None:
        self.preset_box.clear()
        self.preset_box.addItems(self.presets.names())
        has = self.preset_box.count() > 0
        self.preset_load.setEnabled(has)
        self.preset_delete.setEnabled(has)

    def current_preset(self) -> dict:
        return {"strategy": self.strategy_box.currentData(), "params": self.param_form.values(),
                "cash": self.cash.value(), "fee": self.fee.value() / 100.0,
                "slippage": self.slippage.value() / 100.0, "max_position": self.max_position.value() / 100.0}

    def save_preset(self, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a preset needs a name")
        self.presets.save(name, self.current_preset())
        self._refresh_presets()
        self.preset_box.setCurrentText(name)

    def load_preset(self, name: str) -> None:
        if not name:
            return
        p = self.presets.get(name)
        try:
            self.select_strategy(p.get("strategy", "ma_cross"))
        except KeyError:
            self._set_state(self.state, f"Preset {name!r}: unknown strategy {p.get('strategy')!r}")
            return
        self.param_form.set_values(p.get("params", {}))
        for box, key, scale in ((self.cash, "cash", 1.0), (self.fee, "fee", 100.0), (self.slippage, "slippage", 100.0),
                                (self.max_position, "max_position", 100.0)):
            if isinstance(p.get(key), (int, float)):
                box.setValue(float(p[key]) * scale)

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:", text=self.preset_box.currentText())
        if ok and name.strip():
            try:
                self.save_preset(name)
            except OSError as exc:
                QMessageBox.warning(self, "Save preset", f"Cannot write {self.presets.path}: {exc}")

    def _delete_preset(self) -> None:
        name = self.preset_box.currentText()
        if name:
            self.presets.delete(name)
            self._refresh_presets()

    # -- running ----------------------------------------------------------------------------------
    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.state_label.setText(text)
        colour = {"error": "#ff6b6b", "cancelled": "#f0b44c", "finished": ""}.get(state, "")
        self.state_label.setStyleSheet(f"color:{colour};" if colour else "")
        busy = state in ("loading", "running")
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        for w in (self.source_box, self.source_stack, self.strategy_box, self.param_form):
            w.setEnabled(not busy)
        self.state_changed.emit(state)

    def _form_failure(self, message: str) -> None:
        self.form_error.setText(message)
        self.form_error.show()

    def start(self) -> Optional[asyncio.Task]:
        """Validate the form and start the run on the loop; returns the task, or None when the
        form has an error (shown next to the field) or a run is going on."""
        if self.task is not None and not self.task.done():
            return None
        self.form_error.hide()
        try:
            strategy = self.param_form.build()
        except ParamError as exc:
            self._set_state("idle", f"Not started: {exc}")
            return None
        spec = {"source": self.source(), "strategy": strategy.name, "params": dict(strategy.p),
                "cash": self.cash.value(), "fee": self.fee.value() / 100.0, "slippage": self.slippage.value() / 100.0,
                "max_position": self.max_position.value() / 100.0}
        src = spec["source"]
        if src == SOURCE_DATASET:
            spec["dataset"] = self.dataset_box.currentData()
        elif src == SOURCE_CSV:
            sym = self.csv_symbol.text().strip()
            if self._csv is None:
                self._form_failure("Import a candle file first (Data > Import…).")
                self._set_state("idle", "Not started: no candle file imported.")
                return None
            if sym.count("/") != 1 or not all(sym.split(":")[0].split("/")):
                self._form_failure(f"Symbol must be a unified symbol like BTC/USDT, got {sym!r}")
                self._set_state("idle", "Not started: bad symbol.")
                return None
            spec.update(symbol=sym, market_type=self.csv_type.currentData())
        else:
            if not self.hist_conn.isEnabled():
                self._form_failure("No exchange connection is configured: add one under Connections first.")
                self._set_state("idle", "Not started: no exchange connection.")
                return None
            since, until = _utc_ms(self.hist_from.date()), _utc_ms(self.hist_to.date()) + 86_400_000
            if until <= since:
                self._form_failure("The end date is before the start date.")
                self._set_state("idle", "Not started: bad dates.")
                return None
            spec.update(connection=self.hist_conn.currentText(), symbol=self.hist_symbol.text().strip(),
                        timeframe=self.hist_tf.currentText(), since=since, until=until)
        self._cancel = False
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._set_state("loading", "Loading candles…")
        self.task = asyncio.ensure_future(self._run(spec, strategy))
        return self.task

    def cancel(self) -> None:
        """Ask the running backtest (or load/download) to stop; it stops within one slice."""
        if self.task is not None and not self.task.done():
            self._cancel = True
            self.state_label.setText("Cancelling…")

    def _cancelled(self) -> bool:
        return self._cancel

    async def _load(self, spec: dict) -> BacktestInputs:
        src = spec["source"]
        if src == SOURCE_DATASET:
            key = spec["dataset"]
            inputs = self._dataset_cache.get(key)
            if inputs is None:
                data_dir = getattr(self.services, "replay_data_dir", None)

                def load() -> BacktestInputs:
                    source = ReplaySource(get_dataset(key), data_dir)
                    return BacktestInputs(key, {s: v.candles for s, v in source.series.items()}, source.markets,
                                          source.timeframe_ms, source.quote_per_usd())

                inputs = await asyncio.get_running_loop().run_in_executor(None, load)
                self._dataset_cache[key] = inputs
            return inputs
        if src == SOURCE_CSV:
            sym = spec["symbol"]
            base, rest = sym.split("/", 1)
            quote = rest.split(":")[0]
            fee = spec["fee"]
            market = Market(sym, base, quote, spec["market_type"], 1e-8, 0.0, 0.0, 0.0, fee, fee)
            return BacktestInputs(self._csv.path.name, {sym: self._csv.candles}, {sym: market}, self._csv.timeframe_ms)
        from ..services.history import download_for_connection
        conn = self.services.connection(spec["connection"])

        def progress(done: int, total: int) -> None:
            self.progress.setValue(int(1000 * done / total) if total else 0)
            self.state_label.setText(f"Downloading {spec['symbol']} {spec['timeframe']} from {conn.exchange}: "
                                     f"{done:,} / ~{total:,} candles (cached ones are not downloaded again)…")

        candles, market = await download_for_connection(conn, spec["symbol"], spec["timeframe"], spec["since"],
                                                        spec["until"], progress, cancelled=self._cancelled)
        self.hist_status.setText(f"{len(candles):,} candles of {spec['symbol']} {spec['timeframe']} from "
                                 f"{conn.exchange}, {report.fmt_time(candles[0][0])} to "
                                 f"{report.fmt_time(candles[-1][0])} UTC (kept in the database).")
        return BacktestInputs(f"{conn.exchange} {spec['symbol']} {spec['timeframe']}", {spec["symbol"]: candles},
                              {spec["symbol"]: market}, TIMEFRAME_MS[spec["timeframe"]])

    async def _run(self, spec: dict, strategy) -> Optional[BacktestResult]:
        from ..exchange.errors import GatewayError
        from ..services.history import HistoryError
        from ..store.recorder import Recorder
        t0 = time.perf_counter()
        try:
            inputs = await self._load(spec)
            if self._cancel:
                raise BacktestCancelled("cancelled while loading")
            cash = spec["cash"] * inputs.cash_factor
            limits = RiskLimits(max_position_fraction=spec["max_position"], max_open_positions=3)
            recorder = Recorder(self.services.db, deferred=True)
            try:
                bt = Backtest(strategy, inputs.series, inputs.markets, timeframe_ms=inputs.timeframe_ms,
                              starting_balance=cash, fee=spec["fee"], slippage=spec["slippage"], limits=limits,
                              recorder=recorder, dataset=inputs.label)
                self._set_state("running", f"Running {strategy.title or strategy.name} on {inputs.label}…")
                total = bt.total

                def progress(done: int, total_: int) -> None:
                    self.progress.setValue(int(1000 * done / total_) if total_ else 0)
                    self.progressed.emit(done, total_)

                result = await bt.run_async(progress, self._cancelled)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, recorder.close)
        except BacktestCancelled:
            self.progress.setValue(0)
            self._set_state("cancelled", "Cancelled: no results were kept (the run is listed as cancelled).")
            return None
        except (CandleFileError, HistoryError, GatewayError, ValueError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            if isinstance(exc, HistoryError) and self._cancel:
                self._set_state("cancelled", f"Cancelled: {msg}. Candles downloaded so far are kept in the cache.")
            else:
                self._set_state("error", f"Error: {msg}")
            return None
        except Exception as exc:  # noqa: BLE001 - shown, logged, the window stays usable
            log.exception("backtest failed")
            self._set_state("error", f"Error: {type(exc).__name__}: {exc}")
            return None
        self.progress.setValue(1000)
        self._run_info = {"title": f"{strategy.title or strategy.name} on {inputs.label}", "params": dict(strategy.p),
                          "settings": {"data": inputs.label, "strategy": strategy.name,
                                       "starting cash": f"{report.fmt_money(cash, result.currency)}",
                                       "fee": report.fmt_pct(spec["fee"], 3), "slippage": report.fmt_pct(spec["slippage"], 3),
                                       "max position": report.fmt_pct(spec["max_position"], 0) + " of equity",
                                       "run id": result.run_id}}
        self.show_result(result)
        m = result.metrics
        text = (f"Finished: {total:,} candles in {time.perf_counter() - t0:.2f} s, {m.trades} trades, "
                f"total return {report.fmt_pct(m.total_return)} (run #{result.run_id}).")
        if result.strategy_error:
            self._set_state("error", f"The strategy failed during the run: {result.strategy_error}. " + text)
        else:
            self._set_state("finished", text)
        self.finished.emit(result)
        return result

    # -- results ----------------------------------------------------------------------------------
    def show_result(self, result: BacktestResult) -> None:
        self.result = result
        cur = result.currency
        m = result.metrics
        self.metrics_panel.set_metrics(m, cur)
        _fill_table(self.by_symbol, report.breakdown_rows(m.by_symbol, cur))
        _fill_table(self.by_strategy, report.breakdown_rows(m.by_strategy, cur))
        self.curve_charts.set_curve(result.curve, result.starting_balance, cur)
        self.price_chart.set_result(result.candles_by_symbol, result.positions, cur)
        self.trades_model.set_rows(trades_rows(result.positions), cur)
        self.trades_view.resizeColumnsToContents()
        for b in (self.export_csv_button, self.export_html_button):
            b.setEnabled(True)

    def _default_name(self, ext: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return str(Path.home() / f"backtest-{self._run_info.get('settings', {}).get('strategy', 'run')}-{stamp}.{ext}")

    def _choose_export_trades(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export trades", self._default_name("csv"), "CSV files (*.csv)")
        if path:
            self.export_trades(path)

    def _choose_export_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export report", self._default_name("html"), "HTML files (*.html)")
        if path:
            self.export_report(path)

    def export_trades(self, path) -> bool:
        """Write the last result's trades as CSV (see :func:`report.write_trades_csv`)."""
        if self.result is None:
            return False
        try:
            n = report.write_trades_csv(path, self.result.positions)
        except OSError as exc:
            self.state_label.setText(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.state_label.setText(f"{n:,} trades written to {path}")
        return True

    def export_report(self, path) -> bool:
        """Write the last result as a self-contained HTML report."""
        if self.result is None:
            return False
        try:
            report.write_html_report(path, self.result, self._run_info.get("title", "Backtest"),
                                     self._run_info.get("params"), settings=self._run_info.get("settings"))
        except OSError as exc:
            self.state_label.setText(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.state_label.setText(f"Report written to {path}")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.cancel()
        super().closeEvent(event)
