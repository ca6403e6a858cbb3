"""SecretStore against a real, encrypted Secret Service keyring.

The tests marked ``keyring`` write to a keyring, so they run only inside the private one made
by the wrapper (never your own desktop keyring)::

    tests/keyring_session.sh python -m pytest -m keyring tests/integration

Without it they are skipped with the reason. The refusal tests need no keyring and always run.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cts_desktop.cli import connections as cli_connections
from cts_desktop.store.secrets import (
    CREDENTIAL_FIELDS,
    SERVICE,
    NoSecureKeyringError,
    SecretStore,
    SecretStoreError,
    SecretValidationError,
    credentials_fingerprint,
    mask,
)

REPO = Path(__file__).resolve().parents[2]


from tests.keyring_marks import _SKIP, keyring_test  # noqa: F401,E402


def _fake_secret(tag: str) -> str:
    """A made-up value that cannot be a real key and is easy to search for."""
    return f"CTSTEST{tag}{uuid.uuid4().hex}"


@pytest.fixture
def store():
    return SecretStore.open()


@pytest.fixture
def conn_name(store):
    name = f"Test conn {uuid.uuid4().hex[:8]}"
    yield name
    store.delete_connection(name)


# -------------------------------------------------------------------------------------------
# real keyring
# -------------------------------------------------------------------------------------------
@keyring_test
def test_secret_service_backend_and_unlocked_login_collection(store):
    import keyring.backends.SecretService
    import secretstorage

    assert store.backend_name == "secretservice"
    assert type(store._backend) is keyring.backends.SecretService.Keyring
    bus = secretstorage.dbus_init()
    try:
        default = secretstorage.get_default_collection(bus)
        assert not default.is_locked()
        labels = {c.get_label() for c in secretstorage.get_all_collections(bus)}
        assert "Login" in labels or "login" in {label.lower() for label in labels}
    finally:
        bus.close()


@keyring_test
def test_round_trip_strips_and_uses_one_entry_per_field(store, conn_name):
    key, secret = _fake_secret("key"), _fake_secret("sec")
    store.set(conn_name, "apiKey", f"  {key}\n")
    store.set(conn_name, "secret", secret)
    assert store.get(conn_name, "apiKey") == key
    assert store.get_all(conn_name, ["apiKey", "secret", "password"]) == {"apiKey": key, "secret": secret}
    assert store.get(conn_name, "password") is None

    import secretstorage

    bus = secretstorage.dbus_init()
    try:
        items = list(secretstorage.get_default_collection(bus).search_items({"service": SERVICE, "username": f"{conn_name}:apiKey"}))
        assert len(items) == 1 and items[0].get_secret().decode() == key
    finally:
        bus.close()

    store.set(conn_name, "apiKey", key + "2")  # replaces, no duplicate
    assert store.get(conn_name, "apiKey") == key + "2"


@keyring_test
def test_delete_connection_removes_every_entry(store, conn_name):
    store.set(conn_name, "apiKey", _fake_secret("k"))
    store.set(conn_name, "secret", _fake_secret("s"))
    other = conn_name + " other"
    store.set(other, "apiKey", "keep-me-1234")
    try:
        assert sorted(store.delete_connection(conn_name, ["apiKey", "secret", "password"])) == ["apiKey", "secret"]
        assert store.get_all(conn_name, CREDENTIAL_FIELDS) == {}
        assert store.get(other, "apiKey") == "keep-me-1234"
        assert store.delete_connection(conn_name) == []  # nothing left: not an error
    finally:
        store.delete_connection(other)


@keyring_test
def test_rename_moves_entries(store, conn_name):
    key = _fake_secret("k")
    store.set(conn_name, "apiKey", key)
    new = conn_name + " renamed"
    try:
        assert store.rename_connection(conn_name, new, ["apiKey", "secret"]) == ["apiKey"]
        assert store.get(new, "apiKey") == key
        assert store.get(conn_name, "apiKey") is None
    finally:
        store.delete_connection(new)


@keyring_test
def test_validation_errors_never_echo_the_value(store, conn_name):
    value = _fake_secret("v")
    with pytest.raises(SecretValidationError, match="empty"):
        store.set(conn_name, "secret", "   \n")
    with pytest.raises(SecretValidationError, match="unknown credential field") as err:
        store.set(conn_name, "apikey", value)
    assert value not in str(err.value)
    with pytest.raises(SecretValidationError):
        store.set("  ", "apiKey", value)
    assert store.get(conn_name, "secret") is None


@keyring_test
def test_python_keyring_backend_env_cannot_downgrade(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    assert SecretStore.open().backend_name == "secretservice"


@keyring_test
def test_secrets_appear_in_no_file_log_or_output(tmp_path, caplog, capfd):
    """Add, edit, test-less live refusal and failing inputs through the CLI, in-process and in a
    subprocess; then no secret may be found in any file of the app's dirs (the wrapper's private
    HOME/XDG dirs, which also hold gnome-keyring's encrypted file) nor in any output or log."""
    caplog.set_level(logging.DEBUG)
    key, secret, new_secret = _fake_secret("KEY"), _fake_secret("SECRET"), _fake_secret("NEWSECRET")
    config = tmp_path / "config"
    name = f"Scan {uuid.uuid4().hex[:6]}"

    def cli(*argv, stdin=""):
        parser = argparse.ArgumentParser()
        cli_connections.add_subparser(parser.add_subparsers(dest="cmd"))
        out, err = io.StringIO(), io.StringIO()
        code = cli_connections.run(parser.parse_args(["connections", *argv]), config_dir=config,
                                   stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return code, out.getvalue() + err.getvalue()

    outputs = []
    try:
        code, text = cli("add", name, "--exchange", "binance", "--secrets-stdin", stdin=f"apiKey={key}\nsecret={secret}\n")
        assert code == 0, text
        outputs.append(text)
        assert mask(key, "apiKey") in text  # the masked form is what the user sees
        outputs.append(cli("list")[1])
        outputs.append(cli("list", "--json")[1])
        outputs.append(cli("edit", name, "--live", stdin=name + "\n")[1])
        # Bad input that contains the secret: duplicate field, then an unknown field.
        code, text = cli("edit", name, "--secrets-stdin", stdin=f"secret={new_secret}\nsecret={new_secret}\n")
        assert code == 2
        outputs.append(text)
        code, text = cli("edit", name, "--secrets-stdin", stdin=f"{new_secret}=x\n")
        assert code == 2
        outputs.append(text)
        code, text = cli("edit", name, "--secrets-stdin", stdin=f"secret={new_secret}\n")
        assert code == 0, text
        outputs.append(text)
        proc = subprocess.run(
            [sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(config), "list"],
            capture_output=True, text=True, cwd=REPO, timeout=60,
        )
        outputs += [proc.stdout, proc.stderr]
        assert SecretStore.open().get(name, "secret") == new_secret
    finally:
        SecretStore.open().delete_connection(name)

    captured = capfd.readouterr()
    haystacks = outputs + [captured.out, captured.err, caplog.text]
    roots = [config] + [Path(os.environ[v]) for v in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")]
    files = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
    assert (config / "connections.json") in files
    assert any(p.name.endswith(".keyring") for p in files), "gnome-keyring's file should be among the scanned ones"
    for value in (key, secret, new_secret):
        for text in haystacks:
            assert value not in text
        for path in files:
            data = path.read_bytes()
            assert value.encode() not in data, f"secret found in {path}"


# -------------------------------------------------------------------------------------------
# refusal of insecure backends: needs no keyring
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "backend",
    [
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "keyring.backends.chainer.ChainerBackend",
        "keyrings.alt.file.PlaintextKeyring",
        "keyrings.alt.file.EncryptedKeyring",
        "plaintext",
    ],
)
def test_insecure_backends_are_refused(backend):
    with pytest.raises(NoSecureKeyringError, match="not a secure store") as err:
        SecretStore.open(backend)
    assert "No secure keyring is available" in str(err.value)
    ok, message = SecretStore.available(backend)
    assert not ok and "not a secure store" in message
    assert isinstance(err.value, SecretStoreError)


NO_BUS_ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")},
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/cts-test-bus",
}


