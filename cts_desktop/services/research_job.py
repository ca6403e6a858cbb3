"""A study (or the best trial's re-run) in a child process, for a GUI.

Why a process and not a thread: :func:`~cts_desktop.store.db.open_database` binds the models'
database globally, so a study opening the database on a thread would move the app's own queries
(live engines included) to another connection mid-flight; and a study's trials would compete with
the GUI for the interpreter. The child is started with ``spawn`` (safe under a GUI's threads),
opens the database itself, and sends events back on a queue:

* ``("progress", done, total, eta_s)``: after each chunk of trials (``eta_s`` None at first);
* ``("done", result)``: the :class:`~.optimize.StudyResult`, the ``WalkForwardResult`` or the
  re-run's ``BacktestResult``;
* ``("error", message, field)``: the service's message for bad input (``field`` names the setting)
  or ``"TypeName: text"`` for anything unexpected (also logged by the child).

:meth:`ResearchJob.cancel` sets an event the study checks between chunks: it ends as ``cancelled``
with the trials that finished (see :func:`~.optimize.run_study`).
"""
from __future__ import annotations

import logging
import multiprocessing
import queue
from pathlib import Path
from typing import Any, List, Optional, Tuple

log = logging.getLogger(__name__)

Event = Tuple[Any, ...]


def _child(kind: str, args: Tuple[Any, ...], data_dir: str, out: Any, stop: Any) -> None:
    from . import backtests, optimize

    try:
        if kind == "study":
            (req,) = args
            result: Any = optimize.run_study(req, Path(data_dir), progress=lambda d, t, e: out.put(("progress", d, t, e)),
                                             cancelled=stop.is_set)
        elif kind == "walkforward":
            from . import walkforward
            (wf,) = args
            result = walkforward.run_walkforward(wf, Path(data_dir), progress=lambda d, t, e: out.put(
                ("progress", d, t, e)), cancelled=stop.is_set)
        else:
            study, req, report = args
            result = optimize.rerun_best(study, req, Path(data_dir), Path(report) if report else None)
        out.put(("done", result))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        msg = backtests.error_message(exc)
        if msg is None and isinstance(exc, OSError):
            msg = backtests.cannot_write(getattr(exc, "filename", "") or "file", exc)
        if msg is None:
            log.exception("research job failed", exc_info=exc)
            msg = f"{type(exc).__name__}: {exc}"
        out.put(("error", msg, str(getattr(exc, "field", ""))))


class ResearchJob:
    """One job in a child process: ``kind`` ``study`` (``args`` = ``(StudyRequest,)``),
    ``walkforward`` (``(WalkForwardRequest,)``) or ``best``
    (``args`` = ``(StudyResult, StudyRequest, report path or None)``). Poll :meth:`events` from
    the GUI's timer; :attr:`done` turns true after the last event."""

    def __init__(self, kind: str, args: Tuple[Any, ...], data_dir: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._out: Any = ctx.Queue()
        self._stop: Any = ctx.Event()
        self._proc = ctx.Process(target=_child, args=(kind, args, str(data_dir), self._out, self._stop),
                                 name=f"cts-research-{kind}", daemon=False)
        self.done = False

    def start(self) -> None:
        self._proc.start()

    def cancel(self) -> None:
        """Ask the study to stop after the chunk of trials running now."""
        self._stop.set()

    def events(self) -> List[Event]:
        """The events sent since the last call; after ``done``/``error`` (or a child that died
        without a word: an ``error`` event saying so) :attr:`done` is true and the child is joined."""
        got: List[Event] = []
        while not self.done:
            try:
                ev = self._out.get_nowait()
            except queue.Empty:
                if self._proc.is_alive():
                    break
                try:  # ended: what it sent last may still be in the pipe
                    ev = self._out.get(timeout=1.0)
                except queue.Empty:
                    code = self._proc.exitcode
                    got.append(("error", f"the research process ended unexpectedly (exit code {code})", ""))
                    self._finish()
                    break
            got.append(ev)
            if ev[0] in ("done", "error"):
                self._finish()
        return got

    def _finish(self) -> None:
        self.done = True
        self._proc.join(timeout=10)

    def kill(self, timeout: Optional[float] = 5.0) -> None:
        """Cancel, then end the child if it has not ended within ``timeout`` s (window closing)."""
        self.cancel()
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(2)


__all__ = ["ResearchJob"]
