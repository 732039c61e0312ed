#!/bin/bash
# Runs inside `session.sh run` (the session env is set). Exercises bin/capture:
# frames + pattern check, restore token, refusal.
set -u
BIN=${BIN:-$(cd "$(dirname "$0")" && pwd)/target/debug/capture}
PORTAL=${PORTAL:-zbus}   # zbus or dbus: which D-Bus library talks to the portal
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d /tmp/wp-capture.XXXXXX)
TOKEN=$OUT/token
fail=0

echo "$WL_OUTPUT" > "$WL_RT/choice"   # accept (a previous run may have left it refusing)
echo "== 1. first share (chooser answers $(cat "$WL_RT/choice")), 4 frames, the screen redrawn every 0.3 s after 1 s"
# xdpw sends frames on damage only: re-setting the wallpaper damages the output.
( sleep 1; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.3; swaymsg -q output "$WL_OUTPUT" bg "$WL_RT/pattern.png" stretch; done ) &
redraw=$!
"$BIN" --portal "$PORTAL" --frames 4 --check --out "$OUT" --token-file "$TOKEN" || fail=1
wait $redraw
/usr/bin/python3 "$HERE/../checkframe.py" ppm "$OUT/frame-000.ppm" || fail=1

echo "== 2. second share with the restore token; the chooser now REFUSES, so success proves it was skipped"
: > "$WL_RT/choice"
"$BIN" --portal "$PORTAL" --frames 1 --check --out "$OUT" --token-file "$TOKEN" || fail=1
grep -c "restoring session" "$WL_RT/xdpw.log" | sed 's/^/xdpw log lines "restoring session": /'

echo "== 3. refusal: no token, chooser refuses -> clear error, exit code 1"
"$BIN" --portal "$PORTAL" --frames 1 --out "$OUT"; rc=$?
echo "exit code $rc"
[ $rc = 1 ] || fail=1
echo "$HERE" > /dev/null
rm -rf "$OUT"
echo "capture test: $([ $fail = 0 ] && echo OK || echo FAILED)"
exit $fail
