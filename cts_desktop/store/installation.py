"""Identities that make our clientOrderIds unique: one per installation, one per data dir.

* installation id: 6 random base36 characters in ``<config dir>/installation-id``, made at the
  first start and never changed;
* data-dir id: 4 random base36 characters in ``<data dir>/data-dir-id``, so two data dirs of one
  installation (two databases trading with one API key) never share an id either.

:func:`order_id_prefix` joins them into the prefix of every live clientOrderId,
``cts<installation 6><data dir 4>-`` (14 characters), followed by ``<run>-<seq>``: at most 36
characters of Binance's ``^[.A-Z:/a-z0-9_-]{1,36}$`` for runs and sequence numbers below 10^10.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Optional

from .db import StoreError

INSTALLATION_FILE = "installation-id"
DATA_DIR_FILE = "data-dir-id"
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ORDER_PREFIX_RE = re.compile(r"^cts[0-9a-z]{10}-$")
"""What :func:`order_id_prefix` returns."""


def _random_base36(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _read_or_make(path: Path, n: int) -> str:
    """The id of ``n`` base36 characters kept in ``path``, created (atomically: the first
    writer wins) when missing or malformed. Raises :class:`StoreError` when it cannot be written."""
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) == n and all(c in ALPHABET for c in text):
            return text
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: made below
    value = _random_base36(n)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(value + "\n", encoding="ascii")
        try:
            os.link(tmp, path)  # fails when another process made it first
        except FileExistsError:
            if _valid(path, n):
                tmp.unlink()
                return path.read_text(encoding="ascii").strip()
            os.replace(tmp, path)  # a malformed file: replaced
            return value
        tmp.unlink()
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    return value


def _valid(path: Path, n: int) -> bool:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return len(text) == n and all(c in ALPHABET for c in text)


def installation_id(config_dir: Path) -> str:
    """This installation's id (6 base36 characters), made at the first call."""
    return _read_or_make(Path(config_dir) / INSTALLATION_FILE, 6)


def data_dir_id(data_dir: Path) -> str:
    """This data dir's id (4 base36 characters), made at the first call."""
    return _read_or_make(Path(data_dir) / DATA_DIR_FILE, 4)


def order_id_prefix(data_dir: Path, config_dir: Optional[Path] = None) -> str:
    """``cts<installation id><data-dir id>-`` (module docstring). Without ``config_dir`` the
    installation id is kept in ``data_dir`` too. Raises :class:`StoreError`."""
    return f"cts{installation_id(config_dir if config_dir is not None else data_dir)}{data_dir_id(data_dir)}-"
