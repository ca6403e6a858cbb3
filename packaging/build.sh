#!/bin/sh
# Build the double-click app: a one-folder PyInstaller bundle in dist/cts-desktop/
# (and on macOS dist/CTS Desktop.app), from packaging/cts-desktop.spec.
#
#   sh packaging/build.sh            # then run dist/cts-desktop/cts-desktop
#   sh packaging/smoke.sh            # build, then run the bundle headless and offscreen (what CI does)
#
# Needs the virtual environment made by packaging/setup.sh (.venv/, or CTS_VENV); PyInstaller is
# added to it when missing. What the bundle holds and leaves out, and why: the comments at the top
# of packaging/cts-desktop.spec; sizes, times and the Windows/macOS builds: docs/packaging.md.
set -eu
cd "$(dirname "$0")/.."
VENV=${CTS_VENV:-.venv}
PY=$VENV/bin/python
if [ ! -x "$PY" ] && [ -x "$VENV/Scripts/python.exe" ]; then PY=$VENV/Scripts/python.exe; fi  # Windows (Git Bash)
if [ ! -x "$PY" ]; then
    echo "build: run sh packaging/setup.sh first (no virtual environment at ${CTS_VENV:-.venv})" >&2
    exit 1
fi
if ! "$PY" -c "import PyInstaller" >/dev/null 2>&1; then
    "$PY" -m pip install -q --disable-pip-version-check -e ".[build]"
fi
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/cts-desktop.spec
echo "built: dist/cts-desktop/cts-desktop"
