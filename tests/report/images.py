"""Reading PNG files without an imaging library: size, and the pixels to tell a blank one."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> channels (8-bit, not palette)


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    pixels: np.ndarray  # (height, width, channels) uint8


def read_png(path: Path) -> Png:
    """Decode an 8-bit, non-interlaced PNG, checking every chunk's CRC."""
    data = Path(path).read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = len(SIGNATURE), bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"{path}: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour})")
    bpp = _CHANNELS[colour]
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    rows = raw.reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prior = np.zeros(width * bpp, dtype=np.uint8)
    for y in range(height):
        out[y] = prior = _unfilter(rows[y, 0], rows[y, 1:], prior, bpp)
    return Png(width, height, out.reshape(height, width, bpp))


def _unfilter(kind: int, line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line.copy()
    if kind == 2:
        return line + prior  # uint8 arithmetic wraps modulo 256, as PNG requires
    if kind == 1:
        return (
            (np.cumsum(line.reshape(-1, bpp).astype(np.int64), axis=0) % 256)
            .astype(np.uint8)
            .reshape(-1)
        )
    cur = bytearray(line.tobytes())
    up = prior.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
        else:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (cur[i] + pred) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def colour_stats(png: Png) -> tuple[float, int]:
    """Variance of the grey levels and the number of distinct colours (alpha ignored)."""
    rgb = png.pixels[..., :3] if png.pixels.shape[2] >= 3 else png.pixels[..., :1]
    grey = rgb.astype(np.float64).mean(axis=2)
    packed = rgb.astype(np.uint32) << (8 * np.arange(rgb.shape[2], dtype=np.uint32))
    distinct = len(np.unique(packed.sum(axis=2)))
    return float(grey.var()), distinct
