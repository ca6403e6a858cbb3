"""Parameter optimisation: search a strategy's declared parameters for the best value of a metric.

One service for ``cts-desktop optimize`` and a future Tools > Optimize window (no Qt): build a
:class:`StudyRequest`, call :func:`run_study` (``progress(done, total, eta_s)`` after each chunk of
trials, ``cancelled()`` checked between chunks), read the :class:`StudyResult`. Every study is kept
in the database (tables ``Study`` and ``trials``) and reopened with :func:`load_study`.

* search: ``grid`` (every point), ``random`` (``n_trials`` points from the seed) or ``tpe``
  (Optuna's TPE sampler, seeded). TPE asks ``batch`` trials at a time, evaluates them in parallel
  and tells them in trial-number order, so the sampler sees the same history whatever the number
  of workers (``batch`` is a setting of the study, not of the machine).
* objective: a metric of :data:`cts_desktop.core.objectives.DIRECTIONS` (its direction is known);
  constraints: a minimum number of trades, a maximum drawdown (fraction). A trial that breaks one,
  or whose objective is undefined (Sharpe of a run under 2 days), is ``infeasible`` and never best.
* trials run without database writes (:mod:`.research_pool`); :func:`rerun_best` runs the best
  parameters again with full recording and writes its HTML report.

Bad input raises :class:`~cts_desktop.services.backtests.BacktestInputError` whose ``field`` names
the setting (``param fast``, ``objective``, ``n_trials``, ``method``, ``batch``, ``data``...).
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

from ..core.objectives import MAXIMIZE, Constraints, direction, is_better, objective_value
from ..store import studies as repo
from ..store.db import DB_FILENAME, open_database, proxy
from ..store.presets import PresetStore
from ..store.studies import StudyRow, TrialRow
from . import backtests
from .backtests import BacktestInputError, BacktestInputs, BacktestSettings
from .research_data import DataSpec, Outcome, TrialJob, load_data
from .research_pool import Executor, StudyCancelled, make_executor
from .research_space import SearchSpace, parse_space

METHODS = ("grid", "random", "tpe")
ProgressFn = Callable[[int, int, Optional[float]], None]


@dataclass
class StudyRequest:
    """What to search: ``strategy`` and its ``space`` (``NAME=SPEC`` texts, see
    :mod:`.research_space`), the ``data``, the account ``settings``, the ``method``, the
    ``objective`` metric, ``n_trials`` (random and TPE; a grid runs every point), the constraints
    ``min_trades`` and ``max_drawdown`` (fraction), the ``seed``, TPE's ``batch``, and where to run:
    ``workers`` (None: every local core) or ``ray`` (``auto``, ``local`` or an address)."""

    strategy: str
    space: List[str]
    data: DataSpec
    settings: BacktestSettings = field(default_factory=lambda: BacktestSettings(cash=10_000.0))
    method: str = "grid"
    objective: str = "sharpe"
    n_trials: int = 100
    min_trades: int = 0
    max_drawdown: Optional[float] = None
    seed: int = 0
    batch: int = 16
    workers: Optional[int] = None
    ray: Optional[str] = None

    @property
    def constraints(self) -> Constraints:
        return Constraints(self.min_trades, self.max_drawdown)

    def check(self) -> SearchSpace:
        """The parsed space; raises ``KeyError`` (unknown strategy) or :class:`BacktestInputError`."""
        space = parse_space(self.strategy, self.space)
        if self.method not in METHODS:
            raise BacktestInputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}", "method")
        try:
            direction(self.objective)
            self.constraints.check()
        except KeyError as exc:
            raise BacktestInputError(f"objective: {exc.args[0]}", "objective") from None
        except ValueError as exc:
            raise BacktestInputError(str(exc), str(exc).split(":")[0]) from None
        if self.n_trials < 1:
            raise BacktestInputError(f"n_trials must be >= 1, got {self.n_trials}", "n_trials")
        if self.batch < 1:
            raise BacktestInputError(f"batch must be >= 1, got {self.batch}", "batch")
        if self.workers is not None and self.workers < 1:
            raise BacktestInputError(f"workers must be >= 1, got {self.workers}", "workers")
        self.settings.check()
        if self.method == "grid":
            space.grid()  # a continuous range or a grid too large is refused before anything runs
        return space

    def to_json(self) -> Dict[str, Any]:
        d = asdict(self)
        d["data"] = self.data.to_json()
        return d

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "StudyRequest":
        """The request stored with a study (see :meth:`to_json`)."""
        d = dict(d)
        d["data"] = DataSpec.from_json(d["data"])
        d["settings"] = BacktestSettings(**d["settings"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class StudyResult:
    """A finished (or cancelled) study: its database id, trials in number order, the best one (None
    when no trial counts), the ``state`` (finished / cancelled), wall time (s) and where it ran."""

    study_id: int
    strategy: str
    objective: str
    direction: str
    method: str
    data: str
    trials: List[TrialRow]
    best: Optional[TrialRow]
    state: str = "finished"
    elapsed_s: float = 0.0
    workers: int = 1
    engine: str = "local"
    fixed: Dict[str, Any] = field(default_factory=dict)


def to_trial(o: Outcome, objective: str, constraints: Constraints, params: Dict[str, Any],
             window: Optional[int] = None) -> TrialRow:
    """A trial row from a worker's outcome, with its feasibility decided here."""
    number, state, reason, metrics = o
    value = None
    if state == "ok":
        value = objective_value(metrics, objective)
        reason = constraints.violation(metrics) or ("" if value is not None else f"{objective} is undefined")
        if reason:
            state, value = "infeasible", None
    return TrialRow(number, params, state, value, reason, metrics, window)


