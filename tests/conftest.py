"""Shared test fixtures. Tests use real parts: SQLite files in tmp dirs, the real engine and the
real recorded market data shipped in resources/data."""
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
