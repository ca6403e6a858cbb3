"""The "Data" box of the backtest window: where the candles come from.

A shipped dataset, a candle CSV the user imports (checked whole by the backtests service: a bad
file is refused with its line-numbered problems and nothing of it is kept), or exchange history
through a configured connection (downloaded and cached by the service; the window never talks to
an exchange itself). :meth:`DataSourceBox.spec` turns the choice into the data part of a run's
spec, or raises :class:`FormError` saying what is missing.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Tuple

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDateEdit, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget)

from ...core.models import TIMEFRAME_MS
from ...services import backtests
from ...services import reports as report
from .palette import ERROR_STYLE

SOURCE_DATASET = "dataset"
SOURCE_CSV = "csv"
SOURCE_HISTORY = "history"
_PAGES = {SOURCE_DATASET: 0, SOURCE_CSV: 1, SOURCE_HISTORY: 2}


class FormError(Exception):
    """The form cannot start a run: ``message`` goes next to the fields, ``short`` into the state line."""

    def __init__(self, message: str, short: str):
        super().__init__(message)
        self.message, self.short = message, short


def utc_ms(d: QDate) -> int:
    """Midnight UTC of ``d``, in ms."""
    return int(datetime(d.year(), d.month(), d.day(), tzinfo=timezone.utc).timestamp() * 1000)


def _form_page() -> Tuple[QWidget, QFormLayout]:
    page = QWidget()
    f = QFormLayout(page)
    f.setContentsMargins(0, 0, 0, 0)
    return page, f


class DataSourceBox(QGroupBox):
    """Source choice and its page. ``changed`` fires when the money unit may have changed
    (:meth:`cash_unit`). ``csv`` is the imported candle file, or None."""

    changed = Signal()

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__("Data", parent)
        self.services = services
        self.csv: Optional[backtests.CandleSeries] = None
        self.datasets = {d.key: d for d in backtests.datasets()}
        dv = QVBoxLayout(self)
        self.source_box = QComboBox()
        self.source_box.setObjectName("SourceBox")
        self.source_box.addItem("Shipped dataset", SOURCE_DATASET)
        self.source_box.addItem("Candle CSV file", SOURCE_CSV)
        self.source_box.addItem("Exchange history (download, cached)", SOURCE_HISTORY)
        self.source_box.currentIndexChanged.connect(self.refresh)
        dv.addWidget(self.source_box)
        self.source_stack = QStackedWidget()
        dv.addWidget(self.source_stack)
        self.source_stack.addWidget(self._dataset_page())
        self.source_stack.addWidget(self._csv_page())
        self.source_stack.addWidget(self._history_page())

    # -- pages ------------------------------------------------------------------------------------
    def _dataset_page(self) -> QWidget:
        page, f = _form_page()
        self.dataset_box = QComboBox()
        self.dataset_box.setObjectName("DatasetBox")
        for d in self.datasets.values():
            self.dataset_box.addItem(d.title, d.key)
        self.dataset_box.currentIndexChanged.connect(self.refresh)
        # a non-editable QComboBox asks for its longest title as its minimum width, which made the
        # whole settings panel wider than its place and clipped its right edge (the import status)
        self.dataset_box.setMinimumWidth(160)
        f.addRow("Dataset:", self.dataset_box)
        return page

    def _csv_page(self) -> QWidget:
        page, f = _form_page()
        row = QHBoxLayout()
        self.csv_path = QLineEdit()
        self.csv_path.setReadOnly(True)
        self.csv_path.setPlaceholderText("CSV, .zip, .gz or Parquet: Binance, TradingView, Date/Open/High/Low/Close…")
        self.csv_button = QPushButton("Import…")
        self.csv_button.setObjectName("ImportCsvButton")
        self.csv_button.clicked.connect(self._choose_csv)
        row.addWidget(self.csv_path, 1)
        row.addWidget(self.csv_button)
        f.addRow("File:", row)
        self.csv_symbol = QLineEdit("BTC/USDT")
        self.csv_symbol.setToolTip("Unified symbol of the file's market, BASE/QUOTE (money is in QUOTE)")
        self.csv_symbol.textChanged.connect(self.changed)
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
        return page

    def _history_page(self) -> QWidget:
        page, f = _form_page()
        self.hist_conn = QComboBox()
        self.hist_conn.setObjectName("HistoryConnection")
        f.addRow("Connection:", self.hist_conn)
        self.hist_symbol = QLineEdit("BTC/USDT")
        self.hist_symbol.textChanged.connect(self.changed)
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
        return page

    # -- reactions --------------------------------------------------------------------------------
    def source(self) -> str:
        return self.source_box.currentData()

    def select(self, source: str, dataset: Optional[str] = None) -> None:
        self.source_box.setCurrentIndex(self.source_box.findData(source))
        if dataset is not None:
            self.dataset_box.setCurrentIndex(self.dataset_box.findData(dataset))

    def refresh(self, *_a) -> None:
        """Show the chosen source's page (and its current connections); the cash unit may change."""
        idx = _PAGES[self.source()]
        self.source_stack.setCurrentIndex(idx)
        for i in range(self.source_stack.count()):  # the stack takes the height of the page shown only
            pol = QSizePolicy.Policy.Preferred if i == idx else QSizePolicy.Policy.Ignored
            self.source_stack.widget(i).setSizePolicy(QSizePolicy.Policy.Preferred, pol)
        self.source_stack.updateGeometry()
        if self.source() == SOURCE_HISTORY:
            self.refresh_connections()
        self.changed.emit()

    def refresh_connections(self) -> None:
        current = self.hist_conn.currentText()
        self.hist_conn.clear()
        for c in self.services.connections():
            if not c.is_paper_replay:
                self.hist_conn.addItem(c.name)
        self.has_connections = self.hist_conn.count() > 0  # not isEnabled(): a busy window disables its form
        if self.hist_conn.count() == 0:
            self.hist_conn.addItem("(no exchange connection: add one under Connections)")
            self.hist_conn.setEnabled(False)
        else:
            self.hist_conn.setEnabled(True)
            i = self.hist_conn.findText(current)
            if i >= 0:
                self.hist_conn.setCurrentIndex(i)

    def cash_unit(self) -> Tuple[str, str]:
        """``(unit, tool tip)`` of the starting cash for the data chosen."""
        src = self.source()
        if src == SOURCE_DATASET:
            return "USD", self.datasets[self.dataset_box.currentData()].cash_note
        sym = (self.csv_symbol if src == SOURCE_CSV else self.hist_symbol).text().strip()
        unit = sym.split("/", 1)[1].split(":")[0] if "/" in sym else "quote"
        return unit, f"In the quote currency of {sym or 'the symbol'}"

    # -- CSV import -------------------------------------------------------------------------------
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import candles", str(Path.home()),
                                              "Candle files (*.csv *.txt *.zip *.gz *.parquet *.pq);;All files (*)")
        if path:
            self.import_csv(path)

    def import_csv(self, path) -> bool:
        """Load and check a candle file. On a problem the message (with line numbers) is shown,
        any earlier import is dropped and False is returned: nothing half-imported is ever used."""
        self.csv = None
        self.csv_path.setText(str(path))
        try:
            series = backtests.load_csv(path)
        except backtests.INPUT_ERRORS as exc:
            self.csv_status.setStyleSheet(ERROR_STYLE)
            self.csv_status.setText(f"Not imported. {backtests.error_message(exc)}")
            return False
        self.csv = series
        gaps = f", {series.gaps} gap(s): " + "; ".join(series.warnings[:3]) if series.gaps else ", no gaps"
        unit = f" ({series.unit_note})" if series.unit_note else ""
        self.csv_status.setStyleSheet("")
        self.csv_status.setText(f"{len(series.candles):,} candles, {series.timeframe}, "
                                f"{report.fmt_time(series.start)} to {report.fmt_time(series.end)} UTC{gaps}.\n"
                                f"Detected: {series.layout}{unit}.")
        return True

    # -- the data part of a run -------------------------------------------------------------------
    def spec(self) -> dict:
        """``{"source": ..., and what that source needs}``; raises :class:`FormError`."""
        src = self.source()
        if src == SOURCE_DATASET:
            return {"source": src, "dataset": self.dataset_box.currentData()}
        if src == SOURCE_CSV:
            sym = self.csv_symbol.text().strip()
            if self.csv is None:
                raise FormError("Import a candle file first (Data > Import…).", "no candle file imported.")
            try:
                backtests.check_symbol(sym)
            except backtests.BacktestInputError as exc:
                raise FormError(str(exc), "bad symbol.") from None
            return {"source": src, "symbol": sym, "market_type": self.csv_type.currentData()}
        if not getattr(self, "has_connections", False):
            raise FormError("No exchange connection is configured: add one under Connections first.",
                            "no exchange connection.")
        since, until = utc_ms(self.hist_from.date()), utc_ms(self.hist_to.date()) + 86_400_000
        try:
            backtests.check_span(since, until)
        except backtests.BacktestInputError as exc:
            raise FormError(str(exc), "bad dates.") from None
        return {"source": src, "connection": self.hist_conn.currentText(), "symbol": self.hist_symbol.text().strip(),
                "timeframe": self.hist_tf.currentText(), "since": since, "until": until}
