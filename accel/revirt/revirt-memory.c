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
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "exec/ram_addr.h"
#include "migration/blocker.h"
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

/*
 * The part of @section that revirt maps: whole host pages of RAM, and of
 * ROM and ROM devices if the driver maps read-only.  False if none of it
 * is mapped.
 */
static bool revirt_section_range(RevirtState *s, MemoryRegionSection *section,
                                 hwaddr *gpa, uint64_t *size, bool *writable)
{
    MemoryRegion *mr = section->mr;
    hwaddr start = section->offset_within_address_space;
    uint64_t page_mask = qemu_real_host_page_mask();
    uint64_t delta, len = int128_get64(section->size);

    *writable = !mr->readonly;
    if (!memory_region_is_ram(mr)) {
        if (!mr->rom_device) {
            return false;       /* MMIO: every access exits */
        }
        *writable = false;
    }
    if (!*writable && !(s->caps.features & REVIRT_FEATURE_READONLY_MEM)) {
        return false;           /* without read-only maps, ROM traps too */
    }

    /* Map whole host pages only, as KVM does. */
    delta = -start & ~page_mask;
    if (delta >= len) {
        return false;
    }
    *gpa = start + delta;
    *size = (len - delta) & page_mask;
    return *size != 0;
}

/* Is the guest's RAM of @section logged by the driver? */
static bool revirt_section_logs(RevirtState *s, MemoryRegionSection *section)
{
    return (s->caps.features & REVIRT_FEATURE_DIRTY_LOG) &&
           memory_region_is_ram(section->mr) && !section->mr->readonly &&
           memory_region_get_dirty_log_mask(section->mr);
}

static int revirt_log_call(RevirtState *s, uint32_t request, hwaddr gpa,
                           uint64_t size)
{
    struct revirt_log_range range = { .gpa = gpa, .size = size };

    trace_revirt_log(request == REVIRT_LOG_START ? "start" : "stop", gpa,
                     size);
    return revirt_call(s->vm, request, &range);
}

