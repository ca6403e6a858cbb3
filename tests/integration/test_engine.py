"""The engine on real recorded data, with a real SQLite store: states, errors, records, restart."""
import asyncio
import json
import shutil
import sqlite3

import pytest

from cts_desktop.core import events as ev
from cts_desktop.engine import strategies
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.services import AppServices
from cts_desktop.store import repositories as repo
from cts_desktop.store.db import DB_FILENAME, SchemaTooNewError, StoreError, open_database
from cts_desktop.store.settings import BUILTIN_PAPER_NAME, ConnectionConfig
from tests.conftest import DATA
from tests.waits import until


class Exploding(Strategy):
    """Raises on the n-th candle: a strategy with a bug."""

    name = "exploding"
    params = (Param("after", int, 50, minimum=1),)

    def on_candle(self, ctx, symbol, candle):
        self.n = getattr(self, "n", 0) + 1
        if self.n >= self.p["after"]:
            raise ZeroDivisionError("bug in the strategy")
        return None


strategies.register(Exploding)


def paper(name, **kw):
    base = dict(name=name, dataset="bittrex-btc-5m", speed="max",
                strategy_params={"fast": 5, "slow": 20, "size": 0.2, "stop_loss": 2.0, "take_profit": 4.0})
    base.update(kw)
    return ConnectionConfig(**base)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    if not s.recorder._thread.is_alive():
        return
    s.close()


def states_of(services, name=None):
    """The engine states published from now on (of connection ``name`` only, if given)."""
    seen = []
    services.bus.subscribe(lambda e: seen.append(e.state) if isinstance(e, ev.EngineStateChanged)
                           and name in (None, e.connection) else None)
    return seen


def test_builtin_connection_exists_on_first_start(services):
    conn = services.connection(BUILTIN_PAPER_NAME)
    assert conn.builtin and conn.is_paper_replay and conn.starting_balance == 10_000


def test_replay_to_end_records_everything_and_agrees(services):
    services.save_connection(paper("multi"))
    seen = states_of(services)

    async def go():
        eng = await services.start_engine("multi")
        await eng.wait()
        return eng

    eng = run(go())
    assert seen == [ev.INITIALIZING, ev.RUNNING, ev.STOPPING, ev.STOPPED]
    assert eng.reason == "end of data"
    s = eng.summary()
    assert s["candles"] == 5760 + 5760 + 5720 and s["currency"] == "BTC"
    # 10,000 USD at the Coinbase BTC/USD close before the replay's start (2018-01-10)
    assert 0.6 < s["starting_balance"] < 0.8
    assert s["fills"] > 0 and s["trades"] > 0
    services.recorder.flush().result()
    counts = repo.counts("multi")
    assert counts["orders"] == s["orders"] and counts["fills"] == s["fills"]
    assert counts["closed_positions"] == s["trades"]
    run_row = repo.latest_run("multi")
    assert run_row.state == "stopped" and json.loads(run_row.summary)["trades"] == s["trades"]
    # every fill belongs to a recorded order, and net P&L of closed positions adds up
    db = sqlite3.connect(services.data_dir / DB_FILENAME)
    orphans = db.execute("select count(*) from fills f left join orders o on o.client_order_id = f.client_order_id "
                         "where o.id is null").fetchone()[0]
    assert orphans == 0
    realized, fees = db.execute("select sum(realized_pnl), sum(fees) from positions where run_id = ?",
                                (run_row.id,)).fetchone()
    assert realized - fees == pytest.approx(s["realized_pnl"] - s["fees"], abs=1e-9)
    assert len(repo.equity_curve(run_row.id)) == 5760  # one point per timestamp
    symbols = {r[0] for r in db.execute("select distinct symbol from fills")}
    assert symbols <= {"ETH/BTC", "LTC/BTC", "ADA/BTC"} and len(symbols) >= 2


def test_pause_resume_stop(services):
    # 5m candles at x1000: 0.3 s per timestamp, 5760 of them: the replay surely runs for the test
    services.save_connection(paper("paced", speed="x1000"))
    services.save_connection(paper("clock", speed="x1000"))  # a witness: same data and pace, never paused
    seen = states_of(services, "paced")

    async def go():
        eng = await services.start_engine("paced")
        await until(lambda: eng.core.candles_seen > 0, what="the first candles")
        assert eng.state == ev.RUNNING
        eng.pause()
        assert eng.state == ev.PAUSED
        n = eng.core.candles_seen
        clock = await services.start_engine("clock")
        # >= 8 candles of 3 symbols: >= 3 timestamps, 0.6 s of pacing, in which "paced" would move
        await until(lambda: clock.core.candles_seen >= 8, what="the witness to replay 3 timestamps")
        assert eng.core.candles_seen == n and eng.state == ev.PAUSED  # nothing moved while paused
        eng.resume()
        await until(lambda: eng.core.candles_seen > n, what="the replay to move on after resume")
        await services.stop_engine("clock")
        await services.stop_engine("paced")
        return eng

    eng = run(go())
    assert seen == [ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.RUNNING, ev.STOPPING, ev.STOPPED]
    assert eng.reason == "stopped by user"
    with pytest.raises(Exception, match="can only pause a running engine"):
        eng.pause()


def test_strategy_exception_puts_engine_in_error_and_app_stays_up(services):
    services.save_connection(paper("buggy", strategy="exploding", strategy_params={"after": 100}))
    services.save_connection(paper("fine"))

    async def go():
        bad = await services.start_engine("buggy")
        await bad.wait()
        good = await services.start_engine("fine")
        await good.wait()
        return bad, good

    bad, good = run(go())
    assert bad.state == ev.ERROR
    assert "exploding" in bad.reason and "ZeroDivisionError: bug in the strategy" in bad.reason
    assert good.state == ev.STOPPED and good.summary()["candles"] > 0
    services.recorder.flush().result()
    log = [e.message for e in repo.events("buggy")]
    assert any("Traceback" in m and "bug in the strategy" in m for m in log)
    assert repo.latest_run("buggy").state == "error"


