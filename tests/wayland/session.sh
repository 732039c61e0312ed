#!/bin/bash
# Headless Wayland desktop for tests: private D-Bus session bus, headless sway
# (wlroots), PipeWire + WirePlumber, xdg-desktop-portal (frontend) and
# xdg-desktop-portal-wlr (ScreenCast/Screenshot back-end, no chooser dialog).
# Works as root, with no display, no systemd user session, no GPU.
#
#   session.sh start    start everything; writes $STATE (source it to get the env)
#   session.sh verify   grim capture + portal introspection + full ScreenCast via the portal
#   session.sh stop     kill everything started here (by pid) and remove the temp dir
#   session.sh run CMD  start, run CMD inside the session env, stop (trap) -> CMD's exit code
#
# Debian 12 packages (no recommends): sway swaybg xdg-desktop-portal
#   xdg-desktop-portal-wlr pipewire pipewire-bin wireplumber dbus libglib2.0-bin grim
# and for verify's frame capture: gstreamer1.0-pipewire gstreamer1.0-tools python3-dbus python3-gi
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${WL_STATE:-${TMPDIR:-/tmp}/meeting-wayland-state.env}
W=${WL_WIDTH:-1280}
H=${WL_HEIGHT:-720}
OUT=HEADLESS-1
SWAY_USER=${WL_SWAY_USER:-nobody:nogroup}

log() { echo "[session] $*" >&2; }

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t=$(( $1 * 10 )) what=$2; shift 2
  while ! "$@" >/dev/null 2>&1; do
    t=$((t - 1))
    if [ $t -le 0 ]; then log "timeout waiting for $what"; return 1; fi
    sleep 0.1
  done
}

bus_has() { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
              --method org.freedesktop.DBus.NameHasOwner "$1" | grep -q true; }

start() {
  if [ -f "$STATE" ]; then log "$STATE exists: already running? run '$0 stop' first"; exit 1; fi
  mkdir -p "$(dirname "$STATE")"
  RT=$(mktemp -d /tmp/wl-rt.XXXXXX)
  chmod 0700 "$RT"                      # pipewire/wayland insist on a private runtime dir
  CFG=$RT/config
  mkdir -p "$CFG/sway" "$CFG/xdg-desktop-portal-wlr" "$CFG/xdg-desktop-portal"
  : > "$STATE.pids"
  echo "export WL_RT=$RT" > "$STATE"     # so that 'stop' can clean up after a failed start

  # Environment shared by every process of the session (and by dbus-activated services,
  # which inherit the dbus-daemon's environment: so export BEFORE starting dbus-daemon).
  export XDG_RUNTIME_DIR=$RT XDG_CONFIG_HOME=$CFG
  export XDG_CURRENT_DESKTOP=sway XDG_SESSION_TYPE=wayland XDG_SESSION_DESKTOP=sway
  export DBUS_SESSION_BUS_ADDRESS=unix:path=$RT/bus
  # daemons keep their state (wireplumber's, the permission store's) out of /root
  export XDG_STATE_HOME=$RT/state XDG_DATA_HOME=$RT/data XDG_CACHE_HOME=$RT/cache
  unset DISPLAY WAYLAND_DISPLAY SWAYSOCK

  # --- known picture: 4 coloured quadrants (TL red, TR green, BL blue, BR white)
  /usr/bin/python3 "$HERE/mkpattern.py" "$W" "$H" "$RT/pattern.png"

  # --- sway: minimal config, one headless output of a known size, the pattern as wallpaper
  cat > "$CFG/sway/config" <<EOF
output $OUT resolution ${W}x${H} position 0 0 bg $RT/pattern.png stretch
default_border none
xwayland disable
focus_follows_mouse no
seat seat0 hide_cursor 100
EOF
  # --- xdpw: no chooser dialog. chooser_type=simple runs chooser_cmd and uses its stdout as
  # the output name; an empty answer is a refusal (tests can write "" to $RT/choice to test
  # the "user declined" path, or HEADLESS-1 to accept). chooser_type=none + output_name also works.
  echo "$OUT" > "$RT/choice"
  cat > "$CFG/xdg-desktop-portal-wlr/config" <<EOF
[screencast]
chooser_type=simple
chooser_cmd=cat $RT/choice
max_fps=30
EOF
  # --- portal routing. xdg-desktop-portal 1.16 (bookworm) routes by UseIn= in wlr.portal
  # matching XDG_CURRENT_DESKTOP=sway; >= 1.17 (trixie, Ubuntu 24.04) reads portals.conf:
  cat > "$CFG/xdg-desktop-portal/sway-portals.conf" <<EOF
[preferred]
default=wlr;gtk
org.freedesktop.impl.portal.ScreenCast=wlr
org.freedesktop.impl.portal.Screenshot=wlr
EOF

  # --- private session bus
  dbus-daemon --session --fork --address="unix:path=$RT/bus" --print-pid=1 > "$RT/dbus.pid"
  echo "dbus-daemon $(cat "$RT/dbus.pid")" >> "$STATE.pids"

  # --- headless sway. sway refuses to run as root ("Unable to drop root ... refusing to
  # start"), so it runs as nobody; the runtime dir becomes nobody's (root daemons and root
  # clients can still use it). Its own HOME/caches go into the runtime dir.
  mkdir -p "$RT/home"
  chown -R "$SWAY_USER" "$RT"
  HOME=$RT/home XDG_CACHE_HOME=$RT/home/.cache \
  WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman WLR_HEADLESS_OUTPUTS=1 \
    setpriv --reuid="${SWAY_USER%%:*}" --regid="${SWAY_USER##*:}" --clear-groups \
    sway -c "$CFG/sway/config" > "$RT/sway.log" 2>&1 &
  echo "sway $!" >> "$STATE.pids"
  wait_for 10 "sway ipc socket" bash -c "ls $RT/sway-ipc.*.sock"
  export SWAYSOCK=$(ls "$RT"/sway-ipc.*.sock | head -1)
  export WAYLAND_DISPLAY=$(cd "$RT" && ls wayland-* | grep -v lock | head -1)
  wait_for 10 "output $OUT" bash -c "swaymsg -t get_outputs | grep -q '\"$OUT\"'"
  # dbus-activated services (xdg-permission-store, xdg-document-portal, ...) must see these too
  dbus-update-activation-environment WAYLAND_DISPLAY SWAYSOCK XDG_CURRENT_DESKTOP \
    XDG_SESSION_TYPE XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME XDG_CACHE_HOME

  # --- PipeWire + WirePlumber (session manager; the portal's stream needs it to link nodes)
  pipewire > "$RT/pipewire.log" 2>&1 &
  echo "pipewire $!" >> "$STATE.pids"
  wait_for 10 "pipewire socket" test -S "$RT/pipewire-0"
  wireplumber > "$RT/wireplumber.log" 2>&1 &
  echo "wireplumber $!" >> "$STATE.pids"

  # --- portals: start the back-end first so the frontend finds it (not via dbus activation).
  # xdpw 0.7 refuses SHM-only screencopy (no GPU => no DMA-BUF): the LD_PRELOAD shim fixes it
  # (see xdpw-shm-shim.c). Built here in ~0.1 s with gcc, no -dev package needed.
  gcc -shared -fPIC -O2 -o "$RT/xdpw-shm-shim.so" "$HERE/xdpw-shm-shim.c" -ldl
  LD_PRELOAD=$RT/xdpw-shm-shim.so /usr/libexec/xdg-desktop-portal-wlr -l INFO > "$RT/xdpw.log" 2>&1 &
  echo "xdg-desktop-portal-wlr $!" >> "$STATE.pids"
  wait_for 10 "xdpw on the bus" bus_has org.freedesktop.impl.portal.desktop.wlr
  /usr/libexec/xdg-desktop-portal -v > "$RT/xdp.log" 2>&1 &
  echo "xdg-desktop-portal $!" >> "$STATE.pids"
  wait_for 10 "portal frontend on the bus" bus_has org.freedesktop.portal.Desktop

  cat > "$STATE" <<EOF
export XDG_RUNTIME_DIR=$RT
export XDG_CONFIG_HOME=$CFG
export XDG_CURRENT_DESKTOP=sway
export XDG_SESSION_TYPE=wayland
export DBUS_SESSION_BUS_ADDRESS=unix:path=$RT/bus
export WAYLAND_DISPLAY=$WAYLAND_DISPLAY
export SWAYSOCK=$SWAYSOCK
export WL_RT=$RT
export WL_OUTPUT=$OUT
export WL_WIDTH=$W
export WL_HEIGHT=$H
EOF
  log "up: runtime dir $RT, WAYLAND_DISPLAY=$WAYLAND_DISPLAY; 'source $STATE' for the env"
}