def best_of(trials: List[TrialRow], how: str) -> Optional[TrialRow]:
    """The best ``ok`` trial (the earliest of equals), or None."""
    best: Optional[TrialRow] = None
    for t in trials:
        if t.state == "ok" and t.value is not None and is_better(t.value, best.value if best else None, how):
            best = t
    return best


def search(req: StudyRequest, space: SearchSpace, ex: Executor, job: TrialJob, *, window: Optional[int] = None,
           on_batch: Optional[Callable[[List[TrialRow]], None]] = None, progress: Optional[ProgressFn] = None,
           cancelled: Optional[Callable[[], bool]] = None) -> List[TrialRow]:
    """Run the search over ``job``'s span; ``on_batch(trials)`` after each batch (to store them).
    Raises :class:`StudyCancelled` with the finished trials in ``outcomes``."""
    t0 = time.perf_counter()
    total = space.grid_size() if req.method == "grid" else req.n_trials
    out: List[TrialRow] = []

    def tick(done_in_batch: int) -> None:
        if progress is not None:
            done = len(out) + done_in_batch
            elapsed = time.perf_counter() - t0
            progress(done, total, elapsed / done * (total - done) if done else None)

    def run_batch(points: List[Dict[str, Any]]) -> List[TrialRow]:
        items = list(enumerate(points, start=len(out)))
        try:
            outcomes = ex.evaluate(job, items, tick, cancelled)
        except StudyCancelled as exc:
            rows = [to_trial(o, req.objective, req.constraints, points[o[0] - len(out)], window)
                    for o in exc.outcomes]
            if on_batch is not None:
                on_batch(rows)
            raise StudyCancelled(out + rows) from None
        rows = [to_trial(o, req.objective, req.constraints, p, window) for o, p in zip(outcomes, points, strict=True)]
        out.extend(rows)
        if on_batch is not None:
            on_batch(rows)
        return rows

    if req.method == "grid":
        run_batch(space.grid())
    elif req.method == "random":
        run_batch(space.random(req.n_trials, req.seed))
    else:
        _tpe(req, space, run_batch)
    return out