@pytest.mark.parametrize("params, needle", [
    ({"fast": 30, "slow": 10}, "slow: must be greater than fast"),
    ({"size": 0}, "size: must be > 0"),
    ({"size": 1.5}, "size: must be <= 1"),
    ({"fast": "ten"}, "fast: expected a whole number"),
])
def test_invalid_strategy_parameters_give_clear_error(services, params, needle):
    services.save_connection(paper("bad", strategy_params=params))
    eng = run(services.start_engine("bad"))
    assert eng.state == ev.ERROR and needle in eng.reason
    assert repo.latest_run("bad") is None  # nothing half-started


def test_corrupt_replay_file_gives_clear_error(services, tmp_path):
    data = tmp_path / "replay"
    data.mkdir()
    for f in DATA.glob("BITTREX_*.csv"):
        shutil.copy(f, data / f.name)
    lines = (data / "BITTREX_LTC-BTC_5m_2018-01.csv").read_text().splitlines()
    lines[100] = "1515590000000,0.017,oops,0.016,0.017,10"
    (data / "BITTREX_LTC-BTC_5m_2018-01.csv").write_text("\n".join(lines))
    (data / "BITTREX_ADA-BTC_5m_2018-01.csv").unlink()
    services.replay_data_dir = data
    services.save_connection(paper("corrupt"))
    eng = run(services.start_engine("corrupt"))
    assert eng.state == ev.ERROR
    assert "file not found" in eng.reason or "line 101: high is not a number" in eng.reason


def test_restart_keeps_history(dirs):
    first = AppServices(*dirs)
    first.save_connection(paper("keep"))

    async def go(s):
        eng = await s.start_engine("keep")
        await eng.wait()
        return eng.summary()

    s1 = run(go(first))
    first.close()

    second = AppServices(*dirs)
    try:
        assert second.connection("keep").dataset == "bittrex-btc-5m"     # settings survive
        closed = second.closed_positions("keep")
        assert len(closed) == s1["trades"]
        assert second.last_summary("keep")["trades"] == s1["trades"]
        assert len(second.equity_curve("keep")) == 5760
        assert any("end of data" in e.message for e in second.events("keep"))
        s2 = run(go(second))
        assert repo.counts("keep")["runs"] == 2
        assert repo.counts("keep")["orders"] == s1["orders"] + s2["orders"]
    finally:
        second.close()


def test_database_from_newer_schema_is_refused_untouched(dirs):
    s = AppServices(*dirs)
    s.save_connection(paper("old"))

    async def go():
        eng = await s.start_engine("old")
        await eng.wait()

    run(go())
    s.close()
    db_path = dirs[0] / DB_FILENAME
    con = sqlite3.connect(db_path)
    con.execute("update meta set value = '999' where key = 'schema_version'")
    con.commit()
    orders_before = con.execute("select count(*) from orders").fetchone()[0]
    con.close()
    with pytest.raises(SchemaTooNewError, match="newer CTS Desktop"):
        open_database(dirs[0])
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from orders").fetchone()[0] == orders_before > 0
    assert con.execute("select value from meta where key='schema_version'").fetchone()[0] == "999"


def test_unusable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        open_database(blocker / "sub")


def test_several_strategies_each_on_its_own_symbols(services):
    services.save_connection(paper(
        "two", strategy_symbols=["ETH/BTC"],
        extra_strategies=[{"strategy": "rsi", "params": {"period": 14, "size": 0.2}, "symbols": ["LTC/BTC", "ADA/BTC"]}]))

    async def go():
        eng = await services.start_engine("two")
        await eng.wait()
        return eng

    eng = run(go())
    assert eng.state == ev.STOPPED, eng.reason
    by_strategy = {}
    for p in eng.core.portfolio.closed:
        by_strategy.setdefault(p.strategy, set()).add(p.symbol)
    assert by_strategy["ma_cross"] == {"ETH/BTC"}
    assert by_strategy["rsi"] <= {"LTC/BTC", "ADA/BTC"} and by_strategy["rsi"]
    run_row = repo.latest_run("two")
    assert run_row.strategy == "ma_cross+rsi"
    assert [s["strategy"] for s in json.loads(run_row.params)["strategies"]] == ["ma_cross", "rsi"]


def test_run_result_gives_the_same_analytics_live_and_from_the_database(dirs):
    s = AppServices(*dirs)
    s.save_connection(paper("stats"))

    async def go():
        eng = await s.start_engine("stats")
        await eng.wait()

    run(go())
    live = s.run_result("stats")
    # the account's drawdown (cards, summary) and the analytics' (from the curve) are one figure,
    # also with three symbols sharing each timestamp
    assert s.last_summary("stats")["max_drawdown"] == pytest.approx(live.metrics.max_drawdown, rel=1e-12)
    s.close()
    s2 = AppServices(*dirs)
    try:
        stored = s2.run_result("stats")
        assert stored.metrics.trades == live.metrics.trades > 0
        assert stored.metrics.final_equity == pytest.approx(live.metrics.final_equity, rel=1e-12)
        assert stored.metrics.profit_factor == pytest.approx(live.metrics.profit_factor)
        assert stored.metrics.max_drawdown == pytest.approx(live.metrics.max_drawdown)
        assert len(stored.curve) == len(live.curve) == 5760
    finally:
        s2.close()
