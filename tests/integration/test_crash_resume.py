"""After a crash (SIGKILL mid-replay) the engine resumes its run without losing or duplicating a
single order: the finished run's orders and fills equal those of a run that was never killed.
The paper replay's share of the crash test (the live one is ``test_crash_kill.py``): killed
:data:`KILLS` times at random moments, resumed each time, it still ends equal to the clean run, and
every resume is recorded (a reconciliation record per kill)."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading

from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from tests.conftest import REPO
from tests.integration.crash_zygote import Zygote
from tests.waits import wait_for

KILLS = int(os.environ.get("CTS_REPLAY_KILLS", "12"))

ARGS = ["--headless", "--connection", BUILTIN_PAPER_NAME, "--speed", "max"]


def start(data_dir):
    # Paced (60 ms a candle) so that the kill lands mid-run, after some orders were committed.
    args = ARGS[:-1] + ["x1000"]
    return subprocess.Popen([sys.executable, "-m", "cts_desktop", "--data-dir", str(data_dir), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fills(db_path):
    if not db_path.exists():
        return 0
    try:
        con = sqlite3.connect(db_path)
        try:
            return con.execute("select count(*) from fills").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def trades(db_path):
    con = sqlite3.connect(db_path)
    rows = con.execute("select o.client_order_id, o.side, o.amount, o.status, f.timestamp, f.price, f.fee "
                       "from orders o join fills f on f.client_order_id = o.client_order_id "
                       "order by f.timestamp, o.client_order_id").fetchall()
    orders = con.execute("select client_order_id from orders order by timestamp, client_order_id").fetchall()
    runs = con.execute("select id, state from run").fetchall()
    con.close()
    return rows, [o[0] for o in orders], runs


def test_killed_replay_resumes_without_losing_or_duplicating_orders(tmp_path):
    clean = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path / "clean"), *ARGS],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr

    crashed = tmp_path / "crashed"
    db = crashed / "cts-desktop.sqlite3"
    proc = start(crashed)
    wait_for(lambda: fills(db) >= 3 or proc.poll() is not None, timeout=60, what="3 fills committed")
    assert proc.poll() is None, "the paced replay ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    _rows, _orders, runs = trades(db)
    assert runs == [(1, "running")]          # killed mid-run: the run never ended
    kept = fills(db)
    assert 0 < kept < 1890

    resumed = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(crashed), *ARGS],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run #1 after an unclean stop" in resumed.stderr

    want_rows, want_orders, _ = trades(tmp_path / "clean" / "cts-desktop.sqlite3")
    got_rows, got_orders, got_runs = trades(db)
    assert got_runs == [(1, "stopped")]      # the same run, finished
    assert len(got_orders) == len(set(got_orders))   # no clientOrderId twice
    assert got_orders == want_orders
    assert got_rows == want_rows             # every order and fill, same time, price and fee


def test_replay_killed_again_and_again_ends_equal_to_a_clean_run(tmp_path):
    clean = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path / "clean"), *ARGS],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    crashed = tmp_path / "crashed"
    db = crashed / "cts-desktop.sqlite3"
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(int(os.environ.get("CTS_CRASH_SEED", "8")))
    zygote = Zygote(logs)
    paced = ["--data-dir", str(crashed), *ARGS[:-1], "x1000"]
    try:
        for k in range(KILLS):
            kept = fills(db)
            pid, out, err = zygote.start(paced)
            wait_for(lambda kept=kept, pid=pid: fills(db) > kept or zygote.poll(pid) is not None, timeout=60,
                     what=f"kill {k + 1}: a new fill committed")
            threading.Event().wait(rng.uniform(0.0, 0.4))  # the random moment of the kill (input, not a wait)
            assert zygote.poll(pid) is None, f"the paced replay ended before kill {k + 1}: {err.read_text()}"
            os.kill(pid, signal.SIGKILL)
            assert zygote.wait(pid) == -signal.SIGKILL
            assert trades(db)[2] == [(1, "running")]  # killed mid-run: the same run each time
        pid, out, err = zygote.start(["--data-dir", str(crashed), *ARGS])
        assert zygote.wait(pid) == 0, err.read_text()
    finally:
        zygote.close()
    assert "resuming run #1 after an unclean stop" in err.read_text()
    want_rows, want_orders, _ = trades(tmp_path / "clean" / "cts-desktop.sqlite3")
    got_rows, got_orders, got_runs = trades(db)
    assert got_runs == [(1, "stopped")]
    assert len(got_orders) == len(set(got_orders))
    assert got_orders == want_orders
    assert got_rows == want_rows
    con = sqlite3.connect(db)
    records = [json.loads(r[0]) for r in con.execute("select summary from reconciliations where run_id = 1")]
    con.close()
    assert [r["resumed"] for r in records] == [1] * KILLS  # every kill found and recorded at the next start

