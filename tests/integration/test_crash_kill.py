"""Crash test of live trading: headless ``cts-desktop`` child processes trade against the local venue
(running in this test process, partial fills on) and are SIGKILLed at random moments, at least 100
times in all, each restarted at once. After a last clean run:

* 0 lost, 0 duplicated orders: the clientOrderIds at the venue equal the database's orders that
  reached it, each once; orders the database holds that never reached the venue ended failed;
* every execution at the venue is booked exactly once (fill id = trade id);
* the position the last run holds equals the venue wallet's BTC (fees off, so no dust);
* every killed run that had begun is marked ``interrupted``, and a start found each of them.

Kills land anywhere: during start-up, reconciliation, an order's round trip or between candles.
Several lanes (own account, connection, data dir) run side by side to keep the runtime short.
``CTS_CRASH_KILLS`` sets the total number of kills (default 100).
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cts_desktop.services import AppServices
from cts_desktop.store.secrets import SecretStore
from tests.integration.crash_zygote import Zygote
from tests.keyring_marks import keyring_test
from tests.venue.harness import Venue, connection_for
from tests.waits import wait_for

pytestmark = pytest.mark.timeout(400)

KILLS = int(os.environ.get("CTS_CRASH_KILLS", "100"))
LANES = 4
SYM, VSYM = "BTC/USDT", "BTCUSDT"
SEED = int(os.environ.get("CTS_CRASH_SEED", "8"))


def _lane_setup(venue, tmp_path, i):
    name = f"crash lane {i}"
    key, secret = f"crashKey{i:02d}" + "k" * 54, f"crashSecret{i:02d}" + "s" * 51
    acct = venue.add_account(key, secret, {"USDT": 10_000})
    acct.maker_bps = acct.taker_bps = 0  # no fee dust: the position must equal the wallet exactly
    data, config = tmp_path / f"lane{i}" / "data", tmp_path / f"lane{i}" / "config"
    services = AppServices(data, config)
    try:
        conn = connection_for(venue, name, live=True, secrets={"apiKey": key, "secret": secret}, strategy="ma_cross",
                              strategy_params={"fast": 1, "slow": 2, "size": 0.05, "stop_loss": 0.0,
                                               "take_profit": 0.0, "timeframe": "5m"},
                              rate_limit_per_second=1000)
        services.save_connection(conn)
        services.app_settings.update({"poll_interval_s": 0.5})
    finally:
        services.close()
    store = SecretStore.open()
    store.set(name, "apiKey", key)
    store.set(name, "secret", secret)
    return {"name": name, "key": key, "data": data, "config": config}


def _start(zygote, lane, duration=None):
    args = ["--data-dir", str(lane["data"]), "--config-dir", str(lane["config"]), "--headless",
            "--connection", lane["name"]]
    return zygote.start(args + (["--duration", str(duration)] if duration is not None else []))


def _db(lane, sql, *args):
    path = lane["data"] / "cts-desktop.sqlite3"
    if not path.exists():
        return []
    con = sqlite3.connect(path, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _runs(lane):
    try:
        return _db(lane, "select count(*) from run")[0][0] if (lane["data"] / "cts-desktop.sqlite3").exists() else 0
    except sqlite3.OperationalError:  # the table is being made by the first child
        return 0


def _run_lane(zygote, lane, kills, rng):
    """Start, kill at a random moment, restart, ``kills`` times. Three kills in four wait for the
    run to have begun (then: trading, orders in flight, partial fills); every fourth lands at a
    random moment of the start (reconciliation, carry-over)."""
    keyring_misses = 0
    k = 0
    while k < kills:
        before = _runs(lane)
        pid, out, err = _start(zygote, lane)
        if k % 4 != 3:
            wait_for(lambda before=before, pid=pid: _runs(lane) > before or zygote.poll(pid) is not None,
                     timeout=60, what=f"{lane['name']}: the run to begin")
            delay = rng.uniform(0.0, 1.2)
        else:
            delay = rng.uniform(0.05, 0.8)
        stopped = threading.Event()
        stopped.wait(delay)  # the random moment of the kill (the test's input, not a wait for something)
        if zygote.poll(pid) is None:
            os.kill(pid, signal.SIGKILL)
        status = zygote.wait(pid)
        if status == 2 and "in the keyring (ItemNotFoundException" in err.read_text():
            # gnome-keyring, after many clients were killed mid-session, now and then fails one
            # lookup: not what this test is about (and the start refused cleanly); start again
            keyring_misses += 1
            assert keyring_misses <= max(2, kills // 10), err.read_text()
            continue
        k += 1
        if status != -signal.SIGKILL:
            raise AssertionError(f"{lane['name']}: the child ended by itself ({status}):\n{out.read_text()}\n"
                                 f"{err.read_text()}")


def _advance(venue, stop):
    """The market moves on: a candle closes (and partial fills go on) every 0.1 s."""
    while not stop.wait(0.1):
        venue.advance(1, VSYM)


@pytest.fixture
def venue():
    """The local venue, with no request-weight limit: a hundred starts in three minutes would
    otherwise be rate-limited (HTTP 429; the weight budget is another test's subject)."""
    v = Venue(weight_limit=10**9).start()
    v.state.fill_parts = 3  # a market order fills in 3 trades, one more on each candle
    try:
        yield v
    finally:
        v.stop()


@pytest.fixture
def lanes(venue, tmp_path):
    return [_lane_setup(venue, tmp_path, i) for i in range(LANES)]


@keyring_test
def test_100_random_sigkills_lose_and_duplicate_nothing(venue, lanes, tmp_path):
    assert KILLS >= 100 or "CTS_CRASH_KILLS" in os.environ
    logs = tmp_path / "logs"
    logs.mkdir()
    zygote = Zygote(logs)
    stop = threading.Event()
    mover = threading.Thread(target=_advance, args=(venue, stop), daemon=True)
    mover.start()
    try:
        per_lane = [KILLS // LANES + (1 if i < KILLS % LANES else 0) for i in range(LANES)]
        with ThreadPoolExecutor(LANES) as pool:
            futures = [pool.submit(_run_lane, zygote, lane, n, random.Random(SEED * 100 + i))
                       for i, (lane, n) in enumerate(zip(lanes, per_lane, strict=True))]
            for f in futures:
                f.result()
        stop.set()
        mover.join(5)
        # the market stops; orders the kills left filling in parts complete at the venue; then a
        # last clean run (no new candle: no new order) settles what the kills left, holds the position
        while venue.state._filling:
            venue.state.step_fills(VSYM)
        finals, codes = [], []
        for lane in lanes:
            for _attempt in range(3):  # (a keyring lookup miss: see _run_lane)
                pid, out, err = _start(zygote, lane, duration=3)
                code = zygote.wait(pid)
                if not (code == 2 and "in the keyring (ItemNotFoundException" in err.read_text()):
                    break
            finals.append((pid, out, err))
            codes.append(code)
    finally:
        stop.set()
        zygote.close()
    seen = {"orders": 0, "interrupted": 0, "settled": 0, "fills": 0, "carried": 0, "adopted": 0}
    for lane, code, (_pid, out, err) in zip(lanes, codes, finals, strict=True):
        assert code == 0, f"{lane['name']}: {out.read_text()}\n{err.read_text()}"
        for k, v in _check_lane(venue, lane, out.read_text()).items():
            seen[k] += v
    print(f"\n{KILLS} kills: {seen}")
    # the kills hit the moments that matter: orders in flight, fills while down, positions open
    assert seen["orders"] > 0 and seen["interrupted"] > 0 and seen["carried"] > 0, seen


def _check_lane(venue, lane, out):
    name, key = lane["name"], lane["key"]
    with venue.state.lock:
        v_orders = [o for o in venue.state.orders.values() if o.account == key]
        v_trades = [(str(t.trade_id), o.client_order_id) for o in v_orders for t in o.fills]
    v_cids = [o.client_order_id for o in v_orders]
    assert len(v_cids) == len(set(v_cids)), "an order was sent twice"
    rows = _db(lane, "select client_order_id, state, exchange_id from orders where connection = ?", name)
    db_cids = {r[0] for r in rows}
    assert len(db_cids) == len(rows)
    assert set(v_cids) <= db_cids, f"orders at the venue the database lost: {set(v_cids) - db_cids}"
    never_sent = {r[0]: r[1] for r in rows if r[0] not in set(v_cids)}
    assert all(state == "failed" for state in never_sent.values()), never_sent
    # every execution booked exactly once, to the order it belongs to
    fills = _db(lane, "select fill_id, client_order_id from fills where connection = ?", name)
    missing = {cid for _, cid in set(v_trades) - set(fills)}
    assert sorted(fills) == sorted(v_trades), (
        _db(lane, "select o.client_order_id, o.run_id, o.state, o.filled, o.amount, o.error, r.state from orders o "
                  f"join run r on r.id = o.run_id where o.client_order_id in ({','.join('?' * len(missing))})",
            *missing), _db(lane, "select id, state, reason from run"), out)
    # no order left unsettled, at the venue or in the database, after the clean run
    assert not any(o.is_open for o in v_orders)
    assert all(r[1] in ("filled", "canceled", "failed") for r in rows), rows
    # the last run's position equals the wallet
    (last_run, last_state), = _db(lane, "select id, state from run where connection = ? order by id desc limit 1",
                                  name)
    assert last_state == "stopped"
    held = _db(lane, "select coalesce(sum(amount), 0) from positions where run_id = ? and closed_at is null "
                     "and symbol = ?", last_run, SYM)[0][0]
    free, locked = venue.balance(key, "BTC")
    assert held == pytest.approx(free + locked, abs=1e-9), (held, free, locked)
    # every run the kills left begun is interrupted, and a later start found it
    states = _db(lane, "select id, state from run where connection = ? and id < ?", name, last_run)
    assert all(s == "interrupted" for _, s in states), states
    found: set = set()
    seen = {"orders": len(v_cids), "interrupted": len(states), "settled": 0, "fills": 0, "carried": 0, "adopted": 0}
    for (text,) in _db(lane, "select summary from reconciliations where connection = ?", name):
        summary = json.loads(text)
        found.update(summary["interrupted"])
        for k in ("settled", "fills", "adopted"):
            seen[k] += len(summary[k])
        seen["carried"] += sum(1 for p in summary["positions"] if p["amount"] > 0)
    assert found == {rid for rid, _ in states}
    assert "summary " in out
    if states:  # headless mode printed the review of what the start found
        assert f"reconciliation of {name}, run #{last_run}:" in out and "Runs marked interrupted:" in out
    return seen

