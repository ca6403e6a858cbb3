"""The terminal side of ``cts-desktop connections``: exit codes, the error that ends a command,
the output streams (with every secret read scrubbed from what is printed) and reading
credentials from standard input or a hidden prompt, never from arguments."""
from __future__ import annotations

import contextlib
import errno
import getpass
from typing import Dict, Iterable, Iterator, List, TextIO

from cts_desktop.services import connection_rules as rules
from cts_desktop.services.connection_rules import RuleError
from cts_desktop.store.secrets import CREDENTIAL_FIELDS, SecretStoreError
from cts_desktop.store.settings import SettingsError

from . import exit_codes

EXIT_OK = exit_codes.OK
EXIT_FAILED = exit_codes.FAILED
EXIT_USAGE = exit_codes.BAD_INPUT
EXIT_ENVIRONMENT = exit_codes.ENVIRONMENT
EXIT_INTERRUPTED = exit_codes.INTERRUPTED

#: what to do about a settings file or directory the system refused, by ``errno``
_ERRNO_HINTS = {
    errno.EACCES: "Check the directory's permissions or choose another one with --config-dir.",
    errno.EPERM: "Check the directory's permissions or choose another one with --config-dir.",
    errno.EROFS: "The file system is read-only: choose a writable directory with --config-dir.",
    errno.ENOENT: "A folder on the way does not exist: create it or choose another directory with --config-dir.",
    errno.ENOTDIR: "A part of the path is a file, not a folder: choose another directory with --config-dir.",
    errno.EISDIR: "connections.json is a folder: move it away or choose another directory with --config-dir.",
    errno.ENOSPC: "The disk is full: free some space or choose another directory with --config-dir.",
    errno.EDQUOT: "The disk quota is used up: free some space or choose another directory with --config-dir.",
}


class CliError(Exception):
    """A human message and the exit code to end with."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def settings_hint(exc: SettingsError) -> str:
    """The advice for a settings failure, picked by its cause (``errno``): the permissions hint
    only when permissions are the cause; none when the message already says what to do."""
    return _ERRNO_HINTS.get(getattr(exc, "errno", None) or -1, "")


def settings_failure(exc: SettingsError) -> CliError:
    """A settings file or directory that cannot be used: bad input (exit 2), with the right hint."""
    hint = settings_hint(exc)
    return CliError(EXIT_USAGE, f"{exc}. {hint}" if hint else str(exc))


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
