#!/bin/bash
# Runs inside `session.sh run`. wev (a Wayland client printing its input events)
# is the test window; bin/input moves, clicks and types into it.
set -u
BIN=${BIN:-$(cd "$(dirname "$0")" && pwd)/target/debug/input}
LOG=$(mktemp /tmp/wp-wev.XXXXXX)
stdbuf -oL wev > "$LOG" 2>&1 &
wev_pid=$!
sleep 0.5                          # wev maps its window; sway tiles it over the output, focused
"$BIN" 640 360 'Az!€'; rc=$?
sleep 0.3
kill "$wev_pid"; wait "$wev_pid" 2>/dev/null
grep -E "capabilities|enter|button|keymap: format|sym:" "$LOG" | sed 's/^[[:space:]]*//' | grep -vE "^$" | sort | uniq -c | sort -rn | head -30
fail=0
[ $rc = 0 ] || fail=1
grep -q "button: 272 (left), state: 1 (pressed)" "$LOG" || { echo "no left press"; fail=1; }
for s in "sym: A " "sym: z " "sym: exclam" "utf8: '€'" "sym: Return"; do
  grep -q "$s" "$LOG" || { echo "missing key: $s"; fail=1; }
done
rm -f "$LOG"
echo "input test: $([ $fail = 0 ] && echo OK || echo FAILED)"
exit $fail
