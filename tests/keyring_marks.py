"""The marker for tests that write to a real keyring: they run only inside tests/keyring_session.sh
(a private, throw-away Secret Service), never against a developer's own keyring."""
import os

import pytest

from cts_desktop.store.secrets import SecretStore


def _keyring_skip_reason():
    if not os.environ.get("CTS_KEYRING_SESSION"):
        return ("needs the private test keyring: run under tests/keyring_session.sh "
                "(these tests write secrets, so they never run against your own keyring)")
    ok, why = SecretStore.available()
    return None if ok else f"no Secret Service reachable inside tests/keyring_session.sh: {why}"


_SKIP = _keyring_skip_reason()


def keyring_test(fn):
    """Mark ``fn`` as a real-keyring test (``-m keyring``), skipped with the reason outside the session."""
    return pytest.mark.keyring(pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")(fn))
