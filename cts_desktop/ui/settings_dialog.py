"""Tools > Settings... (Ctrl+,): the app's preferences, a form generated from
:data:`cts_desktop.services.app_settings.FIELDS` (label, unit, help text of each).

The dialog only draws and collects: the values are checked and saved by
``services.app_settings.update`` (all or nothing), whose refusal names the field; the dialog
shows that message and puts the focus on the field. :func:`apply_app_settings` makes a saved
change take effect in a window at once (theme, UI refresh interval); the notification switches
are read by the notifier for every event, the polling interval by the engines.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from ..services.app_settings import FIELDS, AppSettingsError, Field
from ..store.settings import SettingsError
from .theme import apply_theme, is_dark
from .widgets import repolish

log = logging.getLogger(__name__)

THEME_TITLES = {"dark": "Dark", "light": "Light", "system": "Follow the system"}


def _editor(f: Field) -> QWidget:
    """An editor for ``f``. Number ranges are wide on purpose: the service judges the value and
    says why, in the same words as the command line."""
    if f.kind == "bool":
        return QCheckBox(f.label)
    if f.kind == "choice":
        combo = QComboBox()
        for c in f.choices:
            combo.addItem(THEME_TITLES.get(c, c), c)
        return combo
    if f.kind == "folder":
        return QLineEdit()
    spin: QWidget
    if f.kind == "int":
        spin = QSpinBox()
        spin.setRange(0, 1_000_000)
    else:
        spin = QDoubleSpinBox()
        spin.setDecimals(2)
        spin.setRange(0.0, 1e13)
        spin.setGroupSeparatorShown(True)
    spin.setMinimumWidth(150)
    if f.zero_means:
        spin.setSpecialValueText(f.zero_means)
    return spin


class SettingsDialog(QDialog):
    """``SettingsDialog(services, parent)``: the form; :attr:`editors` maps keys to widgets,
    :attr:`message` shows the outcome of the last Apply/OK."""

    def __init__(self, services, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.setObjectName("SettingsDialog")
        self.setWindowTitle("Settings - CTS Desktop")
        self.editors: Dict[str, QWidget] = {}
        self._labels: Dict[str, QLabel] = {}

        body = QWidget()
        body.setObjectName("SettingsBody")
        col = QVBoxLayout(body)
        col.setContentsMargins(4, 0, 12, 4)
        groups: Dict[str, QGridLayout] = {}
        for f in FIELDS:
            grid = groups.get(f.group)
            if grid is None:
                box = QGroupBox(f.group)
                grid = QGridLayout(box)
                grid.setHorizontalSpacing(10)
                grid.setVerticalSpacing(2)
                grid.setColumnStretch(1, 1)
                groups[f.group] = grid
                col.addWidget(box)
            self._add_row(grid, f)
        col.addStretch(1)
        width = max(label.sizeHint().width() for label in self._labels.values())
        for label in self._labels.values():  # one label column across the groups
            label.setMinimumWidth(width)
        scroll = QScrollArea()
        scroll.setObjectName("SettingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)

        self.message = QLabel()
        self.message.setObjectName("SaveStatus")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        where = QLabel(f"Saved in {services.app_settings.path}")
        where.setObjectName("Hint")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        lay = QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.message)
        lay.addWidget(where)
        lay.addWidget(self.buttons)
        self.resize(760, 640)
        self.load(services.app_settings.values)

    def _add_row(self, grid: QGridLayout, f: Field) -> None:
        row = grid.rowCount()
        editor = _editor(f)
        editor.setObjectName(f"setting_{f.key}")
        editor.setToolTip(f.help)
        self.editors[f.key] = editor
        if f.kind == "bool":
            grid.addWidget(editor, row, 0, 1, 3)
        else:
            label = QLabel(f.label)
            label.setObjectName("FieldLabel")
            label.setBuddy(editor)
            self._labels[f.key] = label
            grid.addWidget(label, row, 0)
            if f.kind == "folder":
                line = QHBoxLayout()
                line.addWidget(editor, 1)
                browse = QPushButton("Browse...")
                browse.setObjectName("setting_database_dir_browse")
                browse.clicked.connect(lambda _c=False, e=editor: self._browse(e))
                line.addWidget(browse)
                grid.addLayout(line, row, 1, 1, 2)
                editor.setPlaceholderText(f"default: {self.services.data_dir}" if f.key == "database_dir" else "")
            else:
                line = QHBoxLayout()
                line.setSpacing(8)
                line.addWidget(editor)
                unit = QLabel(f.unit)
                unit.setObjectName("Unit")
                line.addWidget(unit)
                line.addStretch(1)
                grid.addLayout(line, row, 1, 1, 2)
        hint = QLabel(f.help)  # each help text says when the value takes effect
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        grid.addWidget(hint, row + 1, 0 if f.kind == "bool" else 1, 1, 3 if f.kind == "bool" else 2)
        grid.setRowMinimumHeight(row + 2, 8)

    def _browse(self, editor: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Database folder", editor.text() or str(self.services.data_dir))
        if folder:
            editor.setText(folder)

    # -- values ---------------------------------------------------------------------------------
    def load(self, values: Dict[str, Any]) -> None:
        """Show ``values`` (key -> value) in the editors."""
        for key, editor in self.editors.items():
            value = values[key]
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(editor.findData(value), 0))
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value or ""))
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.setValue(value)
        self._mark(None)

    def values(self) -> Dict[str, Any]:
        """The editors' values (key -> value), unchecked."""
        out: Dict[str, Any] = {}
        for key, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                out[key] = editor.isChecked()
            elif isinstance(editor, QComboBox):
                out[key] = editor.currentData()
            elif isinstance(editor, QLineEdit):
                out[key] = editor.text()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                out[key] = editor.value()
        return out

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("error", error)
        repolish(self.message)

    def _mark(self, key: Optional[str]) -> None:
        for k, editor in self.editors.items():
            editor.setProperty("invalid", k == key)
            repolish(editor)

    def apply(self) -> bool:
        """Check and save the form; returns False (message shown, field focused) when refused."""
        settings = self.services.app_settings
        try:
            changed: List[str] = settings.update(self.values())
        except AppSettingsError as exc:
            self._mark(exc.field)
            editor = self.editors.get(exc.field)
            if editor is not None:
                editor.setFocus()
            self._say(f"Not saved: {exc}", error=True)
            return False
        except SettingsError as exc:
            self._say(f"Not saved: {exc}", error=True)
            return False
        self._mark(None)
        self.load(settings.values)  # the stored form (e.g. a folder path made absolute)
        later = settings.needs_restart(changed)
        if not changed:
            self._say("No changes.")
        elif later:
            self._say(f"Saved. {', '.join(later)}: takes effect at the next start; the rest applies now.")
        else:
            self._say("Saved; applied now.")
        return True

    def _ok(self) -> None:
        if self.apply():
            self.accept()

    def restore_defaults(self) -> None:
        """Put the defaults in the form (saved by Apply or OK)."""
        from ..services.app_settings import DEFAULTS

        self.load(DEFAULTS)
        self._say("Defaults shown; press Apply or OK to save them.")


def open_settings(win) -> SettingsDialog:
    """Tools > Settings...: one non-modal dialog per window, raised when already open."""
    dlg = getattr(win, "_settings_dialog", None)
    if dlg is None:
        dlg = SettingsDialog(win.services, win)
        win._settings_dialog = dlg
    else:
        dlg.load(win.services.app_settings.values)
        dlg.message.clear()
    dlg.show()
    dlg.raise_()
    dlg.activateWindow()
    return dlg


def follow_theme(win) -> None:
    """Recolour what ``win`` draws in code (the equity chart) for the theme now applied."""
    win.live_tab.chart.set_dark(is_dark())
    win.market_tab.set_dark(is_dark())
    win.live_tab.progress.update()


def apply_app_settings(win, values: Dict[str, Any], changed: List[str]) -> None:
    """Make a saved change take effect in ``win`` at once (theme, UI refresh interval)."""
    if "theme" in changed:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, values["theme"])  # its listeners call follow_theme
    if "ui_refresh_ms" in changed:
        win.bridge.set_interval(values["ui_refresh_ms"])
    if any(k.startswith("notify_") for k in changed):
        win.statusBar().showMessage("Notification settings saved; they apply to the next events.", 5000)
