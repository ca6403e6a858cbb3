#!/bin/sh
# Build the double-click app: a one-folder PyInstaller bundle in dist/cts-desktop/.
#
#   sh packaging/build.sh            # then run dist/cts-desktop/cts-desktop
#
# Needs the virtual environment made by packaging/setup.sh (.venv/); PyInstaller is added to it.
# resources/ (recorded market data, styles) travels inside the bundle; the app finds it through
# sys._MEIPASS (see cts_desktop/exchange/replay.py: resources_dir). pyqtgraph's OpenGL module is
# left out (it needs PyOpenGL, which we do not use); keyring's backends are collected because
# keyring discovers them through entry points, which PyInstaller cannot follow.
set -eu
cd "$(dirname "$0")/.."
PY=${CTS_VENV:-.venv}/bin/python
if [ ! -x "$PY" ]; then
    echo "build: run sh packaging/setup.sh first (no virtual environment at ${CTS_VENV:-.venv})" >&2
    exit 1
fi
"$PY" -m pip install -q --disable-pip-version-check -e ".[build]"
sep=":"
case "$(uname -s)" in MINGW*|MSYS*|CYGWIN*) sep=";" ;; esac
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --name cts-desktop --windowed \
    --distpath dist --workpath build/pyinstaller --specpath build \
    --add-data "$(pwd)/resources${sep}resources" \
    --collect-submodules keyring.backends \
    --collect-submodules cts_desktop \
    --exclude-module pyqtgraph.opengl \
    --exclude-module tkinter \
    packaging/launcher.py
echo "built: dist/cts-desktop/cts-desktop"
