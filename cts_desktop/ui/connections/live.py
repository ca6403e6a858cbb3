"""The live switch of the details panel: back to paper at once; to live only past the gate of
:func:`cts_desktop.services.connection_rules.live_refusal` (a passing test made with the current
credentials) and the typed confirmation of :class:`~.dialogs.LiveConfirmDialog`, judged again
when the dialog is accepted."""
from __future__ import annotations

from typing import Dict, Optional

from ...services import connection_rules as rules
from ...services import connections as conn_service
from ...store.secrets import NoSecureKeyringError, SecretStoreError
from ...store.settings import ConnectionConfig, SettingsError
from .dialogs import LiveConfirmDialog

#: What to do next, after the gate's refusal (by ``LiveRefusal.kind``).
_HINTS = {"no-credentials": "; enter the API credentials and save, then press Test Connection",
          "untested": "; press Test Connection first", "failed": "; fix it and test again",
          "changed": "; press Test Connection again"}


def _sentence(message: str, tail: str = "") -> str:
    return message[:1].upper() + message[1:] + tail + "."


class LiveSwitch:
    """The Go live… / Back to paper button of ``details``; :attr:`dialog` is the open confirmation."""

    def __init__(self, details):
        self.details = details
        self.dialog: Optional[LiveConfirmDialog] = None

    def toggle(self) -> None:
        """Back to paper at once; to live only after a passing test with the current credentials
        and the typed confirmation (:class:`LiveConfirmDialog`)."""
        d = self.details
        if d.conn is None or d.conn.is_paper_replay:
            return
        if d.dirty:
            d.say_error("Save or revert your changes first.")
            return
        conn = d.services.connection(d.conn.name)
        if conn.live:
            self._set(conn, False)
            return
        try:
            secrets = d.keyring.stored(conn)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            d.say_error("Live trading refused: the credentials cannot be read: " + str(exc))
            return
        refusal = rules.live_refusal(conn, secrets)
        if refusal is not None:
            d.say_error(_sentence(refusal.message, _HINTS.get(refusal.kind, "")))
            return
        dlg = LiveConfirmDialog(conn, d)
        dlg.accepted.connect(lambda: self._confirmed(conn.name, dlg))
        dlg.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dlg
        dlg.open()

    def _confirmed(self, name: str, dlg: LiveConfirmDialog) -> None:
        d = self.details
        conn = d.services.connection(name)
        if not dlg.matches():
            d.say_error("Live trading NOT switched on: the typed name did not match the connection name.")
            return
        try:  # judged again: the credentials or the test may have changed while the dialog was open
            secrets = d.keyring.stored(conn)
            refusal = rules.live_refusal(conn, secrets)
        except (NoSecureKeyringError, SecretStoreError) as exc:
            d.say_error("Live trading refused: " + str(exc))
            return
        if refusal is not None:
            d.say_error(_sentence(refusal.message))
            return
        self._set(conn, True, secrets)

    def _set(self, conn: ConnectionConfig, live: bool, secrets: Optional[Dict[str, str]] = None) -> None:
        d = self.details
        try:  # switching on records the typed confirmation for these credentials (the engine checks it)
            new = conn_service.set_live(d.services.settings, conn.name, live, secrets=secrets, typed=conn.name)
        except SettingsError as exc:
            d.say_error(f"Not changed: {exc}")
            return
        d.load(new)
        running = d.services.engine_state(new.name) in rules.BUSY_STATES
        tail = " The running engine keeps its mode until it is restarted." if running else ""
        if live:
            d.say_ok(f"{new.name} is LIVE: real orders will be sent to {rules.venue(new)} when it runs.{tail}")
        else:
            d.say_ok(f"{new.name} is back to paper trading: no real orders.{tail}")
        d.saved.emit(new.name)
