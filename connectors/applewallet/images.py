"""The pass's pictures: icon and logo PNGs drawn in code when the program gives none (pure).

Wallet requires icon.png (29x29 points; @2x and @3x for Retina) and shows logo.png (at most 160x50
points) beside logoText. With no Pillow in the project, the PNGs are written by hand: the signature,
IHDR (8-bit RGBA), one zlib-compressed IDAT of filter-0 rows, IEND, each chunk with its CRC-32
(PNG specification, ISO/IEC 15948). The mark is the program's foreground colour as a disc on its
background colour; a program that wants its real logo passes PNG bytes instead.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

from connectors.applewallet.errors import PassContentError
from connectors.applewallet.pass_json import PassColors, Rgb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICON_POINTS = 29
LOGO_POINTS = 50  # a square mark, inside the 160x50 logo area
SCALES = (1, 2, 3)

# Every image name a store card may carry (no thumbnail: that is for other pass styles); others are refused.
IMAGE_NAMES = frozenset(
    f"{base}{suffix}.png" for base in ("icon", "logo", "strip") for suffix in ("", "@2x", "@3x")
)


def scaled_name(base: str, scale: int) -> str:
    return f"{base}.png" if scale == 1 else f"{base}@{scale}x.png"


def default_images(colors: PassColors) -> dict[str, bytes]:
    """icon and logo at 1x, 2x and 3x: a disc in the foreground colour."""
    images: dict[str, bytes] = {}
    for scale in SCALES:
        icon = ICON_POINTS * scale
        images[scaled_name("icon", scale)] = disc_png(icon, colors.foreground, colors.background)
        logo = LOGO_POINTS * scale
        images[scaled_name("logo", scale)] = disc_png(logo, colors.foreground, None)
    return images


def pass_images(colors: PassColors, given: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """The drawn images with the program's own PNGs laid over them (checked to be PNGs)."""
    images = default_images(colors)
    for name, data in (given or {}).items():
        if name not in IMAGE_NAMES:
            raise PassContentError(f"{name!r} is not an image a store card carries")
        if not data.startswith(PNG_SIGNATURE):
            raise PassContentError(f"{name} is not a PNG")
        images[name] = data
    return images


def disc_png(size: int, disc: Rgb, background: Rgb | None) -> bytes:
    """A sizexsize RGBA PNG: a centred disc, on a colour or on transparency."""
    inside = bytes((disc.red, disc.green, disc.blue, 255))
    outside = (
        bytes((0, 0, 0, 0))
        if background is None
        else bytes((background.red, background.green, background.blue, 255))
    )
    centre, radius_sq = (size - 1) / 2, (size * 0.4) ** 2
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type 0: the row as it is
        for x in range(size):
            is_inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius_sq
            rows += inside if is_inside else outside
    return png(size, size, bytes(rows))


def png(width: int, height: int, filtered_rows: bytes) -> bytes:
    """An 8-bit RGBA PNG from rows that already carry their filter byte."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(filtered_rows, 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
