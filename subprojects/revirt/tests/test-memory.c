/*
 * revirt-kvm: range map/unmap, and what guest accesses to unmapped or
 * read-only memory do.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "rk-test.h"

#define RWX (REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)
#define RX  (REVIRT_PROT_READ | REVIRT_PROT_EXEC)

static int map(RkTestVm *t, uint64_t gpa, uint64_t size, void *hva,
               uint32_t prot)
{
    struct revirt_memory_map m = {
        .gpa = gpa, .size = size, .hva = (uintptr_t)hva, .prot = prot,
    };

    return rk_call(t->vm, REVIRT_MAP_MEMORY, &m);
}

static int unmap(RkTestVm *t, uint64_t gpa, uint64_t size)
{
    struct revirt_memory_unmap u = { .gpa = gpa, .size = size };

    return rk_call(t->vm, REVIRT_UNMAP_MEMORY, &u);
}

static void test_map_errors(void)
{
    struct revirt_memory_map flagged = {
        .gpa = 0x100000, .size = 0x1000, .prot = RWX, .flags = 1,
    };
    uint64_t top = 1ull << 52;
    uint8_t *buf;
    RkTestVm t;

    rk_test_vm_init(&t);
    buf = rk_test_alloc(0x4000);
    flagged.hva = (uintptr_t)buf;

    /* RAM at [0, 0x10000) is mapped by rk_test_vm_init. */
    g_assert(map(&t, 0x8000, 0x1000, buf, RWX) == -EEXIST);
    g_assert(map(&t, 0xf000, 0x2000, buf, RWX) == -EEXIST);
    g_assert(map(&t, 0x100800, 0x1000, buf, RWX) == -EINVAL);
    g_assert(map(&t, 0x100000, 0x800, buf, RWX) == -EINVAL);
    g_assert(map(&t, 0x100000, 0x1000, buf + 8, RWX) == -EINVAL);
    g_assert(map(&t, 0x100000, 0, buf, RWX) == -EINVAL);
    g_assert(map(&t, 0x100000, 0x1000, buf, REVIRT_PROT_WRITE) == -EINVAL);
    g_assert(map(&t, 0x100000, 0x1000, buf, RWX | 8) == -EINVAL);
    g_assert(rk_call(t.vm, REVIRT_MAP_MEMORY, &flagged) == -EINVAL);
    g_assert(map(&t, UINT64_MAX & ~0xfffull, 0x2000, buf, RWX) == -ERANGE);
    g_assert(map(&t, (1ull << t.caps.gpa_bits) - 0x1000, 0x2000, buf, RWX) ==
             -ERANGE);
    g_assert(map(&t, top, 0x1000, buf, RWX) == -ERANGE);
    /* Without EXEC: a map only where the driver says it can. */
    if (t.caps.features & REVIRT_FEATURE_NOEXEC_MEM) {
        g_assert(map(&t, 0x100000, 0x1000, buf,
                     REVIRT_PROT_READ | REVIRT_PROT_WRITE) == 0);
        g_assert(unmap(&t, 0x100000, 0x1000) == 0);
    } else {
        g_assert(map(&t, 0x100000, 0x1000, buf,
                     REVIRT_PROT_READ | REVIRT_PROT_WRITE) == -ENOTSUP);
    }

    g_assert(unmap(&t, 0x100000, 0x1000) == -ENOENT);
    g_assert(unmap(&t, 0x100000, 0) == -EINVAL);
    g_assert(unmap(&t, 0x100100, 0x1000) == -EINVAL);
    g_assert(unmap(&t, UINT64_MAX & ~0xfffull, 0x2000) == -ERANGE);

    /* None of the failed calls mapped anything. */
    g_assert(map(&t, 0x100000, 0x4000, buf, RWX) == 0);
    g_assert(unmap(&t, 0x100000, 0x4000) == 0);

    rk_test_free(buf, 0x4000);
    rk_test_vm_destroy(&t);
}

/*
 * Writes to 0x20000, 0x24000 and 0x28000 after 0x24000-0x27fff was unmapped
 * from the middle of one mapping; then a read from the hole.
 */
