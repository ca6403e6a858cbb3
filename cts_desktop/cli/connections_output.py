"""What ``cts-desktop connections`` prints: the table (or JSON) of connections and the report of a
connection test. Never a secret: credentials appear only as field names or masked."""
from __future__ import annotations

import json
from typing import Any, List, Mapping

from cts_desktop.services import connection_rules as rules
from cts_desktop.services import connection_tests
from cts_desktop.store.settings import ConnectionConfig

from .connections_io import IO


def print_list(conns: List[ConnectionConfig], io: IO, as_json: bool) -> None:
    if as_json:
        rows = [{
            "name": c.name, "exchange": c.exchange, "market_type": c.market_type, "testnet": c.testnet,
            "live": c.live, "enabled": c.enabled, "credential_fields": list(c.credential_fields),
            "last_test": rules.test_summary(c.last_test), "builtin": c.builtin,
        } for c in conns]
        io.out(json.dumps(rows, indent=2))
        return
    header = ("NAME", "EXCHANGE", "MARKET", "TESTNET", "LIVE", "ENABLED", "LAST TEST")
    table = [(c.name, c.exchange, c.market_type, _yes(c.testnet), "LIVE" if c.live else "paper",
              _yes(c.enabled), rules.test_summary(c.last_test)) for c in conns]
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        io.out("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _fmt(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def print_result(conn: ConnectionConfig, result: Any, io: IO) -> None:
    """The test report: the same facts the GUI's test panel shows, one per line."""
    get = lambda name: connection_tests.field(result, name)  # noqa: E731 - tolerate a result without a field
    verdict = "PASSED" if result.ok else "FAILED"
    io.out(f"{verdict}: {conn.name!r} — {_fmt(get('status'))}")
    if not result.ok:
        io.out(f"  error kind:    {_fmt(get('error_kind'))}")
    latency, offset = get("latency_ms"), get("clock_offset_ms")
    io.out(f"  latency:       {'-' if latency is None else f'{latency:.0f} ms'}")
    io.out(f"  clock offset:  {'-' if offset is None else f'{round(offset):+d} ms (exchange minus this computer)'}")
    perms = get("permissions")
    if isinstance(perms, Mapping):
        granted, denied = connection_tests.permissions(perms)
        io.out(f"  permissions:   {', '.join(granted) or 'none'}")
        if denied:
            io.out(f"  not granted:   {', '.join(denied)}")
    else:
        io.out(f"  permissions:   {_fmt(perms)}")
    _print_rate_limits(get("rate_limits"), io)
    caps = get("capabilities")
    if isinstance(caps, Mapping):
        have, emulated, lack = connection_tests.capabilities(caps)
        io.out(f"  capabilities:  {', '.join(have) or '-'}")
        if emulated:
            io.out(f"  emulated:      {', '.join(emulated)}")
        if lack:
            io.out(f"  missing:       {', '.join(lack)}")
    else:
        io.out(f"  capabilities:  {_fmt(caps)}")
    balances = get("balances")
    if isinstance(balances, Mapping) and balances:
        io.out("  balances:")
        for asset, amount in balances.items():
            io.out(f"    {asset:<10} {_fmt(amount)}")
    else:
        io.out(f"  balances:      {_fmt(balances)}")
    for warning in get("warnings") or []:
        io.out(f"  warning: {warning}")
    _print_log(get("log") or [], io)
    io.out(f"  tested at:     {rules.fmt_time(get('tested_at')) or '-'}")


def _print_rate_limits(limits: Any, io: IO) -> None:
    if not isinstance(limits, Mapping):
        io.out(f"  rate limits:   {_fmt(limits)}")
        return
    io.out(f"  rate limits:   {_fmt({k: v for k, v in limits.items() if not isinstance(v, (list, dict))})}")
    for key, value in limits.items():
        if isinstance(value, list):
            for item in value:
                rule = connection_tests.exchange_limit(item)
                io.out(f"    {rule[0]}: {rule[1]}" if rule is not None else f"    {key}: {_fmt(item)}")
        elif isinstance(value, Mapping):
            io.out(f"    {key}: {_fmt(value)}")


def _print_log(log: List[Any], io: IO) -> None:
    if not log:
        return
    io.out("  requests:")
    for entry in log:
        if isinstance(entry, Mapping) and "request" in entry:
            ms = entry.get("ms")
            took = f" ({ms:.0f} ms)" if isinstance(ms, (int, float)) else ""
            io.out(f"    {entry['request']} -> {entry.get('outcome', '?')}{took}")
        else:
            io.out(f"    {_fmt(entry)}")
