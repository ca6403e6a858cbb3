#!/bin/sh
# One-step set-up on a stock Debian 12 / Ubuntu 24.04 machine (or any Linux with Python 3.11+).
#
#   sh packaging/setup.sh          # the app in a virtual environment + a launcher
#   sh packaging/setup.sh --test   # plus what the tests need (keyring daemon, pytest, lint/type tools)
#
# What it does, in order:
# 1. System packages (apt-get, as root or with sudo): python3-venv where the system Python has no
#    venv/ensurepip (stock Debian/Ubuntu ship without them), Qt's runtime libraries, fonts, and for
#    the tests a private Secret Service (gnome-keyring on D-Bus) and Xvfb. A held apt/dpkg lock
#    (unattended upgrades on first boot) is waited for, up to CTS_APT_WAIT seconds (default 900).
#    Without apt-get the missing pieces are listed and the script goes on.
# 2. A virtual environment in .venv/ of this checkout (the system Python is never written to:
#    PEP 668 refuses that on current Debian/Ubuntu) with the app installed in it (editable).
# 3. A launcher: ~/.local/bin/cts-desktop, and on Linux a menu entry with icon
#    (~/.local/share/applications/cts-desktop.desktop).
#
# Environment: CTS_PYTHON picks the interpreter (default: the first python3.13 .. python3 that is 3.11+;
# one older than 3.11 is refused), CTS_VENV the environment's folder (default .venv), CTS_BIN_DIR the
# launcher folder (~/.local/bin), XDG_DATA_HOME where the menu entry goes (~/.local/share);
# CTS_NO_APT=1 never runs apt-get (missing system packages are only listed; the set-up test uses it).
# tests/integration/test_setup_script.py runs this script in a throw-away HOME and environment.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_RUN="libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 \
libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core"
APT_TEST="gnome-keyring dbus-x11 xvfb"

extra=""
pkgs=$APT_RUN
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs $APT_TEST"
    extra="[test]"
elif [ -n "${1:-}" ]; then
    echo "usage: sh packaging/setup.sh [--test]" >&2
    exit 2
fi

say() { echo "setup: $*"; }

# ---- 1. the Python to build the environment from -------------------------------------------------
py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
new_enough() { case "$1" in 3.1[1-9] | 3.[2-9][0-9] | [4-9].*) return 0 ;; esac; return 1; }
pick_python() {
    for p in python3.13 python3.12 python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1 && new_enough "$(py_version "$p")"; then
            echo "$p"; return
        fi
    done
}
if [ -n "${CTS_PYTHON:-}" ]; then
    v=$(py_version "$CTS_PYTHON" || true)
    if [ -z "$v" ]; then
        echo "setup: CTS_PYTHON=$CTS_PYTHON does not run as a Python interpreter." >&2
        exit 1
    fi
    if ! new_enough "$v"; then
        echo "setup: CTS Desktop needs Python 3.11 or newer; CTS_PYTHON=$CTS_PYTHON is Python $v." >&2
        exit 1
    fi
    PY=$CTS_PYTHON
else
    PY=$(pick_python)
fi
if [ -z "$PY" ]; then
    echo "setup: CTS Desktop needs Python 3.11 or newer (found: $(python3 --version 2>&1 || echo none))." >&2
    echo "setup: on Debian/Ubuntu: apt-get install python3 (Debian 12 has 3.11, Ubuntu 24.04 has 3.12)." >&2
    exit 1
fi
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ---- 2. system packages ----------------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_wait() {
    # Runs apt-get "$@", retrying while another apt/dpkg holds its lock (first boot's unattended
    # upgrades), for up to CTS_APT_WAIT seconds. Any other failure ends the script.
    waited=0
    limit=${CTS_APT_WAIT:-900}
    log=$(mktemp)
    while :; do
        if DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=60 "$@" >"$log" 2>&1; then
            rm -f "$log"; return 0
        fi
        if grep -qiE 'could not get lock|unable to lock|is another process using it' "$log" &&
           [ "$waited" -lt "$limit" ]; then
            [ "$waited" -eq 0 ] && say "another package manager is running (unattended upgrades?): waiting for it"
            sleep 10; waited=$((waited + 10)); continue
        fi
        cat "$log" >&2; rm -f "$log"
        echo "setup: apt-get $* failed" >&2
        exit 1
    done
}

VENV=${CTS_VENV:-$ROOT/.venv}
if [ ! -x "$VENV/bin/python" ]; then
    # Stock Debian/Ubuntu split venv's pip bootstrap (ensurepip) into python3.X-venv: try a
    # throw-away environment to see whether this Python can make one.
    probe=$(mktemp -d)
    if ! "$PY" -m venv "$probe/v" >/dev/null 2>&1; then
        pkgs="$pkgs python$PYVER-venv"
    fi
    rm -rf "$probe"
fi

if [ -n "${CTS_NO_APT:-}" ]; then
    missing=""
    if command -v dpkg >/dev/null 2>&1; then
        for p in $pkgs; do
            dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
        done
    fi
    [ -z "$missing" ] || say "CTS_NO_APT is set: not installing these system packages:$missing" >&2
elif command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    missing=""
    for p in $pkgs; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
            echo "setup: these system packages are missing and I am not root (no sudo):$missing" >&2
            exit 1
        fi
        say "installing system packages:$missing"
        apt_wait update -qq
        apt_wait install -y -qq --no-install-recommends $missing
    fi
else
    say "no apt-get here: make sure Python's venv module, Qt 6's runtime libraries${extra:+, gnome-keyring, dbus and Xvfb} are installed" >&2
fi

# ---- 3. the virtual environment ------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment $VENV (Python $PYVER)"
    "$PY" -m venv "$VENV"
fi
say "installing CTS Desktop${extra:+ with the test tools} into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c packaging/constraints.txt -e ".$extra"

# ---- 4. launcher and menu entry --------------------------------------------------------------------
BIN_DIR=${CTS_BIN_DIR:-$HOME/.local/bin}
mkdir -p "$BIN_DIR"
ln -sf "$VENV/bin/cts-desktop" "$BIN_DIR/cts-desktop"

if [ "$(uname -s)" = "Linux" ]; then
    APPS=${XDG_DATA_HOME:-$HOME/.local/share}/applications
    mkdir -p "$APPS"
    sed -e "s|@EXEC@|$BIN_DIR/cts-desktop|" -e "s|@ICON@|$ROOT/resources/icons/cts-desktop.svg|" \
        packaging/cts-desktop.desktop.in > "$APPS/cts-desktop.desktop"
    chmod 644 "$APPS/cts-desktop.desktop"
fi

say "done. Start it later with: $BIN_DIR/cts-desktop   (or from the applications menu: CTS Desktop)"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) say "($BIN_DIR is not on your PATH yet; it is after your next login on Debian/Ubuntu)" ;;
esac
