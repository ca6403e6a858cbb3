"""Where the shipped ``resources/`` folder is (recorded market data, styles, calendars)."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the package in a source checkout or editable install,
    or inside a PyInstaller bundle (``sys._MEIPASS``). ``CTS_RESOURCES`` overrides it."""
    override = os.environ.get("CTS_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"
