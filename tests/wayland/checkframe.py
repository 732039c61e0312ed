#!/usr/bin/python3
"""checkframe.py ppm FILE | checkframe.py rgb FILE W H  -> checks the 4-quadrant pattern."""
import sys
kind, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if kind == "ppm":
    parts, i = [], 0
    while len(parts) < 4:  # P6 W H MAX, whitespace separated
        while data[i:i+1].isspace(): i += 1
        j = i
        while not data[j:j+1].isspace(): j += 1
        parts.append(data[i:j]); i = j
    i += 1
    w, h = int(parts[1]), int(parts[2]); px = data[i:]
else:
    w, h = int(sys.argv[3]), int(sys.argv[4]); px = data[-w*h*3:]  # last frame
if len(px) < w * h * 3:
    print(f"{kind} {path}: {len(px)} bytes, less than one {w}x{h} frame -> MISMATCH")
    sys.exit(1)
def at(x, y):
    o = (y * w + x) * 3
    return tuple(px[o:o+3])
want = {"TL": (255, 0, 0), "TR": (0, 255, 0), "BL": (0, 0, 255), "BR": (255, 255, 255)}
got = {"TL": at(w//4, h//4), "TR": at(3*w//4, h//4), "BL": at(w//4, 3*h//4), "BR": at(3*w//4, 3*h//4)}
bad = [k for k in want if any(abs(a-b) > 8 for a, b in zip(want[k], got[k]))]
print(f"{kind} {w}x{h} quadrants {got} -> {'OK' if not bad else 'MISMATCH ' + str(bad)}")
sys.exit(1 if bad else 0)
