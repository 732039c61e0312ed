#!/usr/bin/python3
"""Write a WxH PNG with four coloured quadrants (pure python, no PIL).
TL red, TR green, BL blue, BR white."""
import struct, sys, zlib
w, h, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
TL, TR, BL, BR = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
rows = []
for y in range(h):
    l, r = (TL, TR) if y < h // 2 else (BL, BR)
    rows.append(b"\0" + bytes(l) * (w // 2) + bytes(r) * (w - w // 2))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b"")
open(out, "wb").write(png)
