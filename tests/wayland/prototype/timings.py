#!/usr/bin/python3
"""timings.py cargo-timing.html [repo Cargo.lock] -> top units, totals, and (with a lock)
the share of units whose crate@version the repo does not build already."""
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
known = set()
if len(sys.argv) > 2:
    lock = open(sys.argv[2]).read()
    known = set(re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', lock))
def label(u):
    return f"{u['name']} {u['version']}{' (' + u['target'].strip() + ')' if u['target'].strip() else ''}"
total = sum(u["duration"] for u in units)
end = max(u["start"] + u["duration"] for u in units)
print(f"{len(units)} units, sum of unit times {total:.1f} s (CPU-ish), build span {end:.1f} s")
by_crate = {}
for u in units:
    by_crate[(u["name"], u["version"])] = by_crate.get((u["name"], u["version"]), 0) + u["duration"]
print("top crates (all units of a crate: build script + run + lib):")
for (n, v), d in sorted(by_crate.items(), key=lambda x: -x[1])[:15]:
    mark = "  (repo has it)" if (n, v) in known else ""
    print(f"  {d:6.1f} s  {n} {v}{mark}")
if known:
    new = sum(d for k, d in by_crate.items() if k not in known)
    print(f"units the repo does NOT already build (by name+version): {new:.1f} s of {total:.1f} s, "
          f"{sum(1 for k in by_crate if k not in known)} of {len(by_crate)} crates")
