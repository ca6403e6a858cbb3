"""The command line as a user types it: real processes, real files, real databases."""
from __future__ import annotations

import hashlib
import json
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import pytest

from cts_desktop.cli import exit_codes
from cts_desktop.cli.main import _commands, build_parser
from cts_desktop.store.db import DB_FILENAME, DatabaseDamaged, open_database
from cts_desktop.store.settings import BUILTIN_PAPER_NAME

from tests.conftest import DATA, REPO

PAPER = BUILTIN_PAPER_NAME


def cts(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "cts_desktop", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def small_csv(tmp_path: Path, timestamps, name="c.csv") -> Path:
    p = tmp_path / name
    rows = "".join(f"{t},{100 + i % 7},{110 + i % 7},{90 + i % 7},{101 + i % 7},1\n" for i, t in enumerate(timestamps))
    p.write_text("timestamp,open,high,low,close,volume\n" + rows)
    return p


# -- global options, --version, --duration, help text -------------------------------------------
@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_before_or_after_connections(tmp_path, where):
    data = tmp_path / "data"
    opts = ["--data-dir", str(data)]
    cmd = [*opts, "connections", "list", "--json"] if where == "before" else ["connections", "list", "--json", *opts]
    r = cts(*cmd)
    assert r.returncode == 0, r.stderr
    assert [c["name"] for c in json.loads(r.stdout)] == [PAPER]
    assert (data / "config" / "connections.json").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_before_or_after_backtest(tmp_path, where):
    data, config = tmp_path / "data", tmp_path / "cfg"
    opts = ["--data-dir", str(data), "--config-dir", str(config), "--verbose"]
    bt = ["backtest", "--candles", str(DATA / "COINBASE_BTC-USD_1h_2017-2019.csv"), "--symbol", "BTC/USD", "--json"]
    r = cts(*(opts + bt if where == "before" else bt + opts))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["run_id"] == 1
    assert (data / DB_FILENAME).exists()


def test_a_value_before_the_command_is_not_overwritten_by_the_commands_default():
    args = build_parser().parse_args(["--data-dir", "X", "--verbose", "connections", "list"])
    assert args.data_dir == "X" and args.verbose is True and args.config_dir is None


def test_version_prints_the_package_version():
    r = cts("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"cts-desktop {metadata.version('cts-desktop')}"


@pytest.mark.parametrize("value", ["-1", "0", "nan", "soon"])
def test_duration_must_be_positive(tmp_path, value):
    r = cts("--data-dir", str(tmp_path), "--headless", "--connection", PAPER, "--duration", value)
    assert r.returncode == exit_codes.BAD_INPUT
    assert "argument --duration:" in r.stderr and "usage:" in r.stderr
    assert not (tmp_path / DB_FILENAME).exists()  # refused before anything ran


def test_every_option_named_in_a_help_text_exists():
    """A command's help may name its own options and those of its sub-commands, nothing else."""
    parser = build_parser()
    for p in [parser, *_commands(parser)]:
        known = {s for q in [p, *_commands(p)] for a in q._actions for s in a.option_strings}
        text = p.format_help()
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))
        assert named <= known, f"{p.prog}: the help names {sorted(named - known)}, which do not exist"


# -- exit codes ---------------------------------------------------------------------------------
def test_the_readme_table_lists_every_exit_code():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    constants = {name: value for name, value in vars(exit_codes).items()
                 if name.isupper() and isinstance(value, int) and not isinstance(value, bool)}
    assert {(name, code) for code, name, _ in exit_codes.TABLE} == {(n, c) for n, c in constants.items()}
    for code, name, meaning in exit_codes.TABLE:
        assert f"| {code} | `{name}` | {meaning} |" in section
    assert len(set(constants.values())) == len(constants)  # one meaning per code
    assert exit_codes.markdown_table() in readme


def test_no_command_returns_a_bare_number():
    """Every exit code in cli/ is a named constant of exit_codes (so the table stays the truth)."""
    for path in (REPO / "cts_desktop" / "cli").glob("*.py"):
        if path.name == "exit_codes.py":
            continue
        bare = re.findall(r"^\s*return -?\d+\b.*$", path.read_text(encoding="utf-8"), re.M)
        assert not bare, f"{path.name}: {bare}"


