"""The log file: place, rotation, levels, and no secret in it, ever.

The secret test loads a connection's credentials from a real keyring (run under
tests/keyring_session.sh) in a fresh process, so nothing but that load can have taught the
redaction registry the values; then it logs them at every level, through our loggers, ccxt's
logger and asyncio's, in arguments, f-strings, tracebacks and stacks, and reads the file.
"""
from __future__ import annotations

import argparse
import io
import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from cts_desktop.cli import connections as cli_connections
from cts_desktop.cli.main import main
from cts_desktop.store import logfile
from cts_desktop.store.secrets import SecretStore
from tests.keyring_marks import keyring_test

REPO = Path(__file__).resolve().parents[2]

_LOADER = textwrap.dedent("""
    import asyncio, logging, sys
    from pathlib import Path
    from cts_desktop.store.logfile import setup_log_file
    from cts_desktop.store.settings import SettingsStore
    from cts_desktop.services.connections import Keyring

    data_dir, config_dir, name = sys.argv[1:4]
    path = setup_log_file(data_dir, verbose=True)
    conn = SettingsStore(Path(config_dir)).load().get(name)
    creds = Keyring().stored(conn)          # the app's own load from the keyring
    assert set(creds) == {"apiKey", "secret"}, sorted(creds)
    key, secret = creds["apiKey"], creds["secret"]
    loggers = [logging.getLogger("cts_desktop.engine.live"), logging.getLogger("ccxt.base.exchange"),
               logging.getLogger("ccxt"), logging.getLogger("asyncio"), logging.getLogger()]
    for lg in loggers:
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
            lg.log(level, "MARK args key=%s secret=%s", key, secret)
            lg.log(level, f"MARK fstring headers {{'X-MBX-APIKEY': '{key}'}} body=x{secret}x")
        try:
            raise RuntimeError(f"MARK boom {secret} {key}")
        except RuntimeError:
            lg.exception("MARK traceback %s", key)
        lg.warning("MARK stack %s", secret, stack_info=True)
    print(path)
""")


def _cli(config: Path, *argv: str, stdin: str = "") -> tuple:
    parser = argparse.ArgumentParser()
    cli_connections.add_subparser(parser.add_subparsers(dest="cmd"))
    out = io.StringIO()
    code = cli_connections.run(parser.parse_args(["connections", *argv]), config_dir=config,
                               stdin=io.StringIO(stdin), stdout=out, stderr=out)
    return code, out.getvalue()


@keyring_test
def test_log_file_never_holds_a_loaded_secret(tmp_path):
    key, secret = f"CTSLOGKEY{uuid.uuid4().hex}", f"CTSLOGSECRET{uuid.uuid4().hex}"
    config = tmp_path / "config"
    name = f"Log scan {uuid.uuid4().hex[:6]}"
    code, text = _cli(config, "add", name, "--exchange", "binance", "--secrets-stdin",
                      stdin=f"apiKey={key}\nsecret={secret}\n")
    assert code == 0, text
    try:
        proc = subprocess.run([sys.executable, "-c", _LOADER, str(tmp_path), str(config), name],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
    finally:
        SecretStore.open().delete_connection(name)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "logs" / "cts-desktop.log"
    text = path.read_text(encoding="utf-8")
    # every record made it to the file: 5 loggers x (5 levels x 2 + traceback + stack)
    for what, n in (("MARK args", 25), ("MARK fstring", 25), ("MARK traceback", 5), ("MARK boom", 5), ("MARK stack", 5)):
        assert text.count(what) == n, what
    assert "Traceback (most recent call last)" in text and "Stack (most recent call last)" in text
    assert text.count("***") >= 5 * 12
    for value in (key, secret):
        assert value not in text
        assert value not in proc.stdout + proc.stderr  # the console, scrubbed the same way


def test_log_file_place_levels_and_rotation(tmp_path, monkeypatch):
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        path = logfile.setup_log_file(str(tmp_path))
        assert path == tmp_path / "logs" / logfile.LOG_FILENAME == logfile.current_log_file()
        handler = next(h for h in root.handlers if isinstance(h, logfile._AppFileHandler))
        assert handler.level == logging.INFO
        assert (handler.maxBytes, handler.backupCount) == (5 * 1024 * 1024, 5)
        logging.getLogger("cts_desktop.test").debug("not at INFO")
        logging.getLogger("cts_desktop.test").info("at INFO")
        handler.flush()
        text = path.read_text(encoding="utf-8")
        assert "at INFO" in text and "not at INFO" not in text
        # again, verbose: the handler is replaced (not added twice) and takes DEBUG
        logfile.setup_log_file(str(tmp_path), verbose=True)
        mine = [h for h in root.handlers if isinstance(h, logfile._AppFileHandler)]
        assert len(mine) == 1 and mine[0].level == logging.DEBUG
        # rotation: a small limit on the real handler rolls the file over into .1, .2 ...
        mine[0].maxBytes = 2000
        for i in range(200):
            logging.getLogger("cts_desktop.test").info("line %d %s", i, "x" * 50)
        names = sorted(p.name for p in (tmp_path / "logs").iterdir())
        assert names == ["cts-desktop.log", *(f"cts-desktop.log.{i}" for i in range(1, 6))]
    finally:
        for h in list(root.handlers):
            if isinstance(h, logfile._AppFileHandler):
                root.removeHandler(h)
                h.close()
        root.setLevel(before[0])
    # without --data-dir: the user log directory
    monkeypatch.setattr(logfile.platformdirs, "user_log_dir", lambda app: str(tmp_path / "state" / app))
    assert logfile.log_dir(None) == tmp_path / "state" / "cts-desktop"


def test_cli_run_writes_the_log_file(tmp_path):
    """A headless run through the real command line leaves its lines in <data dir>/logs."""
    root = logging.getLogger()
    level = root.level
    try:
        assert main(["--data-dir", str(tmp_path), "connections", "list"]) == 0
        path = logfile.current_log_file()
        assert path == tmp_path / "logs" / "cts-desktop.log" and path.exists()
    finally:
        for h in list(root.handlers):
            if isinstance(h, logfile._AppFileHandler):
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
