"""How long the damaged-database check at start-up takes (``PRAGMA quick_check``, read-only).

Builds a database holding ``--replays`` full headless replays of the FTX month at max speed (each
a real ``cts-desktop --headless`` process, every record written), then times
:func:`cts_desktop.store.db_check.damage` on it ``--repeat`` times (page cache warm) and prints
the file size and the median with the spread.

    python benchmarks/bench_quick_check.py [--replays 1] [--repeat 7] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cts_desktop.store.db import DB_FILENAME  # noqa: E402
from cts_desktop.store.db_check import damage  # noqa: E402
from cts_desktop.store.settings import BUILTIN_PAPER_NAME  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replays", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--data-dir", help="measure this data directory (no replays are added when given)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data_dir) if args.data_dir else Path(tmp)
        for _ in range(0 if args.data_dir else args.replays):
            subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(data), "--headless",
                            "--connection", BUILTIN_PAPER_NAME, "--speed", "max"],
                           cwd=REPO, check=True, capture_output=True)
        path = data / DB_FILENAME
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            problem = damage(path)
            times.append(time.perf_counter() - t0)
        assert problem is None, problem
        print(f"{path.stat().st_size / 1e6:.1f} MB: quick_check median {statistics.median(times) * 1000:.1f} ms "
              f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}) over {args.repeat} runs")


if __name__ == "__main__":
    main()