def test_an_unreachable_exchange_at_start_exits_unreachable_not_bad_input(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "data" / "config"
    cfg.mkdir(parents=True)
    conn = {"name": "Down", "exchange": "binance", "symbols": ["BTC/USDT"], "testnet": False,
            "base_url": f"http://127.0.0.1:{port}"}
    (cfg / "connections.json").write_text(json.dumps({"version": 1, "connections": [conn]}))
    r = cts("--data-dir", str(tmp_path / "data"), "--headless", "--connection", "Down", "--speed", "max")
    assert r.returncode == exit_codes.UNREACHABLE, r.stderr
    assert "Cannot reach Binance" in r.stderr and "Traceback" not in r.stderr


def test_a_bad_setting_at_start_stays_bad_input(tmp_path):
    cfg = tmp_path / "data" / "config"
    cfg.mkdir(parents=True)
    conn = {"name": "NoSymbols", "exchange": "binance", "symbols": []}
    (cfg / "connections.json").write_text(json.dumps({"version": 1, "connections": [conn]}))
    r = cts("--data-dir", str(tmp_path / "data"), "--headless", "--connection", "NoSymbols")
    assert r.returncode == exit_codes.BAD_INPUT and "no symbols configured" in r.stderr


def test_ctrl_c_stops_a_headless_run_cleanly_with_130(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path), "--headless",
                             "--connection", PAPER, "--speed", "real time", "--verbose"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[str]" = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not lines.get(timeout=max(0.1, deadline - time.monotonic())).startswith("state      running"):
            pass  # the run is under way once the engine says so (queue.Empty past the deadline)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    out = "".join(lines.queue)
    assert proc.returncode == exit_codes.INTERRUPTED, err
    # Ctrl+C runs the kill switch (cancel, flatten, stop); the stop says which of the two ended it first
    assert (f"{PAPER}: stopped (interrupted)" in out or f"{PAPER}: stopped (kill switch)" in out), out[-1500:]
    assert "summary {" in out


# -- headless --verbose -------------------------------------------------------------------------
def test_verbose_headless_prints_the_engines_events(tmp_path):
    r = cts("--data-dir", str(tmp_path), "--headless", "--connection", PAPER, "--speed", "max", "--verbose")
    assert r.returncode == 0, r.stderr
    kinds = {line.split(" ", 1)[0] for line in r.stdout.splitlines()}
    assert {"state", "order", "fill", "position", "signal", "log"} <= kinds
    lines = r.stdout.splitlines()
    assert lines[0] == "state      initializing"
    first_fill = next(line for line in lines if line.startswith("fill "))
    assert re.match(r"fill       2021-12-31 \d\d:\d\d buy [\d.]+ BTC/USD:USD @ [\d.]+, fee [\d.]+ USD, position #1$",
                    first_fill)
    assert "state      stopped (end of data)" in lines
    assert "DEBUG peewee" not in r.stderr  # the app's own debug lines only


def test_quiet_headless_prints_no_events(tmp_path):
    r = cts("--data-dir", str(tmp_path), "--headless", "--connection", PAPER, "--speed", "max", "--duration", "1")
    assert r.returncode == 0, r.stderr
    assert not any(line.startswith(("order ", "fill ", "state ")) for line in r.stdout.splitlines())


# -- candle files in other time units -----------------------------------------------------------
def test_backtest_converts_a_candle_file_in_seconds_and_says_so(tmp_path):
    start = 1_640_995_200  # 2022-01-01 00:00 UTC, in seconds
    csv = small_csv(tmp_path, [start + 60 * i for i in range(200)])
    r = cts("backtest", "--candles", str(csv), "--symbol", "BTC/USD", "--no-store", "--json")
    assert r.returncode == 0, r.stderr
    assert "warning: c.csv: timestamps are in seconds, not milliseconds: converted" in r.stderr
    assert json.loads(r.stdout)["candles"] == 200


def test_backtest_refuses_a_file_mixing_time_units_naming_them(tmp_path):
    csv = small_csv(tmp_path, [1_640_995_200, 1_640_995_260, 1_640_995_320_000])
    r = cts("backtest", "--candles", str(csv), "--symbol", "BTC/USD", "--no-store")
    assert r.returncode == exit_codes.BAD_INPUT
    assert "line 4: timestamp 1640995320000 looks like milliseconds, but the first row's is in seconds" in r.stderr


# -- a damaged database -------------------------------------------------------------------------
def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damaged_database(data: Path) -> Path:
    """A real database (one backtest of the FTX month recorded), then 64 bytes inside the root page
    of its ``orders`` table overwritten, where that page keeps its cells (the child page numbers
    and row ids), as a disk or a copy gone wrong would."""
    r = cts("backtest", "--dataset", "ftx-btc-perp-1m", "--data-dir", str(data), "--json")
    assert r.returncode == 0, r.stderr
    path = data / DB_FILENAME
    con = sqlite3.connect(path)
    page_size = con.execute("pragma page_size").fetchone()[0]
    root = con.execute("select rootpage from sqlite_master where name = 'orders'").fetchone()[0]
    assert con.execute("select count(*) from orders").fetchone()[0] > 1000  # several pages: an interior root
    con.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        page = fh.read(page_size)
        assert page[0] == 0x05  # an interior table b-tree page
        cells = int.from_bytes(page[5:7], "big")  # where its cell content starts
        fh.seek((root - 1) * page_size + cells)
        fh.write(b"\xa5" * 64)
    return path


def test_a_damaged_database_is_found_at_open_and_never_written(tmp_path):
    data = tmp_path / "data"
    path = damaged_database(data)
    before, mtime = sha(path), path.stat().st_mtime_ns
    with pytest.raises(DatabaseDamaged) as err:
        open_database(data)
    assert "is damaged" in str(err.value) and "nothing was written" in str(err.value)
    assert err.value.path == path and "page" in err.value.detail
    assert sha(path) == before and path.stat().st_mtime_ns == mtime
    # no -wal/-shm made either (the data dir also holds the run's logs/ folder)
    assert sorted(p.name for p in data.iterdir() if p.name.startswith(DB_FILENAME)) == [DB_FILENAME]

    r = cts("--data-dir", str(data), "--headless", "--connection", PAPER, "--speed", "max")
    assert r.returncode == exit_codes.BAD_INPUT
    assert "is damaged" in r.stderr and "--fresh-database" in r.stderr and "Traceback" not in r.stderr
    assert sha(path) == before

    r = cts("backtest", "--dataset", "ftx-btc-perp-1m", "--data-dir", str(data))
    assert r.returncode == exit_codes.BAD_INPUT and "--fresh-database" in r.stderr
    assert sha(path) == before


def test_fresh_database_keeps_the_damaged_file_aside_and_starts_anew(tmp_path):
    data = tmp_path / "data"
    path = damaged_database(data)
    before = sha(path)
    (data / (DB_FILENAME + "-wal")).write_bytes(b"wal of the damaged file")
    (data / (DB_FILENAME + "-shm")).write_bytes(b"shm of the damaged file")
    r = cts("--data-dir", str(data), "--headless", "--connection", PAPER, "--speed", "max", "--duration", "1",
            "--fresh-database")
    assert r.returncode == 0, r.stderr
    aside = [p for p in data.iterdir() if ".damaged-" in p.name]
    main_aside = next(p for p in aside if re.fullmatch(re.escape(DB_FILENAME) + r"\.damaged-\d{8}T\d{6}Z", p.name))
    assert "the damaged database was moved to" in r.stderr and main_aside.name in r.stderr
    assert sha(main_aside) == before
    assert Path(f"{main_aside}-wal").read_bytes() == b"wal of the damaged file"
    assert Path(f"{main_aside}-shm").exists()  # SQLite's shared-memory index: readers rebuild it, not data
    con = sqlite3.connect(path)  # the fresh one holds this run only
    assert con.execute("pragma quick_check").fetchone()[0] == "ok"
    assert con.execute("select count(*) from run").fetchone()[0] == 1
