"""The trade database: peewee models on SQLite (WAL), schema versioning and migrations.

File: ``<data dir>/cts-desktop.sqlite3`` (``platformdirs.user_data_dir("cts-desktop")`` unless
``--data-dir`` overrides it). Every order, fill, position, signal, equity point and engine event
of every run is kept; nothing is deleted by the app.

Schema versions are recorded in the ``meta`` table. Opening a database written by a newer app
raises :class:`SchemaTooNewError` and touches nothing; a damaged one (``PRAGMA quick_check``,
see :mod:`.db_check`) raises :class:`DatabaseDamaged` and touches nothing. Older versions are upgraded with
``playhouse.migrate`` steps in :data:`MIGRATIONS`, inside one transaction.
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Callable, Dict

from . import db_check

from playhouse.migrate import SqliteMigrator, migrate
from peewee import (AutoField, BlobField, BooleanField, CharField, DatabaseProxy, Field, FloatField, ForeignKeyField,
                    IntegerField, Model, PeeweeException, SqliteDatabase, TextField)

SCHEMA_VERSION = 5
DB_FILENAME = "cts-desktop.sqlite3"

proxy = DatabaseProxy()


class StoreError(Exception):
    """The database cannot be opened or written; the message says which file and why."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer CTS Desktop."""


class DatabaseDamaged(StoreError, db_check.DatabaseDamagedError):
    """The database file is damaged (``path``, ``detail``); nothing was written to it.
    :func:`set_aside_damaged` keeps it aside so that a fresh one can start."""


def database_path(data_dir: Path) -> Path:
    """``<data_dir>/cts-desktop.sqlite3``."""
    return Path(data_dir) / DB_FILENAME


def set_aside_damaged(data_dir: Path) -> Path:
    """Rename the database of ``data_dir`` (with its -wal/-shm) to
    ``cts-desktop.sqlite3.damaged-<UTC time>``; returns that path. Raises :class:`StoreError`."""
    try:
        return db_check.set_aside(database_path(data_dir))
    except OSError as exc:
        raise StoreError(f"cannot move the damaged database aside in {data_dir}: {exc.strerror or exc}") from None


class BaseModel(Model):
    class Meta:
        database = proxy


class Meta(BaseModel):
    key = CharField(primary_key=True)
    value = TextField()


class Run(BaseModel):
    """One engine run (or backtest) of one connection. Times in ms UTC (wall clock)."""

    id = AutoField()
    connection = CharField(index=True)
    mode = CharField()  # paper-replay / paper / live / backtest
    dataset = CharField(default="")
    strategy = CharField(default="")
    params = TextField(default="{}")  # JSON
    currency = CharField(default="")
    starting_balance = FloatField(default=0.0)
    started_at = IntegerField()
    ended_at = IntegerField(null=True)
    state = CharField(default="running")  # running / stopped / error / finished / interrupted
    reason = TextField(default="")
    last_candle_ts = IntegerField(null=True)  # market time replayed up to (resume point)
    summary = TextField(default="{}")  # JSON, written at the end


class OrderRec(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, backref="orders", on_delete="CASCADE")
    connection = CharField(index=True)
    client_order_id = CharField(unique=True)
    exchange_id = CharField(null=True)
    symbol = CharField()
    side = CharField()
    type = CharField()
    amount = FloatField()
    price = FloatField(null=True)
    status = CharField()
    state = CharField()
    filled = FloatField(default=0.0)
    remaining = FloatField(default=0.0)
    average = FloatField(null=True)
    cost = FloatField(default=0.0)
    fee = FloatField(default=0.0)
    fee_currency = CharField(default="")
    reason = CharField(default="")
    position_id = IntegerField(null=True)
    strategy = CharField(default="")
    error = TextField(default="")
    stop_loss = FloatField(null=True)  # entry orders: distance from the fill price, fraction
    take_profit = FloatField(null=True)
    timestamp = IntegerField()
    trigger = FloatField(null=True)  # app-held stop orders: the trigger price (quote)

    class Meta:
        table_name = "orders"


class FillRec(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, backref="fills", on_delete="CASCADE")
    connection = CharField(index=True)
    fill_id = CharField()
    order_id = CharField()
    client_order_id = CharField(index=True)
    symbol = CharField()
    side = CharField()
    amount = FloatField()
    price = FloatField()
    cost = FloatField()
    fee = FloatField()
    fee_currency = CharField(default="")
    taker_or_maker = CharField(default="taker")
    position_id = IntegerField(null=True)
    timestamp = IntegerField()

    class Meta:
        table_name = "fills"
        indexes = ((("connection", "fill_id"), True),)


