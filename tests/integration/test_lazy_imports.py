"""The heavy libraries stay unloaded until something needs them.

``import ccxt`` loads every exchange class (~60 MB resident, ``ccxt.async_support`` and ``ccxt.pro``
as much again), pyarrow ~45 MB with its libraries and pandas (which pyarrow's ``to_numpy`` pulls
in) ~35 MB. The window and its services at start, a paper replay of a shipped dataset to its end
and the mapping of a plain exception into a GatewayError need none of them. Checked in a fresh
interpreter (this one has loaded them for other tests).
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from cts_desktop.exchange.errors import is_ccxt_error, map_exception
from cts_desktop.services import AppServices
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
import cts_desktop.ui.main_window  # the window's modules, as the GUI imports them at start

tmp = Path(sys.argv[1])
services = AppServices(tmp / "data", tmp / "config")
conn = services.connection(BUILTIN_PAPER_NAME)
conn.speed = "max"
services.save_connection(conn)

async def replay():
    eng = await services.start_engine(BUILTIN_PAPER_NAME)
    await asyncio.wait_for(eng.wait(), timeout=300)
    return services.engine_state(BUILTIN_PAPER_NAME), services.last_summary(BUILTIN_PAPER_NAME)

state, summary = asyncio.run(replay())
services.close()
mapped = map_exception(TimeoutError(), action="loading markets")
print(json.dumps({"state": state, "trades": summary.get("trades"), "kind": mapped.kind,
                  "is_ccxt": is_ccxt_error(ValueError()),
                  "loaded": [m for m in ("ccxt", "ccxt.async_support", "ccxt.pro", "pyarrow", "pandas")
                             if m in sys.modules]}))
"""


def test_window_modules_and_a_paper_replay_load_neither_ccxt_nor_pyarrow(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
                                            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["state"] == "stopped" and out["trades"], out  # the replay ran to the end of its data
    assert out["kind"] == "timeout" and out["is_ccxt"] is False
    assert out["loaded"] == [], f"loaded without need: {out['loaded']}"


def test_ccxt_exceptions_are_still_mapped_once_ccxt_is_loaded():
    import ccxt

    from cts_desktop.exchange.errors import is_ccxt_error, map_exception

    assert is_ccxt_error(ccxt.InsufficientFunds("binance {}"))
    assert map_exception(ccxt.InsufficientFunds('binance {"code":-2010,"msg":"no"}')).kind == "insufficient-funds"
    assert map_exception(ccxt.InvalidNonce("binance")).kind == "clock"
    assert map_exception(ccxt.RequestTimeout("binance GET https://x")).kind == "timeout"
    assert map_exception(asyncio.TimeoutError()).kind == "timeout"
    assert map_exception(ValueError("x")).kind == "internal"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