GUEST_PROGRAM(split_prog,
    "mov $0x2000, %ax\n mov %ax, %es\n movb $0x11, %es:0\n"
    "mov $0x2400, %ax\n mov %ax, %es\n movb $0x22, %es:0\n"
    "mov $0x2800, %ax\n mov %ax, %es\n movb $0x33, %es:0\n"
    "mov $0x2400, %ax\n mov %ax, %es\n mov %es:4, %al\n"
    "out %al, $0x10\n hlt\n");

static void test_partial_unmap_splits(void)
{
    uint8_t *buf;
    RkTestVm t;

    rk_test_vm_init(&t);
    buf = rk_test_alloc(0x10000);
    g_assert(map(&t, 0x20000, 0x10000, buf, RWX) == 0);
    g_assert(unmap(&t, 0x24000, 0x4000) == 0);

    /* The hole is free again; both pieces are still mapped. */
    g_assert(map(&t, 0x23000, 0x2000, buf, RWX) == -EEXIST);
    g_assert(map(&t, 0x27000, 0x2000, buf, RWX) == -EEXIST);

    if (!(t.caps.exits & (1ull << REVIRT_EXIT_MMIO))) {
        g_test_skip("the driver has no MMIO exit: the guest half skipped");
        rk_test_free(buf, 0x10000);
        rk_test_vm_destroy(&t);
        return;
    }
    rk_test_load(&t, split_prog_start, split_prog_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);
    g_assert(t.run->mmio.gpa == 0x24000);
    g_assert(t.run->mmio.len == 1);
    g_assert(t.run->mmio.is_write == 1);
    g_assert(t.run->mmio.data[0] == 0x22);

    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);
    g_assert(t.run->mmio.gpa == 0x24004);
    g_assert(t.run->mmio.is_write == 0);
    t.run->mmio.data[0] = 0x77;
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x77);

    /* The pieces kept their place in the host buffer. */
    g_assert(buf[0] == 0x11);
    g_assert(buf[0x4000] == 0);
    g_assert(buf[0x8000] == 0x33);

    /* Unmapping across both pieces and the hole takes what is mapped. */
    g_assert(unmap(&t, 0x22000, 0x8000) == 0);
    g_assert(unmap(&t, 0x22000, 0x8000) == -ENOENT);
    g_assert(map(&t, 0x22000, 0x8000, buf, RWX) == 0);
    g_assert(map(&t, 0x20000, 0x2000, buf, RWX) == -EEXIST);
    g_assert(map(&t, 0x2a000, 0x6000, buf, RWX) == -EEXIST);

    rk_test_free(buf, 0x10000);
    rk_test_vm_destroy(&t);
}

/* Read a read-only page, then try to write it. */
GUEST_PROGRAM(rom_prog,
    "mov $0x3000, %ax\n mov %ax, %es\n mov %es:0, %al\n out %al, $0x10\n"
    "movb $0xcd, %es:0\n hlt\n");

static void test_readonly(void)
{
    uint8_t *buf;
    RkTestVm t;

    if (!rk_test_need(REVIRT_FEATURE_READONLY_MEM, 0,
                      1ull << REVIRT_EXIT_MMIO)) {
        return;
    }
    rk_test_vm_init(&t);
    g_assert(t.caps.features & REVIRT_FEATURE_READONLY_MEM);
    buf = rk_test_alloc(0x1000);
    buf[0] = 0xab;
    g_assert(map(&t, 0x30000, 0x1000, buf, RX) == 0);

    rk_test_load(&t, rom_prog_start, rom_prog_end);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0xab);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);
    g_assert(t.run->mmio.gpa == 0x30000);
    g_assert(t.run->mmio.is_write == 1);
    g_assert(t.run->mmio.data[0] == 0xcd);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(buf[0] == 0xab);

    rk_test_free(buf, 0x1000);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/memory/errors", test_map_errors);
    g_test_add_func("/revirt-kvm/memory/partial-unmap-splits",
                    test_partial_unmap_splits);
    g_test_add_func("/revirt-kvm/memory/readonly", test_readonly);
    return g_test_run();
}
