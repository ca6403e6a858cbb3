"""GUI test fixtures: offscreen Qt, a qasync loop on pytest-qt's QApplication, real services.

Nothing of ours is mocked: ``services`` is a real :class:`AppServices` on a temporary data and
config directory (real SQLite, real engine, the recorded market data in ``resources/data``).
"""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import asyncio  # noqa: E402

import pytest  # noqa: E402
import qasync  # noqa: E402

from cts_desktop.services import AppServices  # noqa: E402
from cts_desktop.store.settings import BUILTIN_PAPER_NAME  # noqa: E402



@pytest.fixture(scope="session")
def themed_app(qapp):
    from cts_desktop.ui.theme import apply_theme

    apply_theme(qapp)
    return qapp


@pytest.fixture
def loop(themed_app):
    """A qasync loop that runs inside the Qt event processing pytest-qt drives (qtbot.wait...).

    Never stopped in teardown: ``loop.stop()`` calls ``app.exit()`` and breaks later tests.
    """
    lp = qasync.QEventLoop(themed_app, already_running=True)
    executor = qasync.QThreadExecutor(4)  # ours, so its threads end with the test
    lp.set_default_executor(executor)
    asyncio.set_event_loop(lp)
    yield lp
    executor.shutdown(wait=True)
    # already_running=True marks the loop as running in this thread; clear that, or a later
    # (non-GUI) test's asyncio.run() refuses to start. (Not loop.stop(): it would quit the app.)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


def run(qtbot, coro, timeout: int = 30_000):
    """Run ``coro`` on the qasync loop while Qt processes events; return its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def services(tmp_path, loop, qtbot):
    svc = AppServices(tmp_path / "data", tmp_path / "config")
    yield svc
    run(qtbot, svc.stop_all(), timeout=30_000)
    svc.close()


@pytest.fixture
def fast_paper(services):
    """The built-in connection set to replay at max speed; returns its name."""
    conn = services.connection(BUILTIN_PAPER_NAME)
    conn.speed = "max"
    services.save_connection(conn)
    return BUILTIN_PAPER_NAME


@pytest.fixture
def window(services, qtbot):
    from cts_desktop.ui.main_window import MainWindow

    w = MainWindow(services)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
