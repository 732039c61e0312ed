/* Test driver: a wlr virtual pointer and a virtual keyboard with a generated keymap
 * (hex keysyms, one keycode per keysym, as a Rust client would make without xkbcommon).
 * usage: vinput X Y   -> moves to (X,Y) on a 1280x720 output, left click, types "Az!" + Return */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "wlr-virtual-pointer-unstable-v1.h"
#include "virtual-keyboard-unstable-v1.h"

static struct wl_seat *seat;
static struct zwlr_virtual_pointer_manager_v1 *vpm;
static struct zwp_virtual_keyboard_manager_v1 *vkm;

static void global(void *d, struct wl_registry *r, uint32_t name, const char *iface, uint32_t ver) {
	if (!strcmp(iface, "wl_seat")) seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
	else if (!strcmp(iface, "zwlr_virtual_pointer_manager_v1"))
		vpm = wl_registry_bind(r, name, &zwlr_virtual_pointer_manager_v1_interface, 1);
	else if (!strcmp(iface, "zwp_virtual_keyboard_manager_v1"))
		vkm = wl_registry_bind(r, name, &zwp_virtual_keyboard_manager_v1_interface, 1);
}
static void global_remove(void *d, struct wl_registry *r, uint32_t n) {}
static const struct wl_registry_listener rl = { global, global_remove };

int main(int argc, char **argv) {
	uint32_t x = argc > 2 ? atoi(argv[1]) : 100, y = argc > 2 ? atoi(argv[2]) : 100;
	struct wl_display *dpy = wl_display_connect(NULL);
	if (!dpy) { fprintf(stderr, "no display\n"); return 1; }
	struct wl_registry *reg = wl_display_get_registry(dpy);
	wl_registry_add_listener(reg, &rl, NULL);
	wl_display_roundtrip(dpy);
	if (!seat || !vpm || !vkm) { fprintf(stderr, "missing globals seat=%p vpm=%p vkm=%p\n", seat, vpm, vkm); return 1; }
	struct zwlr_virtual_pointer_v1 *ptr = zwlr_virtual_pointer_manager_v1_create_virtual_pointer(vpm, seat);
	zwlr_virtual_pointer_v1_motion_absolute(ptr, 0, x, y, 1280, 720);
	zwlr_virtual_pointer_v1_frame(ptr);
	/* clients learn of the new pointer capability and bind wl_pointer only now: wait, or
	 * the first button goes to a client that has no wl_pointer yet */
	wl_display_roundtrip(dpy);
	usleep(300000);
	zwlr_virtual_pointer_v1_motion_absolute(ptr, 0, x + 10, y + 10, 1280, 720);
	zwlr_virtual_pointer_v1_frame(ptr);
	zwlr_virtual_pointer_v1_button(ptr, 1, 0x110 /* BTN_LEFT */, 1);
	zwlr_virtual_pointer_v1_frame(ptr);
	zwlr_virtual_pointer_v1_button(ptr, 2, 0x110, 0);
	zwlr_virtual_pointer_v1_frame(ptr);
	wl_display_roundtrip(dpy);

	/* keymap: keycodes 9.. (evdev code + 8), each one keysym, written as hex numbers */
	const unsigned syms[] = { 0x41 /* A */, 0x7a /* z */, 0x21 /* exclam */, 0xff0d /* Return */, 0x20ac /* EuroSign */ };
	const int n = sizeof syms / sizeof *syms;
	char km[4096]; int o = 0;
	o += snprintf(km + o, sizeof km - o, "xkb_keymap {\nxkb_keycodes \"m\" {\n minimum = 8;\n maximum = %d;\n", 9 + n);
	for (int i = 0; i < n; i++) o += snprintf(km + o, sizeof km - o, " <K%d> = %d;\n", i, 9 + i);
	o += snprintf(km + o, sizeof km - o, "};\nxkb_types \"m\" { include \"complete\" };\nxkb_compatibility \"m\" { include \"complete\" };\nxkb_symbols \"m\" {\n");
	for (int i = 0; i < n; i++) o += snprintf(km + o, sizeof km - o, " key <K%d> {[ 0x%x ]};\n", i, syms[i]);
	o += snprintf(km + o, sizeof km - o, "};\n};\n");
	int fd = memfd_create("keymap", MFD_CLOEXEC);
	write(fd, km, o + 1); /* include the NUL */
	struct zwp_virtual_keyboard_v1 *kb = zwp_virtual_keyboard_manager_v1_create_virtual_keyboard(vkm, seat);
	zwp_virtual_keyboard_v1_keymap(kb, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, fd, o + 1);
	wl_display_roundtrip(dpy);
	for (int i = 0; i < n; i++) {   /* key() takes evdev codes: keycode - 8 */
		zwp_virtual_keyboard_v1_key(kb, 10 + 2 * i, 9 + i - 8, WL_KEYBOARD_KEY_STATE_PRESSED);
		zwp_virtual_keyboard_v1_key(kb, 11 + 2 * i, 9 + i - 8, WL_KEYBOARD_KEY_STATE_RELEASED);
	}
	wl_display_roundtrip(dpy);
	usleep(200000);
	zwp_virtual_keyboard_v1_destroy(kb);
	zwlr_virtual_pointer_v1_destroy(ptr);
	wl_display_roundtrip(dpy);
	wl_display_disconnect(dpy);
	return 0;
}
