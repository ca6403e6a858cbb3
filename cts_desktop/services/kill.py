"""The kill switch and the breakers' re-arm, for the GUI and the command line alike.

* :meth:`KillService.plan`: what the kill switch is about to do, in words (the GUI's
  confirmation, the CLI's first line);
* :meth:`KillService.kill` / :meth:`kill_all`: the kill switch on this process's engines
  (:func:`cts_desktop.engine.kill.kill_engine`), flattening as the ``kill_flattens`` setting says;
* :meth:`KillService.serve_requests`: answers ``cts-desktop kill`` requests from other processes
  (:class:`cts_desktop.store.control.ControlDir`); a headless run polls it;
* :func:`request_kill`: the CLI's side, which waits for the answer;
* :meth:`KillService.paused` / :meth:`resume_symbol` (and :func:`request_resume` for a headless run):
  symbols paused after their exit was refused again and again;
* :meth:`KillService.rearm` / :meth:`latched`: the max-drawdown breaker's latch
  (:class:`cts_desktop.store.breakers.LatchStore`).

Messages the trader sees are raised from here as :class:`KillError` (``ValueError``).
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

from ..engine.kill import KillReport, kill_engine
from ..store.breakers import LatchStore
from ..store.control import ALL, ControlDir
from ..store.settings import SettingsStore

POLL_S = 0.1  # how often a running process looks for kill requests


class KillError(ValueError):
    """A kill or re-arm that cannot be done (message: why, for the trader)."""


class KillService:
    """Kill switch and re-arm for the engines of ``services`` (an ``AppServices``)."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.latches = LatchStore(services.data_dir)
        self.control = ControlDir(services.data_dir)
        self._served: Set[str] = set()

    @property
    def flattens(self) -> bool:
        """The ``kill_flattens`` setting (on by default)."""
        return bool(self.services.app_settings["kill_flattens"])

    def running(self) -> List[str]:
        """Names of this process's active engines."""
        return [name for name, eng in self.services.engines.items() if eng.active]

    def plan(self, names: Optional[List[str]] = None) -> str:
        """What the kill switch will do to ``names`` (default: every running engine), in words.
        Raises :class:`KillError` when none of them is running."""
        names = [n for n in (names if names is not None else self.running()) if n in self.running()]
        if not names:
            raise KillError("no engine is running: there is nothing for the kill switch to stop")
        positions = sum(len(self.services.open_positions(n)) for n in names)
        flatten = (f"close {positions} open position{'s' if positions != 1 else ''} at market"
                   if self.flattens else f"leave {positions} open position{'s' if positions != 1 else ''} as they are "
                                         "(setting 'Kill switch flattens positions' is off)")
        return (f"Kill switch on {', '.join(names)}: cancel every open order, {flatten}, and stop "
                f"{'the engine' if len(names) == 1 else 'the engines'}. Strategies are not asked.")

    async def kill(self, name: str) -> KillReport:
        """Kill switch on connection ``name`` (raises :class:`KillError` when it is not running)."""
        eng = self.services.engines.get(name)
        if eng is None or not eng.active:
            raise KillError(f"{name}: the engine is not running here")
        return await kill_engine(eng, flatten=self.flattens)

    async def kill_all(self) -> List[KillReport]:
        """Kill switch on every running engine, all at once."""
        engines = [self.services.engines[n] for n in self.running()]
        return list(await asyncio.gather(*(kill_engine(e, flatten=self.flattens) for e in engines)))

    # -- symbols paused after refused exits --------------------------------------------------------
    def paused(self, name: str) -> Dict[str, str]:
        """Symbols of ``name``'s running engine that are paused (exits refused again and again:
        no entries, no automatic exits) -> why."""
        core = getattr(self.services.engines.get(name), "core", None)
        return dict(getattr(core, "paused", None) or {})

    def resume_symbol(self, name: str, symbol: str) -> str:
        """Lift the pause of ``symbol`` on ``name``'s running engine (after the trader checked the
        wallet at the exchange). Raises :class:`KillError` when it is not running or not paused."""
        eng = self.services.engines.get(name)
        if eng is None or not eng.active:
            raise KillError(f"{name}: the engine is not running here")
        if symbol not in self.paused(name):
            raise KillError(f"{name}: {symbol} is not paused")
        eng.resume_symbol(symbol)
        return f"{name}: {symbol} resumed: entries and exits allowed again"

    async def serve_requests(self) -> int:
        """Answer the kill and resume requests of other processes that this process can serve;
        returns how many it served. A request for a connection not running here is left for
        another process."""
        served = 0
        for rid, target, data in self.control.requests():
            if rid in self._served:
                continue
            if data.get("action") == "resume":
                if target not in self.running():
                    continue
                try:
                    lines = [self.resume_symbol(target, str(data.get("symbol", "")))]
                except KillError as exc:
                    lines = [f"not resumed: {exc}"]
                self._served.add(rid)
                self.control.answer(rid, lines)
                served += 1
                continue
            if target == ALL:
                reports = await self.kill_all()
            elif target in self.running():
                reports = [await self.kill(target)]
            else:
                continue
            self._served.add(rid)
            self.control.answer(rid, [r.line() for r in reports] or ["no engine was running"])
            served += 1
        return served

    async def watch_requests(self, stop: "asyncio.Event") -> None:
        """Poll for kill requests every :data:`POLL_S` s until ``stop`` is set."""
        while not stop.is_set():
            await self.serve_requests()
            try:
                await asyncio.wait_for(stop.wait(), POLL_S)
            except asyncio.TimeoutError:
                continue

    # -- breakers -----------------------------------------------------------------------------
    def latched(self) -> Dict[str, Dict[str, Any]]:
        """Latched connections -> ``{"reason", "at" (ms UTC)}``."""
        return self.latches.all()

    def rearm(self, name: str) -> str:
        """Re-arm ``name``'s max-drawdown breaker (a running engine takes entries again at once,
        its peak restarting at the current equity). Raises :class:`KillError` when ``name`` is
        unknown or not latched."""
        self.services.connection(name)  # KeyError naming the known connections
        eng = self.services.engines.get(name)
        core = getattr(eng, "core", None)
        breakers = getattr(core, "breakers", None)
        was = breakers.rearm(core.portfolio.equity) if breakers is not None and core is not None else False
        was = self.latches.clear(name) or was
        if not was:
            raise KillError(f"{name}: the max-drawdown breaker is not latched; nothing to re-arm")
        return f"{name}: max-drawdown breaker re-armed; new entries are allowed again"


