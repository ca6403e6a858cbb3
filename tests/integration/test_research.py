"""Research end to end on a slice of the FTX month with the real SQLite store: a study kept and
reopened, the same trials with 1 or 2 workers and on Ray, walk-forward, Monte Carlo on a
recorded backtest, cancelling, and the schema upgrade that adds the study tables."""
import csv
import sqlite3

import pytest

from cts_desktop.services import backtests, montecarlo, optimize
from cts_desktop.services.optimize import StudyRequest, load_study, run_study
from cts_desktop.services.research_data import DataSpec
from cts_desktop.services.walkforward import WalkForwardRequest, run_walkforward
from cts_desktop.store import db as store_db
from cts_desktop.store.presets import PresetStore

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
DAY = 86_400_000
SLICE = DataSpec(dataset="ftx-btc-perp-1m", start_ms=T0, end_ms=T0 + 2 * DAY)  # 2,880 one-minute candles
SPACE = ["fast=4:16:4", "slow=20:60:20", "size=0.5"]


def request(**kw):
    base = dict(strategy="ma_cross", space=SPACE, data=SLICE, objective="total_return", min_trades=45)
    return StudyRequest(**{**base, **kw})


def rows(result):
    return [(t.number, t.params, t.state, t.value, t.reason, t.metrics) for t in result.trials]


def test_study_kept_reopened_exported_and_best_rerun(tmp_path):
    data, config = tmp_path / "data", tmp_path / "config"
    seen = []
    result = run_study(request(workers=2), data, progress=lambda d, t, eta: seen.append((d, t)))
    assert result.state == "finished" and len(result.trials) == 12 and seen[-1] == (12, 12)
    states = {t.state for t in result.trials}
    assert "infeasible" in states and "ok" in states  # min_trades=45 rules some out
    for t in result.trials:
        if t.state == "infeasible":
            assert t.value is None and "trades < minimum 45" in t.reason and t.metrics["trades"] < 45
    ok = [t for t in result.trials if t.state == "ok"]
    assert result.best.value == max(t.value for t in ok)
    assert result.fixed == {"size": 0.5}

    again = load_study(data, result.study_id)
    assert rows(again) == rows(result) and again.best == result.best and again.state == "finished"
    assert [s.id for s in optimize.list_studies(data)] == [result.study_id]

    assert optimize.export_trials(tmp_path / "t.csv", result.trials) == 12
    with open(tmp_path / "t.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert table[0].keys() >= {"number", "state", "value", "fast", "slow", "trades", "sharpe", "max_drawdown"}

    run = optimize.rerun_best(result, request(workers=2), data, tmp_path / "best.html")
    assert run.run_id is not None and run.metrics.total_return == pytest.approx(result.best.value)
    assert "<svg" in (tmp_path / "best.html").read_text()

    optimize.save_preset(config, "best", result, request().settings)
    preset = PresetStore(config).get("best")
    assert preset["strategy"] == "ma_cross" and preset["params"]["size"] == 0.5
    assert {k: preset["params"][k] for k in result.best.params} == result.best.params


@pytest.mark.parametrize("method", ["grid", "random", "tpe"])
def test_same_trials_with_one_and_two_workers(tmp_path, method):
    kw = dict(method=method, n_trials=10, batch=4, seed=5)
    one = run_study(request(workers=1, **kw), tmp_path)
    two = run_study(request(workers=2, **kw), tmp_path)
    assert (one.workers, two.workers) == (1, 2)
    assert rows(one) == rows(two) and one.best == two.best


def test_ray_gives_the_local_pool_results(tmp_path):
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        kw = dict(method="tpe", n_trials=8, batch=4, seed=2, workers=2)
        on_ray = run_study(request(ray="auto", **kw), tmp_path)
        local = run_study(request(**kw), tmp_path)
    finally:
        ray.shutdown()
    assert on_ray.engine == "ray" and local.engine == "local"
    assert rows(on_ray) == rows(local)


def test_walkforward_windows_stitched_and_kept(tmp_path):
    spec = DataSpec(dataset="ftx-btc-perp-1m", start_ms=T0, end_ms=T0 + 4 * DAY)
    wf = WalkForwardRequest(request(data=spec, workers=2, min_trades=0), "1d", "1d")
    result = run_walkforward(wf, tmp_path)
    assert [(w.window.oos_start - T0) // DAY for w in result.windows] == [1, 2, 3]
    for w in result.windows:
        assert w.params is not None and w.trials == 12
        assert w.ratio == pytest.approx(w.oos_value / w.is_value)
    # stitched: chained window returns
    growth = 1.0
    for w in result.windows:
        growth *= 1 + w.oos_return
    assert result.metrics["total_return"] == pytest.approx(growth - 1, rel=1e-9)
    assert result.metrics["trades"] == sum(w.oos_trades for w in result.windows)
    assert result.curve[0][0] >= T0 + DAY and result.curve[-1][0] < T0 + 4 * DAY
    stored = load_study(tmp_path, result.study_id)
    assert {t.window for t in stored.trials} == {0, 1, 2} and len(stored.trials) == 36
    single = run_walkforward(WalkForwardRequest(request(data=spec, workers=1, min_trades=0), "1d", "1d"), tmp_path)
    assert single.metrics == result.metrics


def test_cancel_keeps_the_finished_trials(tmp_path):
    seen = []  # the user presses Cancel once the first trials are in
    result = run_study(request(workers=1, method="random", n_trials=40), tmp_path,
                       progress=lambda d, t, eta: seen.append(d), cancelled=lambda: bool(seen))
    assert result.state == "cancelled" and 0 < len(result.trials) < 40
    assert load_study(tmp_path, result.study_id).state == "cancelled"
    assert len(load_study(tmp_path, result.study_id).trials) == len(result.trials)


def test_montecarlo_on_a_recorded_backtest(tmp_path):
    strategy = backtests.make_strategy("ma_cross", {"fast": 8, "slow": 21})
    inputs = backtests.load_dataset("ftx-btc-perp-1m")
    run = backtests.run(strategy, inputs, backtests.BacktestSettings(cash=10_000), data_dir=tmp_path)
    trades = montecarlo.trades_from_run(tmp_path)  # the newest backtest run
    closed = [p.net_pnl for p in run.positions if p.closed_at is not None]
    assert trades.pnls == pytest.approx(closed) and trades.starting_equity == 10_000
    r = montecarlo.run(trades, 200, "shuffle", 1)
    assert r.actual_final_equity == pytest.approx(10_000 + sum(closed))
    assert montecarlo.write_fan(tmp_path / "fan.csv", r) == len(closed) + 1
    with pytest.raises(backtests.BacktestInputError, match="run: no backtest run 99"):
        montecarlo.trades_from_run(tmp_path, 99)


def test_a_version_1_database_gets_the_study_tables(tmp_path):
    store_db.open_database(tmp_path).close()
    con = sqlite3.connect(tmp_path / store_db.DB_FILENAME)
    con.execute("drop table trials")
    con.execute("drop table study")
    con.execute("update meta set value = '1' where key = 'schema_version'")
    con.commit()
    con.close()
    store_db.open_database(tmp_path).close()
    con = sqlite3.connect(tmp_path / store_db.DB_FILENAME)
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    assert {"study", "trials"} <= tables
    assert con.execute("select value from meta where key='schema_version'").fetchone()[0] == str(store_db.SCHEMA_VERSION)
