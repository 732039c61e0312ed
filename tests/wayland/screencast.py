#!/usr/bin/python3
"""Drive org.freedesktop.portal.ScreenCast end to end in the session of session.sh:
CreateSession -> SelectSources -> Start -> OpenPipeWireRemote, list the PipeWire node,
grab frames with gst-launch-1.0 pipewiresrc fd=<portal fd> and check the pattern.
Then: a second share with the restore token, and a refused share (chooser answers nothing).
Needs python3-dbus, python3-gi (Debian), gstreamer1.0-pipewire, gstreamer1.0-tools.
"""
import os, subprocess, sys, time
import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
portal = bus.get_object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
sc = dbus.Interface(portal, "org.freedesktop.portal.ScreenCast")
sender = bus.get_unique_name()[1:].replace(".", "_")
RT = os.environ["WL_RT"]
W, H = int(os.environ["WL_WIDTH"]), int(os.environ["WL_HEIGHT"])
counter = 0


def request(method, *args, options=None, timeout=15):
    """Call a portal method that returns a Request handle and wait for its Response signal.
    The signal is subscribed on the predicted request path BEFORE the call (no race)."""
    global counter
    counter += 1
    token = f"t{os.getpid()}_{counter}"
    path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
    loop, out = GLib.MainLoop(), {}

    def on_response(code, results):
        out["code"], out["results"] = int(code), results
        loop.quit()

    m = bus.add_signal_receiver(on_response, "Response", "org.freedesktop.portal.Request",
                                "org.freedesktop.portal.Desktop", path)
    opts = dict(options or {})
    opts["handle_token"] = token
    handle = getattr(sc, method)(*args, dbus.Dictionary(opts, signature="sv"))
    assert str(handle) == path, (handle, path)
    GLib.timeout_add_seconds(timeout, loop.quit)
    loop.run()
    m.remove()
    if "code" not in out:
        raise TimeoutError(f"{method}: no Response in {timeout}s")
    return out["code"], out["results"]


def share(restore_token=None):
    t0 = time.monotonic()
    code, res = request("CreateSession", options={"session_handle_token": f"s{os.getpid()}_{counter}"})
    assert code == 0, ("CreateSession", code)
    session = res["session_handle"]
    opts = {"types": dbus.UInt32(1),            # 1 monitor, 2 window (wlr: monitor only)
            "multiple": False,
            "cursor_mode": dbus.UInt32(2),      # 1 hidden, 2 embedded, 4 metadata
            "persist_mode": dbus.UInt32(2)}     # 0 no, 1 while app runs, 2 until revoked
    if restore_token:
        opts["restore_token"] = restore_token
    code, res = request("SelectSources", dbus.ObjectPath(session), options=opts)
    if code != 0:   # xdpw's chooser refusing answers here (1 = cancelled), GNOME's dialog at Start
        return session, code, res, time.monotonic() - t0
    code, res = request("Start", dbus.ObjectPath(session), "")
    dt = time.monotonic() - t0
    return session, code, res, dt


def close(session):
    dbus.Interface(bus.get_object("org.freedesktop.portal.Desktop", session),
                   "org.freedesktop.portal.Session").Close()


ok = True
open(f"{RT}/choice", "w").write(os.environ["WL_OUTPUT"] + "\n")   # the chooser accepts
session, code, res, dt = share()
print(f"Start response code={code} (0 ok, 1 cancelled, 2 other) in {dt*1000:.0f} ms")
assert code == 0
streams = [(int(n), {str(k): v for k, v in p.items()}) for n, p in res["streams"]]
token = str(res.get("restore_token", "")) or None
print("streams:", [(n, {k: (tuple(int(x) for x in v) if isinstance(v, dbus.Struct) else int(v))
                        for k, v in p.items()}) for n, p in streams])
print("restore_token:", token)
node = streams[0][0]
fd = sc.OpenPipeWireRemote(dbus.ObjectPath(session), dbus.Dictionary({}, signature="sv")).take()
print("OpenPipeWireRemote fd:", fd)

dump = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True).stdout
print("pw-cli ls Node:\n" + "\n".join("  " + l.strip() for l in dump.splitlines()
                                      if l.strip().startswith(("id ", "node.name", "media.class"))))

def grab(nb, raw, damage=False):
    """pipewiresrc on the portal's fd (the child gets a dup: the fd can be reused)."""
    t0 = time.monotonic()
    g = subprocess.Popen(["timeout", "20", "gst-launch-1.0", "-q", "pipewiresrc", f"fd={fd}", f"path={node}",
                          f"num-buffers={nb}", "!", "videoconvert", "!", "video/x-raw,format=RGB",
                          "!", "filesink", f"location={raw}"], pass_fds=[fd], stderr=subprocess.PIPE, text=True)
    pat, i = f"{RT}/pattern.png", 0
    while damage and g.poll() is None and i < 3 * nb:
        time.sleep(0.3)
        bg = f"{pat} stretch" if i % 2 else "#ffff00 solid_color"
        subprocess.run(["swaymsg", "-q", "output", os.environ["WL_OUTPUT"], "bg"] + bg.split())
        i += 1
    g.wait()
    if damage:
        subprocess.run(["swaymsg", "-q", "output", os.environ["WL_OUTPUT"], "bg", pat, "stretch"])
    n = os.path.getsize(raw) // (W * H * 3) if os.path.exists(raw) else 0
    print(f"gst-launch rc={g.returncode}: {n} frame(s) of {W}x{H} in {time.monotonic()-t0:.2f} s"
          f"{' with the screen redrawn every 0.3 s' if damage else ''} {g.stderr.read()[-300:]}")
    return g.returncode == 0 and n == nb


# 1) the first frame of a static screen is the pattern
raw = f"{RT}/frame0.rgb"
ok &= grab(1, raw)
ok &= subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "checkframe.py"),
                      "rgb", raw, str(W), str(H)]).returncode == 0
# 2) xdpw sends a frame only when the output is damaged (copy_with_damage): a static screen
#    gives ONE frame, then nothing. With redraws, more frames come.
ok &= grab(4, f"{RT}/frames.rgb", damage=True)
os.close(fd)
close(session)

# restore token: a second share with it (xdpw 0.7 with chooser_type=none/simple: whether the
# chooser is skipped depends on the back-end; the frontend stores the token in the permission store)
if token:
    s2, code, res, dt = share(token)
    print(f"share with restore_token: code={code}, new token={str(res.get('restore_token',''))[:8]}.. ({dt*1000:.0f} ms)")
    close(s2)

# refusal: the chooser prints nothing -> the user declined
open(f"{RT}/choice", "w").write("")
s3, code, res, dt = share()
print(f"refused share: response code={code} (expect 1 = cancelled by user)")
ok &= code != 0
open(f"{RT}/choice", "w").write(os.environ["WL_OUTPUT"] + "\n")
try:
    close(s3)
except dbus.DBusException:
    pass
print("screencast:", "OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
