"""Help (About, keyboard shortcuts), the first-run tour and the exports, on a real window.

With ``CTS_SHOTS=<folder>`` set, the tests also save 1280x720 pictures of what they show."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu

from cts_desktop.core import events as ev
from cts_desktop.services import exports
from cts_desktop.store.db import EventRec, OrderRec
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui import help as help_ui
from cts_desktop.ui import tour
from cts_desktop.ui.main_window import exporting

from .conftest import run

pytestmark = pytest.mark.gui
SHOTS = os.environ.get("CTS_SHOTS")


def shot(window, name: str, dialog=None) -> None:
    """Save the window at 1280x720, with ``dialog`` drawn where it stands over it (and a frame
    where the window manager would draw one), when CTS_SHOTS is set."""
    if not SHOTS:
        return
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QColor, QPainter

    window.resize(1280, 720)
    pic = window.grab()
    if dialog is not None:
        d = dialog.grab()
        at = dialog.mapToGlobal(QPoint(0, 0)) - window.mapToGlobal(QPoint(0, 0))
        x = min(max(at.x(), 0), pic.width() - d.width())
        y = min(max(at.y(), 0), pic.height() - d.height())
        painter = QPainter(pic)
        painter.drawPixmap(x, y, d)
        painter.setPen(QColor("#6b7690"))
        painter.drawRect(x - 1, y - 1, d.width() + 1, d.height() + 1)
        painter.end()
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    assert pic.save(str(Path(SHOTS) / f"{name}.png"))


def test_about_names_versions_folders_and_log_file(window, services, qtbot):
    dlg = help_ui.show_about(window)
    qtbot.waitExposed(dlg)
    rows = dict(help_ui.about_rows(services))
    assert list(rows) == ["CTS Desktop", "Python", "Qt", "PySide6", "ccxt", "Platform", "Data folder",
                          "Config folder", "Log file"]
    assert rows["Data folder"] == str(services.data_dir) and rows["Config folder"] == str(services.config_dir)
    assert rows["ccxt"][0].isdigit() and rows["Qt"][0] == "6"
    labels = " ".join(w.text() for w in dlg.findChildren(QLabel))
    for label, value in rows.items():
        assert label in labels and value in labels
    assert not dlg.isModal()
    shot(window, "about", dlg)
    dlg.close()


def test_shortcuts_table_is_generated_from_the_actions(window, qtbot):
    dlg = help_ui.show_shortcuts(window)
    qtbot.waitExposed(dlg)
    table = dlg.table
    shown = {(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())}
    native = QKeySequence.SequenceFormat.NativeText
    expected = {("F5", "Start"), ("F6", "Pause"), ("F7", "Resume"), ("F8", "Stop"), ("Ctrl+B", "Backtest..."),
                ("F1", "Keyboard shortcuts"), ("Ctrl+1", "Dashboard"), ("Ctrl+2", "Connections"), ("Ctrl+5", "Activity")}
    assert expected <= shown
    assert ("Ctrl+Q", "Quit") in shown
    # every menu action with a shortcut is in the table, with its own keys: it cannot drift
    for a in window.menuBar().findChildren(QAction):
        if not a.shortcut().isEmpty() and a.menu() is None:
            assert a.shortcut().toString(native) in {k for k, _t in shown}
    # a new action in a menu shows up at once
    extra = QAction("Extra thing", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+Y"))
    window.view_menu.addAction(extra)
    assert ("Ctrl+Shift+Y", "Extra thing", "View") in help_ui.shortcut_rows(window)
    window.view_menu.removeAction(extra)
    shot(window, "shortcuts", dlg)
    dlg.close()


def test_first_run_tour_steps_skip_flag_and_add_connection(window, services, qtbot):
    flag = services.config_dir / tour.TOUR_FLAG
    assert not flag.exists()
    window.resize(1280, 720)
    dlg = tour.maybe_show_tour(window)
    assert dlg is not None
    qtbot.waitExposed(dlg)
    assert not dlg.isModal()
    tabs_seen = []
    for i, (tab, title, _text) in enumerate(tour.STEPS):
        assert dlg.title.text() == title and dlg.counter.text() == f"Step {i + 1} of {len(tour.STEPS)}"
        if tab is not None:
            assert window.tabs.currentIndex() == tab
            tabs_seen.append(window.tabs.tabText(tab))
        shot(window, f"tour-{i + 1}", dlg)
        if i < len(tour.STEPS) - 1:
            assert not dlg.add_button.isVisible()
            qtbot.mouseClick(dlg.next_button, Qt.MouseButton.LeftButton)
    assert {"Dashboard", "Connections", "Live Trading", "Positions", "Activity"} <= set(tabs_seen)
    assert dlg.add_button.isVisible() and dlg.next_button.text() == "Finish"
    qtbot.mouseClick(dlg.back_button, Qt.MouseButton.LeftButton)
    assert dlg.step == len(tour.STEPS) - 2
    # Esc skips, and counts as seen: no tour at the next start
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5_000)
    assert flag.exists() and tour.maybe_show_tour(window) is None
    # Help > Tour brings it back; its last step opens the Connections tab's Add dialog
    window.findChild(QAction, "action_tour").trigger()
    again = window.tour
    assert again is not dlg and again.isVisible() and again.step == 0
    with qtbot.waitSignal(again.finished_tour, timeout=5_000) as sig:
        again.show_step(len(tour.STEPS) - 1)
        qtbot.mouseClick(again.add_button, Qt.MouseButton.LeftButton)
    assert sig.args == [False]
    add = window.connections_tab.dialog
    qtbot.waitUntil(lambda: add is not None and add.isVisible(), timeout=10_000)
    assert window.tabs.currentWidget() is window.connections_tab and not again.isVisible()
    add.reject()


def test_skip_button_closes_the_tour(window, services, qtbot):
    dlg = tour.show_tour(window)
    with qtbot.waitSignal(dlg.finished_tour, timeout=5_000) as sig:
        qtbot.mouseClick(dlg.skip_button, Qt.MouseButton.LeftButton)
    assert sig.args == [True] and not dlg.isVisible() and tour.tour_seen(services.config_dir)


def test_exports_from_the_window_write_every_row_of_the_connection(window, services, fast_paper, qtbot, tmp_path):
    run(qtbot, services.start_engine(fast_paper))
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=60_000)
    window.bridge.flush()
    # File > Export: one item per table plus the tax export; right-click menus on the four tables
    export_menu = window.findChild(QMenu, "ExportMenu")
    names = [a.objectName() for a in export_menu.actions() if not a.isSeparator()]
    assert names == [f"action_export_{k}" for k in exports.KINDS] + ["action_export_tax"]
    pt = window.positions_tab
    for table, kind in ((pt.open_table, "positions"), (pt.closed_table, "positions"), (pt.orders_table, "orders"),
                        (window.activity_tab.table, "activity")):
        assert table.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
        menu = exporting.table_menu(window, table, kind)
        assert menu.actions()[0].text().startswith("Export to CSV…")
        menu.deleteLater()
    # the files hold every row the database keeps, not the rows on screen
    for kind, model in (("orders", OrderRec), ("activity", EventRec)):
        path = tmp_path / f"{kind}.csv"
        n = run(qtbot, exporting.export_kind(window, kind, path))
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert n == len(rows) - 1 == model.select().where(model.connection == BUILTIN_PAPER_NAME).count() > 0
        assert "Exported" in window.statusBar().currentMessage()
    # tax export of a paper connection: refused with the service's words, nothing written
    assert run(qtbot, exporting.export_tax(window, tmp_path / "tax.csv")) is None
    assert "never exported for tax" in window.banner.text.text() and not (tmp_path / "tax.csv").exists()
    window.tabs.setCurrentWidget(pt)
    menu = exporting.table_menu(window, pt.closed_table, "positions")
    if SHOTS:
        window.resize(1280, 720)
        menu.popup(pt.closed_table.viewport().mapToGlobal(pt.closed_table.viewport().rect().center()))
        qtbot.waitExposed(menu)
        shot(window, "export-context-menu", menu)
    menu.close()


def test_a_large_export_runs_off_the_loop_the_window_keeps_ticking_and_the_file_is_complete(window, qtbot, tmp_path):
    """100,000 activity rows exported from the window: a 10 ms QTimer keeps firing while the file
    is written (the export runs on the service's thread), a busy bar shows meanwhile, and the file
    holds every row in order."""
    n_rows = 100_000
    with EventRec._meta.database.atomic():
        for i in range(0, n_rows, 5000):
            EventRec.insert_many([{"connection": BUILTIN_PAPER_NAME, "timestamp": 1_640_995_200_000 + j * 1000,
                                   "wall_time": 1_700_000_000.0 + j, "category": "fill", "level": "info",
                                   "message": f"line {j}: filled buy 0.1 BTC/USD, \"quoted\""}
                                  for j in range(i, i + 5000)]).execute()
    window.load_history()  # the newest lines on screen, as after a start
    window.tabs.setCurrentWidget(window.activity_tab)
    ticks_while_exporting = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer(window)
    timer.setInterval(10)

    def tick() -> None:
        if not task.done():
            ticks_while_exporting.append(clock.elapsed())
    timer.timeout.connect(tick)
    path = tmp_path / "activity.csv"
    task = exporting.export_kind(window, "activity", path)
    timer.start()
    busy = window.findChild(exporting.ExportBusy)
    assert busy is not None and busy.isVisible() and "Exporting activity log" in busy.label.text()
    if SHOTS:
        shot(window, "export-busy")
    n = run(qtbot, task, timeout=120_000)
    timer.stop()
    # the loop ran all along: the timer fired again and again while the rows were written
    assert len(ticks_while_exporting) >= 5, ticks_while_exporting
    assert not busy.isVisible()
    assert n == n_rows and f"Exported {n_rows:,} activity log rows" in window.statusBar().currentMessage()
    if SHOTS:
        shot(window, "export-done")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(exports.columns("activity")) and len(rows) == n_rows + 1
    assert [r[6] for r in (rows[1], rows[-1])] == ['line 0: filled buy 0.1 BTC/USD, "quoted"',
                                                   f'line {n_rows - 1}: filled buy 0.1 BTC/USD, "quoted"']
    assert [int(r[2]) for r in rows[1:]] == [1_640_995_200_000 + j * 1000 for j in range(n_rows)]