stop() {
  local RT=""
  [ -f "$STATE" ] && RT=$(sed -n 's/^export WL_RT=//p' "$STATE")
  if [ -f "$STATE.pids" ]; then
    # reverse order: portals, wireplumber, pipewire, sway, dbus
    tac "$STATE.pids" | while read -r name pid; do
      kill "$pid" 2>/dev/null && log "stopped $name ($pid)" || true
    done
    sleep 0.3
    tac "$STATE.pids" | while read -r name pid; do kill -9 "$pid" 2>/dev/null || true; done
  fi
  # dbus-activated helpers (xdg-permission-store, xdg-document-portal, swaybg is sway's child)
  # are found by the bus address in their environment: precise, no kill-by-name.
  if [ -n "$RT" ]; then
    for e in /proc/[0-9]*/environ; do
      if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qx "XDG_RUNTIME_DIR=$RT"; then
        p=${e#/proc/}; p=${p%/environ}
        [ "$p" != "$$" ] && kill "$p" 2>/dev/null && log "stopped helper $p ($(cat /proc/$p/comm 2>/dev/null))" || true
      fi
    done
    # xdg-document-portal may leave a fuse mount in the runtime dir
    mountpoint -q "$RT/doc" 2>/dev/null && { fusermount3 -u "$RT/doc" 2>/dev/null || umount -l "$RT/doc" || true; }
    rm -rf "$RT"
  fi
  rm -f "$STATE" "$STATE.pids"
}

verify() {
  # shellcheck disable=SC1090
  source "$STATE"
  local ok=0
  echo "== (a) grim captures the headless output"
  grim -o "$WL_OUTPUT" -t ppm "$WL_RT/grim.ppm"
  /usr/bin/python3 "$HERE/checkframe.py" ppm "$WL_RT/grim.ppm" || ok=1
  echo "== (b) portal interfaces"
  gdbus introspect --session --dest org.freedesktop.portal.Desktop \
      --object-path /org/freedesktop/portal/desktop | grep -oE 'interface org\.freedesktop\.portal\.[A-Za-z]+' | sort
  gdbus introspect --session --dest org.freedesktop.portal.Desktop --object-path /org/freedesktop/portal/desktop \
      | grep -q 'org.freedesktop.portal.ScreenCast' || { echo "ScreenCast MISSING"; ok=1; }
  echo "== (c) ScreenCast session through the portal -> PipeWire node -> frames"
  /usr/bin/python3 "$HERE/screencast.py" || ok=1
  return $ok
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  verify) verify ;;
  run) shift; start; trap stop EXIT; ( source "$STATE"; "$@" ) ;;
  *) echo "usage: $0 start|verify|stop|run CMD..." >&2; exit 2 ;;
esac
