/*
 * QEMU revirt accelerator: QEMU's memory map as driver mappings.
 *
 * RAM is mapped read-write, ROM and ROM devices in romd mode read-only, so
 * that writes to them exit as MMIO; everything else stays unmapped and its
 * accesses exit as MMIO to QEMU's device models.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "exec/address-spaces.h"
#include "sysemu/runstate.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

static void revirt_mapping_failed(const char *what, hwaddr start,
                                  uint64_t size, int err)
{
    error_report("revirt: cannot %s guest memory 0x%" HWADDR_PRIx
                 "+0x%" PRIx64 ": %s", what, start, size, strerror(-err));
    qemu_system_vmstop_request_prepare();
    qemu_system_vmstop_request(RUN_STATE_INTERNAL_ERROR);
}

static void revirt_process_section(RevirtState *s,
                                   MemoryRegionSection *section, bool add)
{
    MemoryRegion *mr = section->mr;
    hwaddr start = section->offset_within_address_space;
    uint64_t size = int128_get64(section->size);
    bool writable = !mr->readonly;
    uint64_t page_mask = qemu_real_host_page_mask();
    uint64_t delta;
    int ret;

    if (!memory_region_is_ram(mr)) {
        if (!mr->rom_device) {
            return;             /* MMIO: every access exits */
        }
        /*
         * A ROM device toggling romd mode is removed and added again, and
         * both calls see the new mode: out of romd mode, make sure it is
         * unmapped whichever call this is, as KVM does.
         */
        if (!memory_region_is_romd(mr)) {
            add = false;
        }
        writable = false;
    }
    if (!writable && !(s->caps.features & REVIRT_FEATURE_READONLY_MEM)) {
        return;                 /* without read-only maps, ROM traps too */
    }

    /* Map whole host pages only, as KVM does. */
    delta = -start & ~page_mask;
    if (delta >= size) {
        return;
    }
    start += delta;
    size = (size - delta) & page_mask;
    if (!size) {
        return;
    }

    if (add) {
        struct revirt_memory_map map = {
            .gpa = start,
            .size = size,
            .hva = (uintptr_t)memory_region_get_ram_ptr(mr) +
                   section->offset_within_region + delta,
            .prot = REVIRT_PROT_READ | REVIRT_PROT_EXEC |
                    (writable ? REVIRT_PROT_WRITE : 0),
        };

        trace_revirt_map(start, size, map.hva, writable);
        ret = revirt_call(s->vm, REVIRT_MAP_MEMORY, &map);
        if (ret < 0) {
            revirt_mapping_failed("map", start, size, ret);
        }
    } else {
        struct revirt_memory_unmap unmap = { .gpa = start, .size = size };

        trace_revirt_unmap(start, size);
        ret = revirt_call(s->vm, REVIRT_UNMAP_MEMORY, &unmap);
        if (ret < 0 && ret != -ENOENT) {
            revirt_mapping_failed("unmap", start, size, ret);
        }
    }
}

static void revirt_region_add(MemoryListener *listener,
                              MemoryRegionSection *section)
{
    RevirtState *s = container_of(listener, RevirtState, memory_listener);

    memory_region_ref(section->mr);
    revirt_process_section(s, section, true);
}

static void revirt_region_del(MemoryListener *listener,
                              MemoryRegionSection *section)
{
    RevirtState *s = container_of(listener, RevirtState, memory_listener);

    revirt_process_section(s, section, false);
    memory_region_unref(section->mr);
}

void revirt_memory_listener_register(RevirtState *s)
{
    s->memory_listener = (MemoryListener) {
        .name = "revirt",
        .region_add = revirt_region_add,
        .region_del = revirt_region_del,
        .priority = 10,
    };
    memory_listener_register(&s->memory_listener, &address_space_memory);
}
