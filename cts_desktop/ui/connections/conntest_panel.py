"""The Test Connection box of the details panel: the button, progress and Cancel while a test
runs, and the last result (status, warnings, balances, capabilities, latency, clock offset, rate
limits, permissions, time, and an expandable request log). Running the test is
:class:`~.tester.ConnectionTester`; reading a result, :mod:`cts_desktop.services.connection_tests`."""
from __future__ import annotations

from typing import Any, Dict

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QToolButton

from ...services import connection_rules as rules
from ...services import connection_tests
from .base import DetailsSection


def _fmt_number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.8f}".rstrip("0").rstrip(".")
    return str(v)


class TestSection(DetailsSection):
    """Test Connection: the button, progress with the current stage, Cancel, and the last result
    (status, warnings, balances, capabilities, latency, clock offset, rate limits, permissions,
    time, and an expandable request log). Running the test is :meth:`ConnectionDetails.start_test`."""

    __test__ = False  # not a pytest class

    def __init__(self, parent=None):
        super().__init__("Test Connection", parent)
        # result lines take the section's width (a wrapped label kept at its hint width broke mid-date)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.test_button = QPushButton("Test Connection")
        self.test_button.setObjectName("TestConnectionButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelTestButton")
        self.cancel_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.setMinimumWidth(160)
        self.progress.setVisible(False)
        self.stage = QLabel()
        self.stage.setObjectName("Hint")
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress)
        row.addWidget(self.stage, 1)
        self.form.addRow(row)
        self.result = QLabel("Never tested.")
        self.result.setObjectName("TestStatus")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.addRow(self.result)
        self.danger = QLabel()
        self.danger.setObjectName("TestDanger")
        self.danger.setWordWrap(True)
        self.danger.setStyleSheet("QLabel { background: #6b1518; color: #ffffff; font-weight: 700; border: 2px solid "
                                  "#ff5a52; border-radius: 4px; padding: 8px; }")
        self.danger.setVisible(False)
        self.form.addRow(self.danger)
        self.warnings = QLabel()
        self.warnings.setObjectName("TestWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("QLabel { color: #f0b94a; }")
        self.form.addRow(self.warnings)
        self.facts: Dict[str, QLabel] = {}
        for key, title in (("tested_at", "Last test"), ("latency", "Latency"), ("clock", "Clock offset"),
                           ("balances", "Balances"), ("permissions", "Key permissions"),
                           ("capabilities", "Capabilities"), ("rate_limits", "Rate limits")):
            lbl = QLabel("–")
            lbl.setObjectName(f"test_{key}")
            lbl.setWordWrap(True)
            lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.facts[key] = lbl
            self.form.addRow(title, lbl)
        self.log_toggle = QToolButton()
        self.log_toggle.setObjectName("TestLogToggle")
        self.log_toggle.setCheckable(True)
        self.log_toggle.setText("▸ Request log")
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("TestLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMinimumHeight(150)
        self.log_view.setVisible(False)
        self.log_toggle.toggled.connect(self._toggle_log)
        self.form.addRow(self.log_toggle)
        self.form.addRow(self.log_view)

    def applies_to(self, conn):
        return not conn.is_paper_replay

    def _toggle_log(self, on: bool) -> None:
        self.log_view.setVisible(on)
        self.log_toggle.setText(("▾" if on else "▸") + self.log_toggle.text()[1:])

    def set_running(self, running: bool) -> None:
        self.test_button.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
            self.stage.setText("Starting…")

    def set_progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 100))
        self.stage.setText(stage + "…" if fraction < 1 else stage)

    def set_message(self, text: str, tone: str = "") -> None:
        colours = {"ok": "#3fd1bf", "error": "#ff7a76", "": "#aab3c5"}
        self.result.setStyleSheet(f"QLabel {{ color: {colours.get(tone, '#aab3c5')}; font-weight: 600; }}")
        self.result.setText(text)

    def load(self, conn):
        self.show_result(conn.last_test or {})

    def show_result(self, t: Dict[str, Any]) -> None:
        if not t:
            self.set_message("Never tested. Save the connection, then press Test Connection.")
            for lbl in self.facts.values():
                lbl.setText("–")
            self.danger.setVisible(False)
            self.warnings.setText("")
            self.log_view.setPlainText("")
            self.log_toggle.setText(("▾" if self.log_toggle.isChecked() else "▸") + " Request log")
            return
        ok = bool(t.get("ok"))
        verdict = "PASSED" if ok else f"FAILED ({t.get('error_kind') or 'error'})"
        self.set_message(f"{verdict}: {t.get('status', '')}", "ok" if ok else "error")
        f = self.facts
        f["tested_at"].setText(rules.fmt_time(t.get("tested_at")) or "–")
        lat, off = t.get("latency_ms"), t.get("clock_offset_ms")
        f["latency"].setText("–" if lat is None else f"{lat:.0f} ms round trip")
        f["clock"].setText("–" if off is None else f"{round(off):+d} ms (exchange minus this computer)")
        bal = t.get("balances") or {}
        f["balances"].setText("\n".join(f"{k}  {_fmt_number(v)}" for k, v in sorted(bal.items())) or
                              ("none (empty account)" if ok and t.get("permissions") is not None else "–"))
        perms = t.get("permissions")
        if isinstance(perms, dict):
            granted, denied = connection_tests.permissions(perms)
            f["permissions"].setText("granted: " + (", ".join(granted) or "none")
                                     + (f"\nnot granted: {', '.join(denied)}" if denied else ""))
        else:
            f["permissions"].setText("not exposed by this exchange" if ok else "–")
        caps = t.get("capabilities") or {}
        have, emulated, lack = connection_tests.capabilities(caps)
        f["capabilities"].setText("\n".join(x for x in (
            ", ".join(have), f"emulated: {', '.join(emulated)}" if emulated else "",
            f"missing: {', '.join(lack)}" if lack else "") if x) or "–")
        f["rate_limits"].setText(connection_tests.describe_rate_limits(t.get("rate_limits") or {}))
        warnings = list(t.get("warnings") or [])
        loud = connection_tests.danger_warnings(warnings, perms)
        self.danger.setText("⚠  " + "\n".join(loud) if loud else "")
        self.danger.setVisible(bool(loud))
        self.warnings.setText("\n".join("• " + w for w in warnings if w not in loud))
        log = t.get("log") or []
        self.log_view.setPlainText("\n".join(
            f"{rules.fmt_time(e.get('time'))[11:] if e.get('time') else ''}  {e.get('request', '?')}  ->  "
            f"{e.get('outcome', '?')}" + (f"  ({e['ms']:.0f} ms)" if isinstance(e.get("ms"), (int, float)) else "")
            for e in log if isinstance(e, dict)))
        self.log_toggle.setText(("▾" if self.log_toggle.isChecked() else "▸") + f" Request log ({len(log)} requests)")

    def apply(self, conn):
        pass
