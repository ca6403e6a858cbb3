"""The terminal side of ``cts-desktop connections``: exit codes, the error that ends a command,
the output streams (with every secret read scrubbed from what is printed) and reading
credentials from standard input or a hidden prompt, never from arguments."""
from __future__ import annotations

import contextlib
import getpass
from typing import Dict, Iterable, Iterator, List, TextIO

from cts_desktop.services import connection_rules as rules
from cts_desktop.services.connection_rules import RuleError
from cts_desktop.store.secrets import CREDENTIAL_FIELDS, SecretStoreError
from cts_desktop.store.settings import SettingsError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class CliError(Exception):
    """A human message and the exit code to end with."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def settings_failure(exc: SettingsError) -> CliError:
    return CliError(EXIT_ENVIRONMENT, f"{exc}. Check the directory's permissions or choose another one with --config-dir.")


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """Turn what the connection services raise into a :class:`CliError`: a broken rule is bad
    input, a refused keyring call a failure, an unwritable settings file the environment."""
    try:
        yield
    except RuleError as exc:
        raise CliError(EXIT_USAGE, str(exc)) from None
    except SecretStoreError as exc:
        raise CliError(EXIT_FAILED, str(exc)) from None
    except SettingsError as exc:
        raise settings_failure(exc) from None


class IO:
    """The command's streams; whatever is printed has the secrets read so far replaced by ``<hidden>``."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO):
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.scrub_values: List[str] = []

    def _clean(self, text: str) -> str:
        # shorter "secrets" would mangle ordinary words
        return rules.scrub(text, [v for v in self.scrub_values if len(v) >= 4])

    def out(self, text: str = "") -> None:
        print(self._clean(text), file=self.stdout, flush=True)

    def err(self, text: str) -> None:
        print("cts-desktop connections: " + self._clean(text), file=self.stderr, flush=True)


def read_secrets_stdin(io: IO) -> Dict[str, str]:
    """Parse ``field=value`` lines. Error messages name the line number and field, never the value."""
    secrets: Dict[str, str] = {}
    for lineno, raw in enumerate(io.stdin.read().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        field, sep, value = line.partition("=")
        field = field.strip()
        if not sep:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: expected field=value")
        if field not in CREDENTIAL_FIELDS:
            shown = field if len(field) <= 20 else field[:20] + "…"
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: unknown credential field {shown!r}; "
                           f"expected one of: {', '.join(CREDENTIAL_FIELDS)}")
        if field in secrets:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: {field} given twice")
        value = value.strip()
        if not value:
            raise CliError(EXIT_USAGE, f"standard input line {lineno}: {field} is empty")
        secrets[field] = value
        io.scrub_values.append(value)
    if not secrets:
        raise CliError(EXIT_USAGE, "--secrets-stdin: no field=value lines on standard input")
    return secrets


def prompt_secrets(io: IO, exchange: str, fields: Iterable[str], *, keep_hint: bool) -> Dict[str, str]:
    if not (hasattr(io.stdin, "isatty") and io.stdin.isatty()):
        raise CliError(EXIT_USAGE, "no terminal for a hidden prompt: pipe the credentials with --secrets-stdin "
                       "(one field=value per line), or use --no-credentials")
    secrets: Dict[str, str] = {}
    suffix = " (empty: keep current)" if keep_hint else " (empty: skip)"
    for field in fields:
        value = getpass.getpass(f"{exchange} {field}{suffix}: ").strip()
        if value:
            secrets[field] = value
            io.scrub_values.append(value)
    return secrets