@pytest.mark.skipif(sys.platform != "linux", reason="Secret Service is the Linux backend")
def test_without_secret_service_open_fails_with_instructions():
    code = (
        "from cts_desktop.store.secrets import SecretStore, NoSecureKeyringError\n"
        "ok, msg = SecretStore.available(); print(ok); print(msg)\n"
        "try:\n    SecretStore.open()\nexcept NoSecureKeyringError as e:\n    print('raised')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=NO_BUS_ENV, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "False" and lines[-1] == "raised"
    assert "No secure keyring is available: start a Secret Service (GNOME Keyring or KWallet)" in lines[1]
    assert "gnome-keyring" in lines[1]


@pytest.mark.skipif(sys.platform != "linux", reason="Secret Service is the Linux backend")
def test_cli_refuses_to_store_secrets_without_keyring(tmp_path):
    secret = _fake_secret("nokeyring")
    proc = subprocess.run(
        [sys.executable, "-m", "cts_desktop.cli.connections", "--config-dir", str(tmp_path), "add", "X",
         "--exchange", "binance", "--secrets-stdin"],
        input=f"apiKey={secret}\nsecret={secret}\n", capture_output=True, text=True, env=NO_BUS_ENV, cwd=REPO, timeout=60,
    )
    assert proc.returncode == cli_connections.EXIT_ENVIRONMENT
    assert "No secure keyring is available" in proc.stderr
    assert secret not in proc.stdout + proc.stderr
    settings = (tmp_path / "connections.json").read_text()
    assert '"X"' not in settings and secret not in settings


# -------------------------------------------------------------------------------------------
# pure helpers
# -------------------------------------------------------------------------------------------
def test_mask_reveals_a_prefix_of_identifiers_only():
    assert mask("abcdefghijklmnop", "apiKey") == "abcd…••••••••"
    assert mask("abcdefghijklmnop", "secret") == "••••••••"
    assert mask("abcdefghijklmnop") == "••••••••"
    assert mask("short", "apiKey") == "••••••••"
    assert mask("x" * 200, "privateKey") == mask("y", "privateKey")  # length does not leak
    assert mask(None) == "" and mask("", "apiKey") == ""


def test_fingerprint_definition():
    import hashlib

    secrets = {"secret": "s", "apiKey": "k"}
    expected = hashlib.sha256("My Binance\napiKey=k\nsecret=s".encode()).hexdigest()
    assert credentials_fingerprint("My Binance", secrets) == expected
    assert credentials_fingerprint("My Binance", dict(reversed(list(secrets.items())))) == expected
    assert credentials_fingerprint("Other", secrets) != expected
    assert credentials_fingerprint("My Binance", {**secrets, "secret": "t"}) != expected
    assert len(expected) == 64
