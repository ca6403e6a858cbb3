"""Kill requests between processes: files in ``<data dir>/control/``.

``cts-desktop kill NAME|--all`` must reach an engine that runs in another process (a headless
run, usually on a server, often under a service manager). It writes a request file; every
process that runs engines on the same data dir polls the folder (a few times a second) and answers
the requests it can serve with an answer file. Files were chosen over a local socket because they
work the same on every OS (no Unix-socket path limits, no Windows named pipes), need no port, are
reachable by anyone who may write the data dir (which is the permission that matters: that user
can already read the trade database), and leave a trace when nobody answered.

* request: ``kill-<id>.request``: ``{"target": "<connection>" | "*", "action": "kill" | "resume",
  "symbol": "<symbol>" (resume), "at": ms}`` (``resume`` lifts a symbol paused after refused exits)
* answer:  ``kill-<id>.<pid>.answer``: ``{"pid": int, "lines": [str, ...]}``

Files are written atomically (temp file + ``os.replace``), so a reader never sees half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

CONTROL_DIR = "control"
ALL = "*"


def _write(path: Path, data: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ControlDir:
    """The control folder of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / CONTROL_DIR

    # -- the asking side (the CLI) ------------------------------------------------------------------
    def post_kill(self, target: str) -> str:
        """Ask for the kill switch on connection ``target`` (or :data:`ALL`); returns the request id."""
        return self.post(target)

    def post(self, target: str, action: str = "kill", **extra: Any) -> str:
        """Ask for ``action`` (``kill``, or ``resume`` with ``symbol``: lift a paused symbol) on
        connection ``target``; returns the request id (the file keeps the ``kill-`` prefix of every
        request, so older processes still see kill requests)."""
        rid = uuid.uuid4().hex[:12]
        _write(self.path / f"kill-{rid}.request", {"target": target, "action": action, **extra,
                                                   "at": int(time.time() * 1000)})
        return rid

    def answers(self, rid: str) -> List[Dict[str, Any]]:
        """The answers to request ``rid`` so far (one per process that served it)."""
        if not self.path.is_dir():
            return []
        return [_read(p) for p in sorted(self.path.glob(f"kill-{rid}.*.answer"))]

    def withdraw(self, rid: str) -> None:
        """Remove request ``rid`` and its answers."""
        for p in list(self.path.glob(f"kill-{rid}.*")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass  # another process removed it first: what was wanted

    # -- the serving side (a process that runs engines) ------------------------------------------
    def pending(self) -> List[Tuple[str, str]]:
        """``(request id, target)`` of every kill request in the folder, oldest first."""
        return [(rid, target) for rid, target, data in self.requests() if data.get("action", "kill") == "kill"]

    def requests(self) -> List[Tuple[str, str, Dict[str, Any]]]:
        """``(request id, target, the request)`` of every request in the folder, oldest first."""
        if not self.path.is_dir():
            return []
        out = []
        for p in sorted(self.path.glob("kill-*.request"), key=lambda q: q.stat().st_mtime if q.exists() else 0):
            data = _read(p)
            target = data.get("target")
            if isinstance(target, str):
                out.append((p.name[len("kill-"):-len(".request")], target, data))
        return out

    def answer(self, rid: str, lines: List[str]) -> None:
        """This process's answer to request ``rid``."""
        _write(self.path / f"kill-{rid}.{os.getpid()}.answer", {"pid": os.getpid(), "lines": list(lines)})
