"""The exit codes of every ``cts-desktop`` command, in one place.

=====  ==================  ==================================================================
code   name                meaning
=====  ==================  ==================================================================
0      ``OK``              done; a run stopped cleanly (end of data, ``--duration`` reached)
1      ``FAILED``          the work ran and failed: the engine ended in error, a backtest's
                           strategy failed, a connection test failed, a live switch was refused
2      ``BAD_INPUT``       bad input, nothing was run: a wrong option or value, an unknown
                           connection, invalid strategy parameters, a bad candle file, an
                           unusable data or config directory, a corrupt settings file, a
                           damaged database or one from a newer version, a window asked
                           for where there is no display (use ``--headless``)
3      ``ENVIRONMENT``     something the machine lacks: no secure keyring
4      ``UNREACHABLE``     the exchange could not be reached at start (name not resolved,
                           connection refused or timed out, exchange down or rate-limiting)
130    ``INTERRUPTED``     stopped by Ctrl+C (SIGINT); a run's records so far are kept
=====  ==================  ==================================================================

:data:`TABLE` holds the same facts as data; the README's "Exit codes" table lists each of them
(``tests/integration/test_cli_main.py`` checks that it does).
"""
from __future__ import annotations

from typing import Optional, Tuple

OK = 0
FAILED = 1
BAD_INPUT = 2
ENVIRONMENT = 3
UNREACHABLE = 4
INTERRUPTED = 130

#: ``(code, name, meaning)`` for each exit code, in the order of the docstring's table.
TABLE: Tuple[Tuple[int, str, str], ...] = (
    (OK, "OK", "done; a run stopped cleanly (end of data, `--duration` reached)"),
    (FAILED, "FAILED", "the work ran and failed: the engine ended in error, a backtest's strategy failed, "
                       "a connection test failed, a live switch was refused"),
    (BAD_INPUT, "BAD_INPUT", "bad input, nothing was run: a wrong option or value, an unknown connection, "
                             "invalid strategy parameters, a bad candle file, an unusable data or config "
                             "directory, a corrupt settings file, a damaged database or one from a newer version, "
                             "a window asked for where there is no display (use `--headless`)"),
    (ENVIRONMENT, "ENVIRONMENT", "something the machine lacks: no secure keyring"),
    (UNREACHABLE, "UNREACHABLE", "the exchange could not be reached at start (name not resolved, connection "
                                 "refused or timed out, exchange down or rate-limiting)"),
    (INTERRUPTED, "INTERRUPTED", "stopped by Ctrl+C (SIGINT); a run's records so far are kept"),
)

#: :class:`~cts_desktop.exchange.errors.GatewayError` kinds that mean "could not reach the exchange".
UNREACHABLE_KINDS = frozenset({"dns", "network", "timeout", "maintenance", "unavailable", "rate-limit", "banned"})


def for_start_failure(exc: Optional[BaseException]) -> int:
    """The exit code for an engine that could not start because of ``exc`` (None: unknown cause).

    :data:`UNREACHABLE` when ``exc`` is an exchange error of an :data:`UNREACHABLE_KINDS` kind,
    else :data:`BAD_INPUT` (the connection's settings, symbols or keys are what is wrong).
    """
    kind = getattr(exc, "kind", None)
    return UNREACHABLE if kind in UNREACHABLE_KINDS else BAD_INPUT


def markdown_table() -> str:
    """:data:`TABLE` as the Markdown table the README shows."""
    rows = ["| code | name | meaning |", "|---|---|---|"]
    rows += [f"| {code} | `{name}` | {meaning} |" for code, name, meaning in TABLE]
    return "\n".join(rows)
