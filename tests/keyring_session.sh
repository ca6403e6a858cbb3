#!/bin/sh
# Run a command with its own, real, encrypted Secret Service keyring.
#
#   tests/keyring_session.sh python -m pytest -m keyring
#
# Creates private HOME / XDG_* directories in a temporary directory, starts a private D-Bus
# session bus (dbus-run-session) and gnome-keyring-daemon (secrets component only) on it,
# unlocked with a random password; gnome-keyring creates the "login" collection, which is the
# default one. The command then sees DBUS_SESSION_BUS_ADDRESS of that bus, so keyring's
# SecretService backend talks to this throw-away keyring and never to your own.
# CTS_KEYRING_SESSION is set to the temporary directory: tests that write to a real keyring
# run only when it is set. Everything is deleted on exit; the command's exit code is returned.
#
# Needs: dbus-run-session (Debian: dbus-daemon / dbus-x11) and gnome-keyring-daemon
# (Debian: gnome-keyring).
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 command [args...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found (Debian: apt install dbus-x11 gnome-keyring)" >&2
        exit 127
    fi
done

CTS_KEYRING_SESSION=$(mktemp -d "${TMPDIR:-/tmp}/cts-keyring.XXXXXX")
trap 'rm -rf "$CTS_KEYRING_SESSION"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
HOME=$CTS_KEYRING_SESSION/home
XDG_DATA_HOME=$CTS_KEYRING_SESSION/data
XDG_CONFIG_HOME=$CTS_KEYRING_SESSION/config
XDG_CACHE_HOME=$CTS_KEYRING_SESSION/cache
XDG_RUNTIME_DIR=$CTS_KEYRING_SESSION/run
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$CTS_KEYRING_SESSION" "$XDG_RUNTIME_DIR"
export CTS_KEYRING_SESSION HOME XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK PYTHON_KEYRING_BACKEND || true

PW=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export PW

status=0
dbus-run-session -- sh -c '
    echo -n "$PW" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    unset PW
    exec "$@"
' cts-keyring-session "$@" || status=$?
exit "$status"
