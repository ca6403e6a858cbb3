"""The fingerprint of a credential set: what the live-trading gate compares.

A pure function, so the connection test (exchange layer) and the keyring store (store layer)
share the one definition without importing each other.
"""
from __future__ import annotations

import hashlib
from typing import Mapping


def credentials_fingerprint(name: str, secrets: Mapping[str, str]) -> str:
    """Identify one credential set of one connection: sha256 hex digest (64 chars) of the
    UTF-8 text ``name`` followed, for each field in sorted order, by ``"\\n<field>=<value>"``.

    Values are used as given (the store keeps them stripped). The connection test records it
    and the live switch compares it with the current secrets, so a key changed after a test
    cannot go live untested. This is the single definition; ``store/secrets.py`` re-exports it
    and ``exchange/conntest.py`` imports it.
    """
    text = name + "".join(f"\n{field}={secrets[field]}" for field in sorted(secrets))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