static void revirt_process_section(RevirtState *s,
                                   MemoryRegionSection *section, bool add)
{
    MemoryRegion *mr = section->mr;
    hwaddr start;
    uint64_t size;
    bool writable;
    int ret;

    /*
     * A ROM device toggling romd mode is removed and added again, and
     * both calls see the new mode: out of romd mode, make sure it is
     * unmapped whichever call this is, as KVM does.
     */
    if (mr->rom_device && !memory_region_is_romd(mr)) {
        add = false;
    }
    if (!revirt_section_range(s, section, &start, &size, &writable)) {
        return;
    }

    if (add) {
        struct revirt_memory_map map = {
            .gpa = start,
            .size = size,
            .hva = (uintptr_t)memory_region_get_ram_ptr(mr) +
                   section->offset_within_region +
                   (start - section->offset_within_address_space),
            .prot = REVIRT_PROT_READ | REVIRT_PROT_EXEC |
                    (writable ? REVIRT_PROT_WRITE : 0),
        };

        trace_revirt_map(start, size, map.hva, writable);
        ret = revirt_call(s->vm, REVIRT_MAP_MEMORY, &map);
        if (ret < 0) {
            revirt_mapping_failed("map", start, size, ret);
            return;
        }
        if (revirt_section_logs(s, section)) {
            ret = revirt_log_call(s, REVIRT_LOG_START, start, size);
            if (ret < 0) {
                revirt_mapping_failed("log writes to", start, size, ret);
            }
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

/*
 * Copy the driver's log of @section's pages into QEMU's dirty bitmaps, as
 * kvm_slot_sync_dirty_pages() does.  With a driver without dirty logging
 * every page of the section counts as written, as NVMM does it: the display
 * repaints it all (migration is blocked).  A failed call does the same for
 * the pages it was about: they are sent again, but no write is lost.
 */
static void revirt_sync_section(RevirtState *s, MemoryRegionSection *section)
{
    MemoryRegion *mr = section->mr;
    g_autofree unsigned long *bitmap = NULL;
    struct revirt_dirty_log log;
    hwaddr start;
    uint64_t size, pages;
    bool writable;
    int ret;

    if (!memory_region_is_ram(mr) || mr->readonly) {
        return;                 /* writes exit, and QEMU logs them */
    }
    if (!(s->caps.features & REVIRT_FEATURE_DIRTY_LOG)) {
        memory_region_set_dirty(mr, section->offset_within_region,
                                int128_get64(section->size));
        return;
    }
    if (!revirt_section_range(s, section, &start, &size, &writable)) {
        return;                 /* nothing mapped: every write exits */
    }
    /* One bit per 4 KiB page: the host page of x86 hosts. */
    pages = size / REVIRT_PAGE_SIZE;
    bitmap = bitmap_new(pages);
    log = (struct revirt_dirty_log) {
        .gpa = start, .size = size, .bitmap = (uintptr_t)bitmap,
    };
    ret = revirt_call(s->vm, REVIRT_GET_DIRTY_LOG, &log);
    trace_revirt_get_dirty_log(start, size, ret);
    if (ret < 0) {
        /* Never lose a write: take every page as written. */
        bitmap_fill(bitmap, pages);
    }
    cpu_physical_memory_set_dirty_lebitmap(bitmap,
        memory_region_get_ram_addr(mr) + section->offset_within_region +
        (start - section->offset_within_address_space), pages);
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

    /* Unmapping drops the log: take it first, as kvm_set_phys_mem does. */
    if (revirt_section_logs(s, section)) {
        revirt_sync_section(s, section);
    }
    revirt_process_section(s, section, false);
    memory_region_unref(section->mr);
}

/*
 * Logging starts and stops per section, as the first and the last of
 * QEMU's dirty-memory clients (migration, VGA, TCG) want it.  When
 * migration starts or stops logging globally, QEMU's memory core calls
 * these for every RAM section (memory_global_dirty_log_start() commits a
 * transaction that changes their log mask), so revirt, like KVM's bitmap
 * mode, needs no log_global_start or log_global_stop of its own.
 */
static void revirt_log_start(MemoryListener *listener,
                             MemoryRegionSection *section, int old, int new)
{
    RevirtState *s = container_of(listener, RevirtState, memory_listener);
    hwaddr start;
    uint64_t size;
    bool writable;
    int ret;

    if (old || !revirt_section_logs(s, section) ||
        !revirt_section_range(s, section, &start, &size, &writable)) {
        return;
    }
    ret = revirt_log_call(s, REVIRT_LOG_START, start, size);
    if (ret < 0) {
        revirt_mapping_failed("log writes to", start, size, ret);
    }
}

static void revirt_log_stop(MemoryListener *listener,
                            MemoryRegionSection *section, int old, int new)
{
    RevirtState *s = container_of(listener, RevirtState, memory_listener);
    hwaddr start;
    uint64_t size;
    bool writable;
    int ret;

    if (new || !(s->caps.features & REVIRT_FEATURE_DIRTY_LOG) ||
        !memory_region_is_ram(section->mr) || section->mr->readonly ||
        !revirt_section_range(s, section, &start, &size, &writable)) {
        return;
    }
    ret = revirt_log_call(s, REVIRT_LOG_STOP, start, size);
    if (ret < 0 && ret != -ENOENT) {
        revirt_mapping_failed("stop logging writes to", start, size, ret);
    }
}

static void revirt_log_sync(MemoryListener *listener,
                            MemoryRegionSection *section)
{
    RevirtState *s = container_of(listener, RevirtState, memory_listener);

    revirt_sync_section(s, section);
}

int revirt_memory_listener_register(RevirtState *s, Error **errp)
{
    if (!(s->caps.features & REVIRT_FEATURE_DIRTY_LOG)) {
        error_setg(&s->migration_blocker,
                   "the revirt %s driver cannot log the guest's writes "
                   "to memory, so the guest cannot be migrated or saved",
                   s->driver->name);
        if (migrate_add_blocker(s->migration_blocker, errp) < 0) {
            error_free(s->migration_blocker);
            s->migration_blocker = NULL;
            return -EINVAL;
        }
    }
    s->memory_listener = (MemoryListener) {
        .name = "revirt",
        .region_add = revirt_region_add,
        .region_del = revirt_region_del,
        .log_start = revirt_log_start,
        .log_stop = revirt_log_stop,
        .log_sync = revirt_log_sync,
        .priority = 10,
    };
    memory_listener_register(&s->memory_listener, &address_space_memory);
    return 0;
}
