"""The desktop app's start-up problems are shown in a dialog (a double-click start has no terminal),
then it exits 2; a damaged database is offered a fresh start with the damaged file kept aside."""
from __future__ import annotations

import argparse
import hashlib
import sqlite3

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from cts_desktop.cli import exit_codes
from cts_desktop.cli.main import main
from cts_desktop.cli.startup import open_services
from cts_desktop.store.db import DB_FILENAME, open_database


class ModalAnswerer:
    """Waits (with a deadline) for the app's modal dialog, records it, then presses a button of it.

    Runs from a QTimer inside the dialog's own event loop, so the code under test is driven exactly
    as a person would: nothing of ours is replaced."""

    def __init__(self, button: str = "", deadline_ms: int = 20_000):
        self.button, self.seen = button, []
        self.left = deadline_ms // 50
        self.timer = QTimer()
        self.timer.timeout.connect(self._poll)
        self.timer.start(50)

    def _poll(self) -> None:
        self.left -= 1
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.isVisible():
            self.seen.append({"title": box.windowTitle(), "text": box.text(), "info": box.informativeText(),
                              "buttons": [b.text() for b in box.buttons()], "name": box.objectName()})
            target = next((b for b in box.buttons() if b.objectName() == self.button), None)
            (target.click if target is not None else box.reject)()
            self.timer.stop()
        elif self.left <= 0:
            self.timer.stop()


def test_an_unusable_data_dir_is_shown_in_a_dialog_then_exit_2(qapp, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    answer = ModalAnswerer()
    code = main(["--data-dir", str(blocker)])
    assert code == exit_codes.BAD_INPUT
    assert len(answer.seen) == 1, "no dialog was shown"
    box = answer.seen[0]
    assert box["title"] == "CTS Desktop cannot start" and box["buttons"] == ["Quit"]
    assert str(blocker) in box["info"] and "Not a directory" in box["info"]
    assert "Not a directory" in capsys.readouterr().err  # and on stderr, for a terminal start


def damaged(tmp_path):
    data = tmp_path / "data"
    db = open_database(data)
    db.execute_sql("create table filler (x text)")
    for i in range(400):
        db.execute_sql("insert into filler values (?)", (f"row {i} " * 20,))
    db.close()
    path = data / DB_FILENAME
    con = sqlite3.connect(path)
    size = con.execute("pragma page_size").fetchone()[0]
    root = con.execute("select rootpage from sqlite_master where name = 'filler'").fetchone()[0]
    con.close()
    with open(path, "r+b") as fh:  # scribble over the cells of the table's root (interior) page
        fh.seek((root - 1) * size)
        page = fh.read(size)
        assert page[0] == 0x05
        fh.seek((root - 1) * size + int.from_bytes(page[5:7], "big"))
        fh.write(b"\xa5" * 64)
    return data, path


def args(**kw) -> argparse.Namespace:
    return argparse.Namespace(headless=False, fresh_database=False, **kw)


def test_a_damaged_database_offers_a_fresh_one_and_keeps_the_file(qapp, tmp_path):
    data, path = damaged(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    answer = ModalAnswerer("freshDatabase")
    services = open_services(args(), data, tmp_path / "config", report=lambda line: None)
    try:
        assert not isinstance(services, int)
        box = answer.seen[0]
        assert box["text"] == "The trade database is damaged. Nothing was written to it."
        assert box["buttons"][0].startswith("Start a fresh database (the damaged file is kept as cts-desktop.sqlite3.damaged-")
        assert box["buttons"][1] == "Quit" and str(path) in box["info"]
        aside = [p for p in data.iterdir() if p.name.startswith(DB_FILENAME + ".damaged-")]
        assert len(aside) == 1 and hashlib.sha256(aside[0].read_bytes()).hexdigest() == before
        assert services.latest_run("x") is None  # a fresh, working database
    finally:
        services.close()


def test_quit_at_the_damaged_database_question_leaves_everything_as_it_was(qapp, tmp_path):
    data, path = damaged(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = []
    answer = ModalAnswerer("quit")
    assert open_services(args(), data, tmp_path / "config", report=lines.append) == exit_codes.BAD_INPUT
    assert answer.seen and hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not [p for p in data.iterdir() if ".damaged-" in p.name]
    assert "--fresh-database" in lines[0]