def request_kill(data_dir: Path, target: str, *, timeout: float = 15.0, grace: float = 0.5) -> List[str]:
    """The CLI's side: ask the processes running on ``data_dir`` for the kill switch on
    ``target`` (a connection, or :data:`~cts_desktop.store.control.ALL`) and wait up to ``timeout``
    s for the answers (``grace`` s more for other processes once one answered). Returns their
    lines. Raises :class:`KillError` when nobody answered."""
    return request(data_dir, target, "kill", timeout=timeout, grace=grace)


def request_resume(data_dir: Path, name: str, symbol: str, *, timeout: float = 15.0) -> List[str]:
    """The CLI's side of :meth:`KillService.resume_symbol` for a headless run of ``name``. Raises
    :class:`KillError` when nobody answered."""
    return request(data_dir, name, "resume", timeout=timeout, symbol=symbol)


def request(data_dir: Path, target: str, action: str, *, timeout: float = 15.0, grace: float = 0.5,
            **extra: Any) -> List[str]:
    """Post ``action`` for ``target`` in ``data_dir``'s control folder and wait for the answers
    (see :func:`request_kill`)."""
    control = ControlDir(data_dir)
    rid = control.post(target, action, **extra)
    try:
        deadline = time.monotonic() + timeout
        answers: List[Dict[str, Any]] = []
        while time.monotonic() < deadline:
            answers = control.answers(rid)
            if answers:
                if target != ALL:
                    break
                deadline = min(deadline, time.monotonic() + grace)
            time.sleep(0.05)
        answers = control.answers(rid)
    finally:
        control.withdraw(rid)
    if not answers:
        who = "no running engine" if target == ALL else f"no running engine of {target}"
        raise KillError(f"{who} answered within {timeout:g} s (is a headless run using this data dir? In the "
                        "app, use its KILL SWITCH button)")
    return [str(line) for a in answers for line in a.get("lines", [])]


def rearm_stored(data_dir: Path, config_dir: Path, name: str) -> str:
    """Re-arm ``name``'s latched breaker without opening the database (the CLI). An engine of
    ``name`` running in another process sees it at its next entry. Raises ``KeyError`` naming the
    known connections, :class:`KillError` when it is not latched."""
    settings = SettingsStore(Path(config_dir)).load()
    settings.get(name)
    if not LatchStore(Path(data_dir)).clear(name):
        raise KillError(f"{name}: the max-drawdown breaker is not latched; nothing to re-arm")
    return f"{name}: max-drawdown breaker re-armed; new entries are allowed again"


def latched_stored(data_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Latched connections of ``data_dir`` -> ``{"reason", "at" (ms UTC)}`` (the CLI)."""
    return LatchStore(Path(data_dir)).all()
