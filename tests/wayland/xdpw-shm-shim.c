/* LD_PRELOAD shim for xdg-desktop-portal-wlr 0.7.0 (Debian 12) on a GPU-less wlroots
 * compositor (WLR_RENDERER=pixman, no /dev/dri).
 *
 * Problem (upstream xdpw issue #289): start_screencast() refuses to start when
 *   state->screencast_version >= 3 && no DMA-BUF format was offered by wlr-screencopy,
 * and in 0.7.0 state->screencast_version is the impl portal's own ScreenCast version (4),
 * so every Start() fails with response 2 ("unable to receive a valid format from
 * wlr_screencopy") although the SHM path works. pixman never offers DMA-BUF.
 *
 * Fix: when xdpw exports org.freedesktop.impl.portal.ScreenCast with sd_bus_add_object_vtable,
 * find the "version" property in its vtable and set the field it points at to 2. Then the
 * DMA-BUF requirement is skipped, PipeWire buffers are SHM (MemFd) only, and the frontend
 * sees impl version 2 (no restore tokens from the back-end; xdpw 0.7.0 has none anyway).
 *
 * Build: gcc -shared -fPIC -O2 -o xdpw-shm-shim.so xdpw-shm-shim.c -ldl  (no -dev packages) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* layout of systemd's sd_bus_vtable (sd-bus-vtable.h), restated to avoid libsystemd-dev */
struct vt {
	uint64_t type_flags; /* type:8, flags:56 */
	union {
		struct { size_t element_size; } start;
		struct { const char *member, *signature; void *get, *set; size_t offset; } property;
	} x;
};

int sd_bus_add_object_vtable(void *bus, void **slot, const char *path, const char *interface,
                             const struct vt *vtable, void *userdata) {
	static int (*real)(void *, void **, const char *, const char *, const struct vt *, void *);
	if (!real) real = dlsym(RTLD_NEXT, "sd_bus_add_object_vtable");
	if (interface && userdata && strcmp(interface, "org.freedesktop.impl.portal.ScreenCast") == 0) {
		size_t esz = vtable[0].x.start.element_size;
		for (const char *p = (const char *)vtable + esz;; p += esz) {
			const struct vt *v = (const struct vt *)p;
			char type = (char)(v->type_flags & 0xff);
			if (type == '>') break;
			if ((type == 'P' || type == 'W') && strcmp(v->x.property.member, "version") == 0) {
				uint32_t *ver = (uint32_t *)((char *)userdata + v->x.property.offset);
				fprintf(stderr, "xdpw-shm-shim: impl ScreenCast version %u -> 2 (SHM only)\n", *ver);
				*ver = 2;
			}
		}
	}
	return real(bus, slot, path, interface, vtable, userdata);
}