class PositionRec(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, backref="positions", on_delete="CASCADE")
    connection = CharField(index=True)
    position_id = IntegerField()
    symbol = CharField()
    side = CharField()
    amount = FloatField()
    max_amount = FloatField()
    entry_price = FloatField()
    exit_price = FloatField(default=0.0)
    realized_pnl = FloatField(default=0.0)
    fees = FloatField(default=0.0)
    last_price = FloatField(default=0.0)
    stop_loss = FloatField(null=True)
    take_profit = FloatField(null=True)
    opened_at = IntegerField()
    closed_at = IntegerField(null=True, index=True)
    close_reason = CharField(default="")
    strategy = CharField(default="")
    meta = TextField(default="{}")
    protection = CharField(default="")  # where the stops live: "exchange" / "app" / ""

    class Meta:
        table_name = "positions"
        indexes = ((("run", "position_id"), True),)


class SignalRec(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, backref="signals", on_delete="CASCADE")
    connection = CharField(index=True)
    timestamp = IntegerField()
    symbol = CharField()
    side = CharField()
    intent = CharField()
    size = FloatField(null=True)
    confidence = FloatField(default=1.0)
    strategy = CharField(default="")
    reason = TextField(default="")
    accepted = BooleanField()
    verdict = TextField(default="")
    meta = TextField(default="{}")

    class Meta:
        table_name = "signals"


class EquityChunkRec(BaseModel):
    """Equity curve points of a run, packed: one row holds the points of one engine slice (a
    replay writes one per commit point) or a backtest's whole curve. ``timestamps`` are int64
    ms, ``equity`` and ``balance`` float64 in the run's quote currency, each packed with
    ``array.array(...).tobytes()`` (native byte order); ``points`` is their number. One point per
    candle timestamp; :func:`cts_desktop.store.repositories.equity_curve` unpacks them.

    Packed because a replay makes one point per candle (45,031 for the FTX month): one row per
    point cost more than the rest of the records together."""

    id = AutoField()
    run = ForeignKeyField(Run, backref="equity_chunks", on_delete="CASCADE")
    first_ts = IntegerField()
    last_ts = IntegerField()
    points = IntegerField()
    timestamps = BlobField()
    equity = BlobField()
    balance = BlobField()

    class Meta:
        table_name = "equity_chunks"
        indexes = ((("run", "first_ts"), False),)


CurveRec = EquityChunkRec  # a backtest's curve is one chunk


class EventRec(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, null=True, backref="events", on_delete="CASCADE")
    connection = CharField(index=True)
    timestamp = IntegerField()
    wall_time = FloatField()
    category = CharField()
    level = CharField()
    message = TextField()

    class Meta:
        table_name = "events"


class CandleRec(BaseModel):
    """One cached exchange candle (see ``store/candle_cache.py``). ``timestamp``: open time, ms
    UTC; prices in quote; volume as sent."""

    exchange = CharField()
    symbol = CharField()
    timeframe = CharField()
    timestamp = IntegerField()
    open = FloatField()
    high = FloatField()
    low = FloatField()
    close = FloatField()
    volume = FloatField()

    class Meta:
        table_name = "candle_cache"
        indexes = ((("exchange", "symbol", "timeframe", "timestamp"), True),)


class CandleSpanRec(BaseModel):
    """A span ``[start, end)`` (open times, ms UTC) whose closed candles have all been fetched."""

    id = AutoField()
    exchange = CharField()
    symbol = CharField()
    timeframe = CharField()
    start = IntegerField()
    end = IntegerField()

    class Meta:
        table_name = "candle_cache_spans"
        indexes = ((("exchange", "symbol", "timeframe", "start"), False),)


class Study(BaseModel):
    """A parameter search (``kind`` optimize) or a walk-forward analysis (``kind`` walkforward).
    ``request``: JSON of what was asked (strategy, space, method, objective, constraints, data,
    settings, seed); ``summary``: JSON of the outcome (best trial; walk-forward windows). Times ms UTC."""

    id = AutoField()
    kind = CharField(default="optimize")
    strategy = CharField()
    data = CharField(default="")  # the data's label
    method = CharField()  # grid / random / tpe
    objective = CharField()
    direction = CharField()  # maximize / minimize
    request = TextField(default="{}")
    state = CharField(default="running")  # running / finished / cancelled / error
    reason = TextField(default="")
    best_trial = IntegerField(null=True)  # Trial.number
    summary = TextField(default="{}")
    created_at = IntegerField()
    ended_at = IntegerField(null=True)


