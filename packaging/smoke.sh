#!/bin/sh
# Build the one-folder bundle and prove the built executable works (CI runs this after the tests):
#   1. packaging/build.sh (the spec), timed, and its size;
#   2. packaging/check_bundle.py: the modules loaded only by name (live exchanges, keyring backends,
#      every cts_desktop module), resources and metadata are inside;
#   3. a headless run of the built-in paper connection for 5 s: exit 0 and a summary line;
#   4. a screenshot of the window after 3 s with QT_QPA_PLATFORM=offscreen: exit 0 and a real picture;
#   5. the same screenshot on Xvfb through Qt's xcb plugin, when xvfb-run is installed (it is after
#      setup.sh --test).
# Each run has its own temporary data folder. Exits non-zero at the first failure, saying which.
#
#   sh packaging/smoke.sh              # build, then check
#   sh packaging/smoke.sh --no-build   # check the bundle already in dist/cts-desktop
set -eu
cd "$(dirname "$0")/.."
PY=${CTS_VENV:-.venv}/bin/python
BUNDLE=dist/cts-desktop
EXE=$BUNDLE/cts-desktop
CONN="Paper - recorded market"

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

if [ "${1:-}" != "--no-build" ]; then
    [ -z "${1:-}" ] || { echo "usage: sh packaging/smoke.sh [--no-build]" >&2; exit 2; }
    t0=$(date +%s)
    sh packaging/build.sh || fail "the build"
    echo "smoke: built in $(( $(date +%s) - t0 )) s"
fi
[ -x "$EXE" ] || fail "no executable at $EXE"
echo "smoke: bundle size $(du -sh "$BUNDLE" | cut -f1) ($BUNDLE)"

"$PY" packaging/check_bundle.py "$BUNDLE" || fail "the bundle's contents"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cts-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 3. headless
rc=0
timeout 120 "$EXE" --headless --connection "$CONN" --speed max --duration 5 --data-dir "$tmp/headless" \
    >"$tmp/headless.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '^summary ' "$tmp/headless.log"; then
    cat "$tmp/headless.log" >&2
    fail "headless run (exit $rc)"
fi
echo "smoke: headless run ok: $(grep '^summary ' "$tmp/headless.log" | cut -c1-160)"

# 3b. the bundled pyarrow: a shipped CSV to Parquet and a backtest on the Parquet file
rc=0
{ timeout 120 "$EXE" candles convert resources/data/COINBASE_BTC-USD_1h_2017-2019.csv "$tmp/c.parquet" \
      --data-dir "$tmp/convert" &&
  timeout 120 "$EXE" backtest --strategy ma_cross --candles "$tmp/c.parquet" --symbol BTC/USD \
      --data-dir "$tmp/convert"; } >"$tmp/parquet.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$tmp/parquet.log" >&2
    fail "Parquet convert and backtest (exit $rc)"
fi
echo "smoke: Parquet convert and backtest ok"

# 4. offscreen screenshot
rc=0
QT_QPA_PLATFORM=offscreen timeout 120 "$EXE" --screenshot "$tmp/shot.png" --after 3 --data-dir "$tmp/gui" \
    >"$tmp/gui.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$tmp/gui.log" >&2
    fail "screenshot run (exit $rc)"
fi
# a real picture: a PNG of window size, and not one flat colour (a blank window compresses to a few KB)
"$PY" - "$tmp/shot.png" <<'PYEOF' || fail "the screenshot is not a picture of the window"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert w >= 800 and h >= 500, f"only {w}x{h}"
assert len(data) > 40_000, f"only {len(data)} bytes: a blank window?"
print(f"smoke: screenshot ok: {w}x{h}, {len(data) // 1024} KB")
PYEOF
if [ -n "${CTS_SMOKE_KEEP_SHOT:-}" ]; then cp "$tmp/shot.png" "$CTS_SMOKE_KEEP_SHOT"; fi

# 5. the same on a real X server (Xvfb), through Qt's xcb plugin: the libraries the offscreen
#    platform never loads (and those the spec leaves out with the GTK theme) are exercised too
if command -v xvfb-run >/dev/null 2>&1; then
    rc=0
    timeout 120 xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \
        "$EXE" --screenshot "$tmp/x11.png" --after 3 --data-dir "$tmp/x11" >"$tmp/x11.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || [ ! -s "$tmp/x11.png" ]; then
        cat "$tmp/x11.log" >&2
        fail "screenshot run on Xvfb (exit $rc)"
    fi
    echo "smoke: X11 (Xvfb) screenshot ok: $(( $(wc -c <"$tmp/x11.png") / 1024 )) KB"
else
    echo "smoke: NOTE: xvfb-run not found, the X11 run was not done (Debian: apt install xvfb)"
fi
echo "smoke: all passed"
