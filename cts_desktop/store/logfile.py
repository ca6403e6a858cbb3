"""The app's log file: where it is, its rotation, and the filter that keeps secrets out of it.

* Place: ``platformdirs.user_log_dir("cts-desktop")`` (Linux ``~/.local/state/cts-desktop/log``),
  or ``<data dir>/logs`` when ``--data-dir`` is given (a test or a portable install keeps
  everything in one folder, as the config does). File name :data:`LOG_FILENAME`.
* Rotation: at :data:`MAX_BYTES` (5 MB) the file becomes ``cts-desktop.log.1`` and so on; the
  newest :data:`BACKUPS` (5) old files are kept, so at most 30 MB.
* Level: INFO, DEBUG with ``--verbose``; GUI and headless runs and the subcommands alike.
* Secrets: the handler carries :class:`~cts_desktop.core.redaction.SecretRedactingFilter`,
  which replaces every secret value the app has loaded (the keyring's ``SecretStore`` remembers
  each value it reads or writes) by ``***`` in every record that reaches the file, whichever
  logger wrote it (ours, ccxt's, asyncio's), traceback and stack included.

A log file that cannot be opened (read-only disk, no permission) is not an error: the app runs
on, says why on stderr, and :func:`current_log_file` is None.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Optional

import platformdirs

from ..core.redaction import SecretRedactingFilter
from .paths import APP

LOG_FILENAME = "cts-desktop.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _AppFileHandler(logging.handlers.RotatingFileHandler):
    """The one log-file handler of the process (replaced, not duplicated, by a second set-up)."""


def log_dir(data_dir: Optional[str] = None) -> Path:
    """The folder of the log file: ``<data_dir>/logs`` when a data directory was given on the
    command line (``--data-dir``), else the user log directory."""
    if data_dir:
        return Path(data_dir).expanduser() / "logs"
    return Path(platformdirs.user_log_dir(APP))


def current_log_file() -> Optional[Path]:
    """The file the root logger writes to, or None when no log file is set up."""
    for h in logging.getLogger().handlers:
        if isinstance(h, _AppFileHandler):
            return Path(h.baseFilename)
    return None


def setup_log_file(data_dir: Optional[str] = None, *, verbose: bool = False) -> Optional[Path]:
    """Write the log to :func:`log_dir` ``(data_dir)`` / :data:`LOG_FILENAME` from now on, at
    INFO (DEBUG when ``verbose``), rotated at 5 MB x 5, secrets redacted. Returns the file's path,
    or None when it cannot be opened (the reason goes to stderr; the app runs on).

    Handlers already on the root logger (the console's, from ``logging.basicConfig``) keep the
    level the root logger had, so the console shows no more than before. Calling it again
    replaces the earlier file handler."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _AppFileHandler):
            root.removeHandler(h)
            h.close()
    path = log_dir(data_dir) / LOG_FILENAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _AppFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as exc:
        print(f"cts-desktop: warning: no log file ({path}: {exc.strerror or exc})", file=sys.stderr)
        return None
    file_level = logging.DEBUG if verbose else logging.INFO
    handler.setLevel(file_level)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretRedactingFilter())
    console_level = root.level
    for h in root.handlers:
        if h.level == logging.NOTSET:
            h.setLevel(console_level)
        # the console gets the same scrubbing as the file
        if not any(isinstance(f, SecretRedactingFilter) for f in h.filters):
            h.addFilter(SecretRedactingFilter())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > file_level:
        root.setLevel(file_level)
    return path