class Trial(BaseModel):
    """One evaluated parameter set of a study. ``state``: ok (counts), infeasible (breaks a
    constraint or the objective is undefined; ``reason`` says which), invalid (the strategy refused
    the parameters), error (the run failed). ``value``: the objective, null unless ok;
    ``metrics``: JSON of the key metrics; ``window``: walk-forward window index, null otherwise."""

    id = AutoField()
    study = ForeignKeyField(Study, backref="trials", on_delete="CASCADE")
    number = IntegerField()
    window = IntegerField(null=True)
    params = TextField(default="{}")
    state = CharField()
    value = FloatField(null=True)
    reason = TextField(default="")
    metrics = TextField(default="{}")

    class Meta:
        table_name = "trials"
        indexes = ((("study", "window", "number"), False),)


class ReconciliationRec(BaseModel):
    """What the start of a run found and did about earlier runs (``store/reconciliations.py``):
    ``summary`` is JSON (orders settled, fills booked, positions carried / adjusted / closed,
    orders adopted and listed, runs marked interrupted); ``ok`` False when reconciliation failed
    (the run is then close-only); ``created_at`` ms UTC."""

    id = AutoField()
    run = ForeignKeyField(Run, backref="reconciliations", on_delete="CASCADE")
    connection = CharField(index=True)
    created_at = IntegerField()
    ok = BooleanField(default=True)
    detail = TextField(default="")
    summary = TextField(default="{}")

    class Meta:
        table_name = "reconciliations"


MODELS = [Meta, Run, OrderRec, FillRec, PositionRec, SignalRec, EquityChunkRec, EventRec, CandleRec, CandleSpanRec,
          Study, Trial, ReconciliationRec]

# version -> function(database) upgrading from version-1 to version (playhouse.migrate steps)
MIGRATIONS: Dict[int, Callable[[SqliteDatabase], None]] = {
    2: lambda db: db.create_tables([Study, Trial]),  # research studies (optimisation, walk-forward)
    3: lambda db: _add_column(db, "positions", "protection", PositionRec.protection),  # where stops live
    4: lambda db: db.create_tables([ReconciliationRec]),  # start-up reconciliation summaries
    5: lambda db: _add_column(db, "orders", "trigger", OrderRec.trigger),  # app-held stop orders' trigger
}


BUSY_TIMEOUT_MS = 5000  # how long a connection waits for another writer (SQLite busy_timeout)


def _add_column(db: SqliteDatabase, table: str, name: str, fld: Field) -> None:
    """Add column ``name`` to ``table`` unless it is there (a table created by a later version)."""
    if name not in {c.name for c in db.get_columns(table)}:
        migrate(SqliteMigrator(db).add_column(table, name, fld))


def open_database(data_dir: Path) -> SqliteDatabase:
    """Open (creating or upgrading) the database in ``data_dir`` and bind the models to it.

    Raises :class:`StoreError` when the directory or file is not usable,
    :class:`SchemaTooNewError` for a database from a newer app and :class:`DatabaseDamaged` for a
    damaged file (checked read-only with ``PRAGMA quick_check`` before anything is written). WAL journal, foreign keys on,
    ``synchronous=NORMAL`` (durable at every checkpoint; a power cut can lose the last commits
    but never corrupts the file), no automatic checkpoints (the recorders run them: :mod:`.write_gate`).
    """
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {data_dir}: {exc.strerror or exc}") from None
    path = data_dir / DB_FILENAME
    try:
        detail = db_check.damage(path)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from None
    if detail is not None:
        raise DatabaseDamaged(path, detail)
    db = SqliteDatabase(
        str(path), check_same_thread=False,
        pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal", "busy_timeout": BUSY_TIMEOUT_MS, "wal_autocheckpoint": 0},
    )
    try:
        db.connect(reuse_if_open=True)
        proxy.initialize(db)
        with db.atomic():
            db.create_tables([Meta])
            row = Meta.get_or_none(Meta.key == "schema_version")
            version = int(row.value) if row else 0
            if version > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"{path} was written by a newer CTS Desktop (schema {version}, this app knows {SCHEMA_VERSION}); "
                    "upgrade the app, or start with another --data-dir. Nothing was changed."
                )
            if version == 0:
                db.create_tables(MODELS)
            else:
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[v](db)
            Meta.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
    except SchemaTooNewError:
        db.close()
        raise
    except (sqlite3.Error, PeeweeException, ValueError) as exc:  # peewee wraps sqlite3 errors in its own classes
        with contextlib.suppress(sqlite3.Error, PeeweeException):
            db.close()
        raise StoreError(f"cannot open the database {path}: {exc}") from None
    return db
