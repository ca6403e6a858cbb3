"""Named strategy presets, shared by the backtest window and the Connections tab.

Kept in ``<config dir>/presets.json`` next to the connection settings (not in the trade
database): a preset is configuration, like a connection.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List


class PresetStore:
    """Named parameter presets in ``<config dir>/presets.json``:
    ``{"version": 1, "presets": {name: {"strategy": str, "params": {...}, "cash": float (USD or
    quote), "fee": fraction, "slippage": fraction, "max_position": fraction}}}``.

    A file that cannot be read is kept aside as ``presets.json.corrupt`` on the next save (never
    silently overwritten); :attr:`error` says what was wrong with it.
    """

    def __init__(self, config_dir: Path):
        self.path = Path(config_dir) / "presets.json"
        self.presets: Dict[str, dict] = {}
        self.error = ""
        self._corrupt = False
        self.load()

    def load(self) -> None:
        self.presets, self.error, self._corrupt = {}, "", False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            presets = data.get("presets", {}) if isinstance(data, dict) else None
            if not isinstance(presets, dict):
                raise ValueError("no 'presets' object")
            self.presets = {str(k): v for k, v in presets.items() if isinstance(v, dict)}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            self.error = f"{self.path.name} could not be read ({exc}); it will be kept as {self.path.name}.corrupt"
            self._corrupt = True

    def names(self) -> List[str]:
        return sorted(self.presets, key=str.lower)

    def get(self, name: str) -> dict:
        return self.presets[name]

    def save(self, name: str, preset: dict) -> None:
        """Add or replace ``name`` and write the file (atomically). Raises ``OSError``."""
        self.presets[name] = preset
        self._write()

    def delete(self, name: str) -> None:
        self.presets.pop(name, None)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._corrupt and self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            self._corrupt = False
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "presets": self.presets}, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
