"""Test Connection for the details panel: the test of the shown connection (pending edits saved
first) runs as a cancellable task on the qasync loop, so the window stays responsive; its result
is kept with the connection only if the connection did not change meanwhile. What the test does
and how it is kept is :mod:`cts_desktop.services.connection_tests`."""
from __future__ import annotations

import asyncio
import copy
import logging
from typing import Dict, Optional

from ...services import connection_rules as rules
from ...services import connection_tests
from ...store.secrets import NoSecureKeyringError, SecretStoreError
from ...store.settings import ConnectionConfig, SettingsError
from .base import describe_connection

log = logging.getLogger(__name__)


class ConnectionTester:
    """The running test of ``details``: :attr:`task` (an ``asyncio`` task, None before the first),
    :attr:`name` (the connection under test while it runs) and :attr:`timeout` (seconds)."""

    def __init__(self, details):
        self.details = details
        self.timeout = 15.0
        self.task: Optional[asyncio.Future] = None
        self.name: Optional[str] = None

    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def show_state(self, shown: str) -> None:
        """Show in the test box whether connection ``shown`` is being tested (the button is off
        while another connection's test runs)."""
        section = self.details.test_section
        running = self.running()
        section.set_running(running and self.name == shown)
        if running and self.name != shown:
            section.test_button.setEnabled(False)

    def start(self) -> Optional[asyncio.Future]:
        """Run the connection test of the shown connection (saving pending edits first) as a task
        on the loop; the window stays responsive. Returns the task (None when refused)."""
        d = self.details
        if d.conn is None or d.conn.is_paper_replay:
            return None
        if self.running():
            d.say_error(f"A test of {self.name!r} is already running.")
            return None
        if d.dirty and not d.save():
            return None
        conn = copy.deepcopy(d.services.connection(d.conn.name))
        try:
            secrets = d.keyring.stored(conn)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            d.say_error("Cannot test with the stored credentials: " + str(exc))
            return None
        self.name = conn.name
        d.test_section.set_running(True)
        d.test_section.set_message(f"Testing {rules.venue(conn)}…")
        d.status.setText("")
        self.task = asyncio.ensure_future(self._run(conn, secrets))
        return self.task

    def cancel(self) -> None:
        if self.running():
            self.task.cancel()

    def _shown(self, conn: ConnectionConfig) -> bool:
        return self.details.conn is not None and self.details.conn.name == conn.name

    async def _run(self, conn: ConnectionConfig, secrets: Dict[str, str]) -> None:
        d = self.details
        section = d.test_section

        def progress(stage: str, fraction: float) -> None:
            if self._shown(conn):
                section.set_progress(stage, fraction)

        try:
            progress("Loading the exchange library", 0.02)
            result = await connection_tests.run(conn, secrets, timeout=self.timeout, on_progress=progress)
        except asyncio.CancelledError:
            if self._shown(conn):
                section.set_running(False)
                section.stage.setText("")
                section.show_result(d.services.connection(conn.name).last_test or {})
                section.set_message("Test cancelled: nothing was changed.", "")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the test: reported, nothing stored
            text = rules.scrub(f"{type(exc).__name__}: {exc}", secrets.values())
            log.warning("connection test of %s crashed: %s", conn.name, text)
            if self._shown(conn):
                section.set_running(False)
                section.set_message(f"The connection test crashed: {text}", "error")
            return
        finally:
            if self.task is asyncio.current_task():
                self.name = None
        record = rules.test_record(conn, result, secrets)
        stored = connection_tests.tested_connection(d.services.settings, conn)
        if stored is not None:
            try:
                connection_tests.keep(d.services.settings, stored, record)
            except SettingsError as exc:
                d.say_error(f"The test result could not be saved: {exc}")
        if self._shown(conn):
            section.set_running(False)
            section.stage.setText("")
            section.show_result(record)
            if stored is not None and d.conn is not None and not d.dirty:
                d.conn = stored
                d.subtitle.setText(describe_connection(stored))
            if stored is None:
                section.set_message(section.result.text() + "  (Not kept: the connection changed during the test.)",
                                    "ok" if result.ok else "error")
        d.test_finished.emit(conn.name)
