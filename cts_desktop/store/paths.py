"""Where the app keeps its files (platformdirs), unless the command line says otherwise.

* data (the trade database): ``--data-dir``, else the database folder chosen in Settings
  (``database_dir`` in ``<config dir>/settings.json``), else ``platformdirs.user_data_dir("cts-desktop")``;
* config (connections file, window state): ``platformdirs.user_config_dir("cts-desktop")`` or
  ``--config-dir``; when only ``--data-dir`` is given, config goes to ``<data dir>/config`` so a
  test or a portable install keeps everything in one place.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import platformdirs

APP = "cts-desktop"


def resolve(data_dir: Optional[str] = None, config_dir: Optional[str] = None) -> Tuple[Path, Path]:
    from .app_settings import stored_database_dir

    data = Path(data_dir).expanduser() if data_dir else Path(platformdirs.user_data_dir(APP))
    if config_dir:
        config = Path(config_dir).expanduser()
    elif data_dir:
        config = data / "config"
    else:
        config = Path(platformdirs.user_config_dir(APP))
    if not data_dir:
        data = stored_database_dir(config) or data
    return data, config
