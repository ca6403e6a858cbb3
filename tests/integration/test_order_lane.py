"""The priority lane of a live order (Recorder.commit_order_now): the row is committed at once on
the caller's thread, ahead of records still queued; a busy database falls back to flush()."""
from __future__ import annotations

import sqlite3

from cts_desktop.core.models import Order
from cts_desktop.store.db import DB_FILENAME, open_database
from cts_desktop.store.recorder import Recorder


def rows(data_dir, sql):
    con = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_live_order_row_is_committed_at_once_ahead_of_the_queue(dirs):
    data, _ = dirs
    db = open_database(data)
    rec = Recorder(db, batched=True)
    try:
        run = rec.begin_run("lane", "live", currency="USDT", starting_balance=1000)
        rec.event(run, "lane", 0, "engine", "info", "held back until the next flush", 0.0)
        order = Order(clientOrderId="lane-1", symbol="BTC/USDT", side="buy", type="market", amount=0.01)
        assert rec.commit_order_now(run, "lane", order)
        assert rows(data, "select client_order_id, state from orders") == [("lane-1", "pending-create")]
        assert rows(data, "select count(*) from events") == [(0,)]  # the queue follows later
        rec.flush().result(10)
        assert rows(data, "select count(*) from events") == [(1,)]

        blocker = sqlite3.connect(data / DB_FILENAME, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            second = Order(clientOrderId="lane-2", symbol="BTC/USDT", side="sell", type="market", amount=0.01)
            assert not rec.commit_order_now(run, "lane", second)  # busy: the caller flushes instead
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        rec.order(run, "lane", second)
        rec.flush().result(10)
        assert rows(data, "select client_order_id from orders order by client_order_id") == [("lane-1",), ("lane-2",)]
    finally:
        rec.close()
        db.close()


def test_a_held_writer_still_commits_a_flush(dirs):
    """Recorder.hold (a live engine busy) delays the writer's commits by a bounded time only, so a
    flush someone awaits while the hold lasts still completes."""
    data, _ = dirs
    db = open_database(data)
    rec = Recorder(db, batched=True)
    rec.hold = lambda: True  # a live engine that is busy for ever
    try:
        run = rec.begin_run("held", "paper", currency="USDT", starting_balance=1000)
        rec.event(run, "held", 0, "engine", "info", "written despite the hold", 0.0)
        rec.flush().result(30)
        assert rows(data, "select message from events") == [("written despite the hold",)]
    finally:
        rec.close()
        db.close()


def test_the_order_lane_waits_for_this_process_writers_not_for_sqlite_busy_sleeps(dirs):
    """Our own writers take the write gate: the live order's row waits for the holder's release
    (within its budget) and is refused only when the holder outlasts it."""
    import threading

    from cts_desktop.store.write_gate import write_gate

    data, _ = dirs
    db = open_database(data)
    rec = Recorder(db, batched=True)
    try:
        run = rec.begin_run("gate", "live", currency="USDT", starting_balance=1000)
        gate = write_gate(db)
        gate.acquire()  # a recorder's writer in its transaction
        released = threading.Timer(0.05, gate.release)
        released.start()
        order = Order(clientOrderId="gate-1", symbol="BTC/USDT", side="buy", type="market", amount=0.01)
        assert rec.commit_order_now(run, "gate", order, busy_ms=5000)  # waited for the release
        released.join()
        with gate:  # held for longer than the lane's budget
            late = Order(clientOrderId="gate-2", symbol="BTC/USDT", side="buy", type="market", amount=0.01)
            assert not rec._lane.commit({"client_order_id": "never"})  # refused, nothing written
            assert not rec.commit_order_now(run, "gate", late)
        assert rows(data, "select client_order_id from orders") == [("gate-1",)]
    finally:
        rec.close()
        db.close()


def test_the_recorders_checkpoint_the_wal_outside_their_commits(dirs):
    """Connections do not checkpoint inside their commits (wal_autocheckpoint 0); the recorder's
    writer does, after its commit: the rows reach the main database file (read here while ignoring
    the -wal)."""
    data, _ = dirs
    db = open_database(data)
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    rec = Recorder(db, batched=True)
    try:
        run = rec.begin_run("ckpt", "paper", currency="USDT", starting_balance=1000)
        rec.flush().result(10)
        rec.flush().result(10)  # the writer is past the run row's commit and its checkpoint (one thread, in order)
        for i in range(50):
            rec.event(run, "ckpt", i, "engine", "info", f"line {i}", 0.0)
        db.__dict__.pop("_cts_checkpointed", None)  # due now
        rec.flush().result(10)
        rec.flush().result(10)  # the writer is past the previous commit's checkpoint (it follows the waiters)
        main_file = sqlite3.connect(f"file:{data / DB_FILENAME}?immutable=1", uri=True)
        try:
            assert main_file.execute("select count(*) from events").fetchone() == (50,)
        finally:
            main_file.close()
    finally:
        rec.close()
        db.close()


def test_a_held_writer_gives_way_mid_transaction_and_writes_its_batch_once(dirs):
    """A replay's writer whose hold turns on while it writes (a live engine started sending an
    order) rolls its transaction back, waits, and writes the whole batch again: every record once."""
    data, _ = dirs
    db = open_database(data)
    rec = Recorder(db, batched=True)
    try:
        run = rec.begin_run("gives way", "paper", currency="USDT", starting_balance=1000)
        rec.flush().result(10)
        answers = iter([False, True, False])  # before the commit: free; between two tables: busy; then free
        asked = []

        def hold():
            asked.append(1)
            return next(answers, False)

        rec.hold = hold
        order = Order(clientOrderId="gw-1", symbol="BTC/USDT", side="buy", type="market", amount=0.01)
        rec.order(run, "gives way", order)
        for i in range(20):
            rec.event(run, "gives way", i, "engine", "info", f"line {i}", 0.0)
        rec.flush().result(10)
        assert len(asked) >= 4  # it looked between the tables, gave way and came back
        assert rows(data, "select client_order_id from orders") == [("gw-1",)]
        assert rows(data, "select count(*) from events") == [(20,)]
    finally:
        rec.close()
        db.close()
