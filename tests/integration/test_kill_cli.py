"""``cts-desktop kill`` and ``risk rearm/status`` as a trader uses them: real processes. A headless
run on the local venue (paper on exchange candles) is reached by ``kill NAME`` from another
process through the data dir; SIGTERM runs the same kill path."""
from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading

import pytest

from cts_desktop.store.breakers import LatchStore
from cts_desktop.store.settings import SettingsStore
from tests.conftest import REPO
from tests.venue.harness import connection_for
from tests.waits import wait_for

pytestmark = pytest.mark.timeout(120)
NAME = "venue paper"


def cts(dirs, *args, timeout=60):
    data, config = dirs
    return subprocess.run([sys.executable, "-m", "cts_desktop", *args, "--data-dir", str(data), "--config-dir",
                           str(config)], cwd=REPO, capture_output=True, text=True, timeout=timeout)


class Headless:
    """A headless run of ``NAME`` in a child process; its stdout lines are collected as they come."""

    def __init__(self, dirs):
        data, config = dirs
        self.proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--headless", "--connection", NAME, "-v",
                                      "--data-dir", str(data), "--config-dir", str(config)], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def saw(self, text):
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return any(text in line for line in self.seen)

    def finish(self, timeout=30):
        code = self.proc.wait(timeout)
        wait_for(lambda: self.saw("summary "), what="the summary line")
        return code, self.seen, self.proc.stderr.read()


@pytest.fixture
def configured(dirs, venue):
    data, config = dirs
    store = SettingsStore(config).load()
    store.put(connection_for(venue, NAME, live=False, rate_limit_per_second=1000, strategy_params={"timeframe": "5m"}))
    return dirs


def test_cli_kill_reaches_a_headless_child_process(configured):
    child = Headless(configured)
    try:
        wait_for(lambda: child.saw("state      running") or child.proc.poll() is not None, timeout=60,
                 what="the headless run to be running")
        assert child.proc.poll() is None, child.proc.stderr.read()
        res = cts(configured, "kill", NAME)
        assert res.returncode == 0, res.stderr
        assert f"{NAME}: kill switch: 0 orders canceled, 0 positions closed" in res.stdout
        code, out, err = child.finish()
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
    assert code == 130, err
    assert any(line.startswith(f"{NAME}: stopped (kill switch)") for line in out)


def test_sigterm_in_headless_runs_the_kill_path(configured):
    child = Headless(configured)
    try:
        wait_for(lambda: child.saw("state      running") or child.proc.poll() is not None, timeout=60,
                 what="the headless run to be running")
        child.proc.send_signal(signal.SIGTERM)
        code, out, err = child.finish()
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
    assert code == 130
    assert "SIGTERM: kill switch" in err
    assert any("kill switch: 0 orders canceled" in line for line in out)
    assert any(line.startswith(f"{NAME}: stopped (kill switch)") for line in out)


def test_cli_kill_without_a_running_engine_says_so(configured):
    res = cts(configured, "kill", NAME, "--timeout", "0.5")
    assert res.returncode == 1
    assert f"no running engine of {NAME} answered within 0.5 s" in res.stderr


def test_cli_risk_status_and_rearm(configured):
    data, _ = configured
    LatchStore(data).latch(NAME, "max drawdown 21.0% reached the limit 20.0%", 1_700_000_000_000)
    res = cts(configured, "risk", "status")
    assert res.returncode == 0 and f"{NAME}: latched since 2023-11-14 22:13 UTC: max drawdown 21.0%" in res.stdout
    res = cts(configured, "risk", "rearm", NAME)
    assert res.returncode == 0 and "re-armed" in res.stdout
    assert LatchStore(data).latched(NAME) is None
    res = cts(configured, "risk", "rearm", NAME)
    assert res.returncode == 1 and "not latched" in res.stderr
    res = cts(configured, "risk", "rearm", "nope")
    assert res.returncode == 2 and "nope" in res.stderr


def test_connections_edit_sets_the_breakers_and_refuses_bad_ones(configured):
    res = cts(configured, "connections", "edit", NAME, "--max-order-notional", "500", "--min-free-balance", "100",
              "--max-leverage", "2", "--daily-loss-limit", "0.03", "--max-drawdown", "0.1",
              "--max-orders-per-minute", "4")
    assert res.returncode == 0, res.stderr
    risk = SettingsStore(configured[1]).load().get(NAME).risk
    assert {k: risk[k] for k in ("max_order_notional", "min_free_balance", "max_leverage", "daily_loss_limit",
                                 "max_drawdown", "max_orders_per_minute")} == {
        "max_order_notional": 500.0, "min_free_balance": 100.0, "max_leverage": 2.0, "daily_loss_limit": 0.03,
        "max_drawdown": 0.1, "max_orders_per_minute": 4}
    res = cts(configured, "connections", "edit", NAME, "--max-drawdown", "1.5")
    assert res.returncode == 2 and "max_drawdown must be a fraction in [0, 1)" in res.stderr
