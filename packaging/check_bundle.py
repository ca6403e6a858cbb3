"""Check a built bundle holds what the app loads only by name, which a run of the built-in paper
connection never touches: the live exchange clients, the keyring backends, the version metadata.

    python packaging/check_bundle.py dist/cts-desktop     # (packaging/smoke.sh runs it)

Reads the executable's embedded module archive (PYZ) with PyInstaller's own reader.
Exit 0 when everything is there; 1 with the list of what is missing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PyInstaller.archive.readers import CArchiveReader

MODULES = (
    # live connections: REST (async) and websocket clients, built by name from the exchange id
    "ccxt.async_support.binance", "ccxt.async_support.kraken", "ccxt.async_support.coinbase",
    "ccxt.pro.binance", "ccxt.pro.kraken", "ccxt.pro.bybit", "ccxt.binance", "ccxt.base.errors",
    # imported inside the functions that need them (a paper replay and the GUI at start never load them)
    "pyarrow.compute", "pyarrow.parquet", "pyarrow.csv",
    # keyring backends named by dotted path in cts_desktop/store/secrets.py
    "keyring.backends.SecretService", "keyring.backends.kwallet", "keyring.backends.macOS",
    "keyring.backends.Windows", "secretstorage",
)
ROOT = Path(__file__).resolve().parents[1]
# left out by the spec (unless put back with CTS_BUNDLE_KEEP, see packaging/cts-desktop.spec)
_KEEP = set(os.environ.get("CTS_BUNDLE_KEEP", "").split(","))
ABSENT = ("tkinter", "pyqtgraph.opengl") + tuple(m for k, m in (("uvloop", "uvloop"), ("qttest", "PySide6.QtTest"),
                                                              ("arrow", "pyarrow.flight"))
                                                 if k not in _KEEP)


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "dist/cts-desktop")
    exe = next((p for p in (folder / "cts-desktop", folder / "cts-desktop.exe") if p.is_file()), None)
    if exe is None:
        print(f"check_bundle: no executable in {folder}", file=sys.stderr)
        return 1
    pyz = CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz")
    names = set(pyz.toc)
    # every module of the app, whichever are imported on demand (screens, strategies, subcommands)
    app = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for p in (ROOT / "cts_desktop").rglob("*.py") if p.name != "__main__.py")
    problems = [f"module {m} missing" for m in (*MODULES, *app) if m not in names]
    problems += [f"module {m} should have been left out" for m in ABSENT if m in names]
    internal = folder / "_internal"
    for rel in ("resources/data/FTX_BTC-PERP_1m_2022-01.csv", "resources/styles/dark.qss",
                "resources/icons/cts-desktop.svg"):
        if not (internal / rel).is_file():
            problems.append(f"file {rel} missing")
    if not list(internal.glob("cts_desktop*.*-info")):
        problems.append("cts-desktop's metadata missing (the window shows no version)")
    if not (internal / "PySide6/Qt/plugins/iconengines").is_dir():
        problems.append("Qt's SVG icon engine missing")
    if problems:
        print("check_bundle: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"check_bundle: {len(names)} modules; all {len(app)} of cts_desktop and the {len(MODULES)} "
          "loaded by name are there")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
