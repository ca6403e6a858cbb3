"""Start-up time of the desktop app to a visible window, with 20 configured connections.

Each run is a fresh child process (``--child``) on a temporary config/data directory holding 19
exchange connections (binance, okx, kraken, bybit ... with testnet, symbols, a stored test) plus
the built-in paper one, and with the Connections tab current and an exchange connection selected
(the heaviest case: the details panel of an exchange connection). The child prints the seconds
from process start (``time.time()`` minus the process creation time) to just after
``window.show()`` + ``processEvents()``, then exits. Target: < 2 s.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXCHANGES = ("binance", "okx", "kraken", "bybit", "kucoin", "bitget", "gateio", "mexc", "coinbase", "bitfinex")


def _process_start() -> float:
    """Wall-clock time this process was created (Linux /proc; else the interpreter's first moment)."""
    try:
        ticks = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
        start_ticks = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + start_ticks / ticks
    except Exception:  # noqa: BLE001
        return time.time() - time.perf_counter()


def child(config: Path, data: Path) -> None:
    t0 = _process_start()
    sys.path.insert(0, str(REPO))
    from cts_desktop.services import AppServices
    from cts_desktop.ui.app_gui import ensure_app
    from cts_desktop.ui.main_window import MainWindow

    app = ensure_app()
    services = AppServices(data, config)
    window = MainWindow(services)
    window.show()
    app.processEvents()
    shown = time.time() - t0
    ccxt_imported = "ccxt" in sys.modules
    print(json.dumps({"shown_s": shown, "ccxt_imported": ccxt_imported,
                      "connections": len(services.connections())}), flush=True)
    services.close()
    os._exit(0)


def prepare(root: Path) -> tuple:
    config, data = root / "config", root / "data"
    sys.path.insert(0, str(REPO))
    from cts_desktop.store.settings import ConnectionConfig, SettingsStore

    store = SettingsStore(config).load()
    for i in range(19):
        ex = EXCHANGES[i % len(EXCHANGES)]
        store.connections[f"{ex} {i}"] = ConnectionConfig(
            name=f"{ex} {i}", exchange=ex, symbols=["BTC/USDT", "ETH/USDT"], market_type="spot", testnet=True,
            credential_fields=[], last_test={"ok": True, "status": "ok", "tested_at": int(time.time() * 1000)})
    store.save()
    (config / "window.ini").write_text("[General]\nconnection=binance 0\ntab=0\n")
    return config, data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", nargs=2, metavar=("CONFIG", "DATA"))
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return 0
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp:
        config, data = prepare(Path(tmp))
        times = []
        for i in range(args.runs + 1):  # the first run warms the OS file cache and .pyc files
            out = subprocess.run([sys.executable, __file__, "--child", str(config), str(data)], env=env,
                                 capture_output=True, text=True, timeout=120)
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
            if line is None:
                print(out.stdout, out.stderr, file=sys.stderr)
                return 1
            r = json.loads(line)
            if i:
                times.append(r["shown_s"])
            print(f"run {i}{' (warm-up)' if i == 0 else ''}: {r['shown_s']:.3f} s to a visible window, "
                  f"{r['connections']} connections, ccxt imported at start-up: {r['ccxt_imported']}")
        med = statistics.median(times)
        print(f"start-up to visible window: median {med:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
              f"over {len(times)} runs (target < 2 s): {'OK' if max(times) < 2 else 'TOO SLOW'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
