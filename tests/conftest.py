"""Shared test fixtures. Tests use real parts: SQLite files in tmp dirs, the real engine, the real
recorded market data shipped in resources/data, and a local Binance-spot venue (``tests/venue``)
on 127.0.0.1 for everything that speaks to an exchange."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "resources" / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def dirs(tmp_path):
    """``(data_dir, config_dir)`` in a fresh temporary directory."""
    data, config = tmp_path / "data", tmp_path / "config"
    return data, config


@pytest.fixture
def venue():
    """A fresh running local venue per test (:class:`tests.venue.harness.Venue`), stopped after it.
    Test credentials and :func:`~tests.venue.harness.connection_for` are in ``tests.venue.harness``."""
    from cts_desktop.exchange import budget
    from tests.venue.harness import Venue

    budget.reset()  # request budgets are process-wide: a test's 429/418 must not reach the next test
    v = Venue().start()
    try:
        yield v
    finally:
        v.stop()