def _tpe(req: StudyRequest, space: SearchSpace, run_batch: Callable[[List[Dict[str, Any]]], List[TrialRow]]) -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists: Dict[str, Any] = {}
    for d in space.dims:
        if d.kind == "list":
            dists[d.name] = CategoricalDistribution(list(d.values))
        elif d.kind == "int":
            dists[d.name] = IntDistribution(int(d.low), int(d.high), step=int(d.step or 1))
        else:
            dists[d.name] = FloatDistribution(d.low, d.high, step=d.step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constraints_func is marked experimental
        sampler = optuna.samplers.TPESampler(seed=req.seed, constraints_func=lambda t: t.user_attrs.get("c", (0.0,)))
        how: Any = direction(req.objective)
        study = optuna.create_study(direction=how, sampler=sampler)
    done = 0
    while done < req.n_trials:
        asked = [study.ask(dists) for _ in range(min(req.batch, req.n_trials - done))]
        rows = run_batch([dict(t.params) for t in asked])
        for t, row in zip(asked, rows, strict=True):  # told in trial-number order
            value = row.value if row.value is not None else objective_value(row.metrics, req.objective)
            if value is None:
                study.tell(t, state=TrialState.FAIL)
                continue
            t.set_user_attr("c", (0.0,) if row.state == "ok" else (1.0,))
            study.tell(t, max(-1e300, min(1e300, value)))
        done += len(asked)


def run_study(req: StudyRequest, data_dir: Path, *, progress: Optional[ProgressFn] = None,
              cancelled: Optional[Callable[[], bool]] = None, inputs: Optional[BacktestInputs] = None) -> StudyResult:
    """Check ``req``, load its data (or use ``inputs``), run the search and keep the study in
    ``data_dir``'s database. A cancelled study is kept (state ``cancelled``) with the trials that
    finished. Raises ``KeyError``, :class:`BacktestInputError`, ``CandleFileError``, ``StoreError``."""
    space = req.check()
    inputs = inputs or load_data(req.data, req.settings.fee)
    how = direction(req.objective)
    db = open_database(data_dir)
    try:
        sid = repo.create_study("optimize", req.strategy, inputs.label, req.method, req.objective, how, req.to_json())
        t0 = time.perf_counter()
        job = TrialJob(req.strategy, space.fixed, req.settings)
        state = "finished"
        try:
            with make_executor(req.workers, req.ray) as ex:
                ex.open(inputs)
                try:
                    trials = search(req, space, ex, job, on_batch=lambda rows: repo.add_trials(sid, rows),
                                    progress=progress, cancelled=cancelled)
                except StudyCancelled as exc:
                    trials, state = exc.outcomes, "cancelled"
        except BaseException as exc:  # a worker died, Ray failed...: the study says so, then the error goes on
            repo.finish_study(sid, "error", None, {}, f"{type(exc).__name__}: {exc}")
            raise
        best = best_of(trials, how)
        elapsed = time.perf_counter() - t0
        summary = {"elapsed_s": elapsed, "workers": ex.workers, "engine": ex.engine, "fixed": space.fixed,
                   "feasible": sum(t.state == "ok" for t in trials)}
        repo.finish_study(sid, state, best.number if best else None, summary)
    finally:
        db.close()
    return StudyResult(sid, req.strategy, req.objective, how, req.method, inputs.label, trials, best, state, elapsed,
                       ex.workers, ex.engine, space.fixed)


@contextmanager
def _reading(data_dir: Path) -> Iterator[None]:
    """The database of ``data_dir`` for a read: the one this thread already has open there (an
    app's: used and left open, the models stay bound to it) or opened for the read and closed."""
    bound = proxy.obj
    path = getattr(bound, "database", None)
    if bound is not None and path and not bound.is_closed() and Path(path) == Path(data_dir) / DB_FILENAME:
        yield
        return
    db = open_database(data_dir)
    try:
        yield
    finally:
        db.close()


def load_study(data_dir: Path, study_id: int) -> StudyResult:
    """A stored study with its trials. Raises :class:`BacktestInputError` (field ``study``)."""
    with _reading(data_dir):
        row = repo.get_study(study_id)
        if row is None:
            raise BacktestInputError(f"study: no study {study_id} in {Path(data_dir)}", "study")
        trials = repo.trials(study_id)
    best = next((t for t in trials if t.number == row.best_trial and t.window is None), None)
    s = row.summary
    return StudyResult(row.id, row.strategy, row.objective, row.direction, row.method, row.data, trials, best,
                       row.state, s.get("elapsed_s", 0.0), s.get("workers", 1), s.get("engine", "local"),
                       s.get("fixed", {}))


def list_studies(data_dir: Path, limit: int = 50) -> List[StudyRow]:
    """The newest studies first."""
    with _reading(data_dir):
        return repo.list_studies(limit)


def study_request(data_dir: Path, study_id: int) -> Optional[StudyRequest]:
    """The request a stored study ran with (to re-run its best trial), or None when unknown."""
    with _reading(data_dir):
        row = repo.get_study(study_id)
    return StudyRequest.from_json(row.request) if row is not None and row.request else None


def best_params(result: StudyResult) -> Dict[str, Any]:
    """The best trial's full parameters (fixed ones included, defaults filled in). Raises
    :class:`BacktestInputError` (field ``study``) when no trial counts."""
    if result.best is None:
        raise BacktestInputError(f"study: study {result.study_id} has no feasible trial", "study")
    return dict(backtests.make_strategy(result.strategy, {**result.fixed, **result.best.params}).p)


def rerun_best(result: StudyResult, req: StudyRequest, data_dir: Path, report: Optional[Path] = None
               ) -> backtests.BacktestResult:
    """Run the best parameters again over the study's data with full recording (a ``backtest`` run
    in the database) and write its HTML report to ``report`` when given. Raises ``OSError`` for the
    report, :class:`BacktestInputError` when there is no best trial."""
    strategy = backtests.make_strategy(result.strategy, best_params(result))
    inputs = load_data(req.data, req.settings.fee)
    run = backtests.run(strategy, inputs, req.settings, data_dir=data_dir)
    if report is not None:
        info = backtests.report_info(strategy, inputs, req.settings, run)
        lines = dict(info.settings or {})
        lines.update({"study": result.study_id, "objective": f"{result.objective} ({result.direction})"})
        info = backtests.ReportInfo(info.title, info.params, lines)
        backtests.write_report(report, run, info)
    return run


def export_trials(path: Path, trials: List[TrialRow]) -> int:
    """Write every trial as CSV: window, number, state, value, reason, one column per parameter and
    per key metric (fractions and quote money, unformatted). Returns the rows written; raises ``OSError``."""
    from .research_export import write_trials_csv
    return write_trials_csv(path, trials)


def save_preset(config_dir: Path, name: str, result: StudyResult, settings: BacktestSettings) -> Dict[str, Any]:
    """Keep the best parameters (and the study's account settings) as preset ``name`` in the presets
    file the backtest window and the Connections tab read. Raises ``OSError``."""
    preset = {"strategy": result.strategy, "params": best_params(result), "cash": settings.cash,
              "fee": settings.fee, "slippage": settings.slippage, "max_position": settings.max_position}
    PresetStore(config_dir).save(name, preset)
    return preset


__all__ = ["METHODS", "MAXIMIZE", "StudyRequest", "StudyResult", "run_study", "load_study", "list_studies",
           "rerun_best", "export_trials", "save_preset", "best_params", "search", "study_request"]
