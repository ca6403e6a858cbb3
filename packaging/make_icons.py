"""Render resources/icons/cts-desktop.svg into the icon files each platform's bundle needs.

    python packaging/make_icons.py OUTDIR        # (the spec file runs this itself)

Writes into OUTDIR:
  cts-desktop-<N>.png  for N in 16 24 32 48 64 128 256 512 1024 (Linux, and the sources of the others)
  cts-desktop.ico      Windows: 16 24 32 48 64 128 256, each entry a PNG (Windows Vista and later)
  cts-desktop.icns     macOS: ic07..ic14 and icp4/icp5, each entry a PNG (macOS 10.7 and later)

Qt renders the SVG (PySide6.QtSvg, offscreen: no display needed); the .ico and .icns containers
are written here (both are a small header and a table of PNG images), so no Pillow, ImageMagick
or iconutil is needed on any of the three systems. Each file is read back and checked.
"""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "cts-desktop.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns entry type -> pixel size (the @2x types hold the doubled size)
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("ic11", 32), ("ic12", 64), ("ic07", 128), ("ic13", 256),
              ("ic08", 256), ("ic14", 512), ("ic09", 512), ("ic10", 1024))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def render_pngs(svg: Path, sizes) -> dict[int, bytes]:
    """PNG bytes of ``svg`` drawn at each size (transparent background, antialiased)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: cannot read {svg} as SVG")
    out: dict[int, bytes] = {}
    for n in sizes:
        image = QImage(n, n, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buf, "PNG"):
            raise SystemExit(f"make_icons: Qt could not encode a {n}x{n} PNG")
        buf.close()
        out[n] = bytes(data.data())
    return out


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO file: ICONDIR (reserved 0, type 1, count) + one 16-byte ICONDIRENTRY per image
    (width/height 0 meaning 256) + the PNG images."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for n in sizes:
        data = pngs[n]
        side = 0 if n >= 256 else n
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICNS file: 'icns' + total length, then per entry its type, length (header included)
    and the PNG image; all numbers big-endian."""
    body = b"".join(t.encode("ascii") + struct.pack(">I", 8 + len(pngs[n])) + pngs[n] for t, n in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def check_ico(data: bytes, sizes) -> None:
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, len(sizes)), "ico header"
    for i, n in enumerate(sorted(sizes)):
        w, h, _c, _r, _p, _b, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert (w or 256) == n and (h or 256) == n, f"ico entry {i} size"
        assert data[offset:offset + 8] == PNG_MAGIC and offset + length <= len(data), f"ico entry {i} data"


def check_icns(data: bytes) -> None:
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data), "icns header"
    pos, seen = 8, []
    while pos < len(data):
        kind = data[pos:pos + 4].decode("ascii")
        length = struct.unpack_from(">I", data, pos + 4)[0]
        assert data[pos + 8:pos + 16] == PNG_MAGIC and length > 8, f"icns entry {kind}"
        seen.append(kind)
        pos += length
    assert pos == len(data) and seen == [t for t, _n in ICNS_TYPES], "icns entries"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/make_icons.py OUTDIR", file=sys.stderr)
        return 2
    outdir = Path(argv[0])
    outdir.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(SVG, PNG_SIZES)
    for n, data in pngs.items():
        (outdir / f"cts-desktop-{n}.png").write_bytes(data)
    ico = ico_bytes({n: pngs[n] for n in ICO_SIZES})
    check_ico(ico, ICO_SIZES)
    (outdir / "cts-desktop.ico").write_bytes(ico)
    icns = icns_bytes(pngs)
    check_icns(icns)
    (outdir / "cts-desktop.icns").write_bytes(icns)
    print(f"make_icons: {len(pngs)} PNGs, cts-desktop.ico ({len(ico)} bytes), "
          f"cts-desktop.icns ({len(icns)} bytes) in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
