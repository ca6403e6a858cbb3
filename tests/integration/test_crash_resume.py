"""After a crash (SIGKILL mid-replay) the engine resumes its run without losing or duplicating a
single order: the finished run's orders and fills equal those of a run that was never killed."""
import signal
import sqlite3
import subprocess
import sys

from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from tests.conftest import REPO
from tests.waits import wait_for

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
