#!/bin/sh
# One-step set-up on a fresh Debian-like machine (Python 3.11+ with pip).
#
#   sh packaging/setup.sh          # the app and what it needs to run
#   sh packaging/setup.sh --test   # plus what the tests need (keyring daemon, pytest, pytest-qt)
#
# System packages: Qt's runtime libraries (also for the offscreen platform), fonts, and for the
# tests a private Secret Service (gnome-keyring on dbus). Installed with apt-get when it is
# available and we are root (or have sudo); otherwise the missing ones are listed.
set -eu
cd "$(dirname "$0")/.."

APT_RUN="libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 \
libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core"
APT_TEST="gnome-keyring dbus-x11 xvfb"

pkgs=$APT_RUN
extra=""
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs $APT_TEST"
    extra="[test]"
fi

if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $pkgs; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        echo "installing Debian packages:$missing"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
else
    echo "no apt-get: make sure Qt 6's runtime libraries${extra:+, gnome-keyring and dbus} are installed" >&2
fi

python3 -m pip install -q --disable-pip-version-check -e ".$extra"
