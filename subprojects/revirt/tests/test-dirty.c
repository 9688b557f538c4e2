/*
 * revirt-kvm: dirty logging (REVIRT_LOG_START, REVIRT_LOG_STOP,
 * REVIRT_GET_DIRTY_LOG) against what a real-mode guest writes.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdlib.h>
#include <string.h>

#include "rk-test.h"

#define RWX (REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)

#define LOG_GPA     0x20000ull  /* 32 pages of logged RAM */
#define LOG_SIZE    0x20000ull

static int map(RkTestVm *t, uint64_t gpa, uint64_t size, void *hva)
{
    struct revirt_memory_map m = {
        .gpa = gpa, .size = size, .hva = (uintptr_t)hva, .prot = RWX,
    };

    return rk_call(t->vm, REVIRT_MAP_MEMORY, &m);
}

static int unmap(RkTestVm *t, uint64_t gpa, uint64_t size)
{
    struct revirt_memory_unmap u = { .gpa = gpa, .size = size };

    return rk_call(t->vm, REVIRT_UNMAP_MEMORY, &u);
}

static int log_call(RkTestVm *t, uint32_t request, uint64_t gpa,
                    uint64_t size)
{
    struct revirt_log_range r = { .gpa = gpa, .size = size };

    return rk_call(t->vm, request, &r);
}

/* Get the log of [gpa, gpa + size) as a 64-bit mask (size <= 64 pages). */
static int get_log(RkTestVm *t, uint64_t gpa, uint64_t size, uint64_t *bits)
{
    uint8_t bytes[8];
    struct revirt_dirty_log l = {
        .gpa = gpa, .size = size, .bitmap = (uintptr_t)bytes,
    };
    int nbytes = (size / REVIRT_PAGE_SIZE + 7) / 8;
    int ret;

    g_assert(size <= 64 * REVIRT_PAGE_SIZE);
    memset(bytes, 0xa5, sizeof(bytes));
    ret = rk_call(t->vm, REVIRT_GET_DIRTY_LOG, &l);
    /* The driver writes the bitmap's bytes and no more. */
    g_assert(ret < 0 || nbytes == 8 || bytes[nbytes] == 0xa5);
    *bits = 0;
    for (int i = 0; ret == 0 && i < nbytes; i++) {
        *bits |= (uint64_t)bytes[i] << (8 * i);
    }
    return ret;
}

static uint64_t pages(int n, const int *list)
{
    uint64_t bits = 0;

    for (int i = 0; i < n; i++) {
        bits |= 1ull << list[i];
    }
    return bits;
}
#define PAGES(...) pages(sizeof((int[]){ __VA_ARGS__ }) / sizeof(int), \
                         (int[]){ __VA_ARGS__ })

/*
 * Write pages 0, 3, 15 and 16 (one word across them) and 31 of the
 * logged area, stop at OUT 0x10;
 * then page 5 with a string IN of one byte, stop at OUT 0x11; then
 * page 2 and 20, OUT 0x12; hlt.
 */
GUEST_PROGRAM(writer,
    "mov $0x2000, %ax\n mov %ax, %es\n movb $1, %es:0\n"
    "mov $0x2300, %ax\n mov %ax, %es\n movb $1, %es:0x10\n"
    "mov $0x2f00, %ax\n mov %ax, %es\n movw $1, %es:0xfff\n"
    "mov $0x3f00, %ax\n mov %ax, %es\n movb $1, %es:0xfff\n"
    "out %al, $0x10\n"
    "mov $0x2500, %ax\n mov %ax, %es\n mov $0x40, %di\n mov $0x60, %dx\n"
    "cld\n insb\n"
    "out %al, $0x11\n"
    "mov $0x2200, %ax\n mov %ax, %es\n movb $2, %es:0\n"
    "mov $0x3400, %ax\n mov %ax, %es\n movb $2, %es:0\n"
    "out %al, $0x12\n hlt\n");

/* Run @test with and without KVM's manual dirty-log protection. */
static void test_both_ways(const void *data)
{
    void (*test)(void) = data;

    if (!rk_test_need(REVIRT_FEATURE_DIRTY_LOG, 0, 0)) {
        return;
    }
    test();
    g_setenv("REVIRT_KVM_HIDE", "dirty-log-clear", TRUE);
    test();
    g_unsetenv("REVIRT_KVM_HIDE");
}

static void test_guest_writes(void)
{
    uint8_t *buf;
    uint64_t bits;
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(t.caps.features & REVIRT_FEATURE_DIRTY_LOG);
    buf = rk_test_alloc(LOG_SIZE);
    g_assert(map(&t, LOG_GPA, LOG_SIZE, buf) == 0);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, LOG_SIZE) == 0);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == 0);

    rk_test_load(&t, writer_start, writer_end);
    rk_test_expect_outb(&t, 0x10);
    /* What the VMM writes through its own mapping is not reported. */
    buf[7 * REVIRT_PAGE_SIZE] = 1;
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == PAGES(0, 3, 15, 16, 31));
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == 0);

    /* The driver writes the data of a string IN for the guest. */
    g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
    g_assert(t.run->io.direction == REVIRT_IO_IN && t.run->io.port == 0x60);
    t.run->io_data[0] = 0x5a;
    rk_test_expect_outb(&t, 0x11);
    g_assert(buf[5 * REVIRT_PAGE_SIZE + 0x40] == 0x5a);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == PAGES(5));

    /* A range inside the mapping reports and clears only its own pages. */
    rk_test_expect_outb(&t, 0x12);
    g_assert(get_log(&t, LOG_GPA + 0x10000, 0x8000, &bits) == 0);
    g_assert(bits == PAGES(20 - 16));
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == PAGES(2));
    /* Bits past a range in its last byte are cleared. */
    g_assert(get_log(&t, LOG_GPA, 3 * REVIRT_PAGE_SIZE, &bits) == 0);
    g_assert(bits == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);

    rk_test_free(buf, LOG_SIZE);
    rk_test_vm_destroy(&t);
}

/* Write pages 2, 9 and 20 of the logged area, then hlt. */
GUEST_PROGRAM(writer3,
    "mov $0x2200, %ax\n mov %ax, %es\n movb $3, %es:0\n"
    "mov $0x2900, %ax\n mov %ax, %es\n movb $3, %es:0\n"
    "mov $0x3400, %ax\n mov %ax, %es\n movb $3, %es:0\n"
    "hlt\n");

static void test_start_stop_unmap(void)
{
    uint8_t *buf;
    uint64_t bits;
    RkTestVm t;

    rk_test_vm_init(&t);
    buf = rk_test_alloc(LOG_SIZE);
    /* Two mappings, [0x20000, 0x30000) and [0x30000, 0x40000). */
    g_assert(map(&t, LOG_GPA, 0x10000, buf) == 0);
    g_assert(map(&t, LOG_GPA + 0x10000, 0x10000, buf + 0x10000) == 0);

    /* The range must be whole mappings, all of it mapped. */
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0x8000) == -EXDEV);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA + 0x8000, 0x10000) ==
             -EXDEV);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0x30000) == -ENOENT);
    g_assert(log_call(&t, REVIRT_LOG_START, 0x80000, 0x1000) == -ENOENT);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == -ENOENT);

    /* One call may cover several mappings; repeating it is harmless. */
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, LOG_SIZE) == 0);
    rk_test_load(&t, writer3_start, writer3_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0x10000) == 0);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, LOG_SIZE) == 0);

    /* A split keeps the log of what is left; the hole's is gone. */
    g_assert(unmap(&t, LOG_GPA + 0x8000, 0x4000) == 0);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == -ENOENT);
    g_assert(get_log(&t, LOG_GPA, 0x8000, &bits) == 0);
    g_assert(bits == PAGES(2));
    g_assert(get_log(&t, LOG_GPA + 0xc000, 0x14000, &bits) == 0);
    g_assert(bits == PAGES(20 - 12));

    /* Pages of the pieces written after the split are logged too. */
    rk_test_load(&t, writer3_start, writer3_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);     /* page 9: the hole */
    g_assert(t.run->mmio.gpa == LOG_GPA + 0x9000);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(get_log(&t, LOG_GPA + 0xc000, 0x14000, &bits) == 0);
    g_assert(bits == PAGES(20 - 12));

    /* Stopped: no log.  Restarted: nothing written yet. */
    g_assert(log_call(&t, REVIRT_LOG_STOP, LOG_GPA, 0x8000) == 0);
    g_assert(log_call(&t, REVIRT_LOG_STOP, LOG_GPA, 0x8000) == 0);
    g_assert(get_log(&t, LOG_GPA, 0x8000, &bits) == -ENOENT);
    rk_test_load(&t, writer3_start, writer3_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0x8000) == 0);
    g_assert(get_log(&t, LOG_GPA, 0x8000, &bits) == 0);
    g_assert(bits == 0);

    /* A new mapping does not log until it is started. */
    g_assert(map(&t, LOG_GPA + 0x8000, 0x4000, buf + 0x8000) == 0);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == -ENOENT);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA + 0x8000, 0x4000) == 0);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == 0);
    rk_test_load(&t, writer3_start, writer3_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == 0);
    g_assert(bits == PAGES(2, 9, 20));

    /* Unmapping a logging mapping whole, and mapping it again. */
    g_assert(unmap(&t, LOG_GPA, LOG_SIZE) == 0);
    g_assert(map(&t, LOG_GPA, LOG_SIZE, buf) == 0);
    g_assert(get_log(&t, LOG_GPA, LOG_SIZE, &bits) == -ENOENT);

    rk_test_free(buf, LOG_SIZE);
    rk_test_vm_destroy(&t);
}

static void test_errors(void)
{
    if (!rk_test_need(REVIRT_FEATURE_DIRTY_LOG, 0, 0)) {
        return;
    }
    struct revirt_log_range flagged = {
        .gpa = LOG_GPA, .size = LOG_SIZE, .flags = 1,
    };
    struct revirt_dirty_log l = { .gpa = LOG_GPA, .size = LOG_SIZE };
    uint8_t bytes[8];
    uint8_t *buf;
    RkTestVm t;

    rk_test_vm_init(&t);
    buf = rk_test_alloc(LOG_SIZE);
    g_assert(map(&t, LOG_GPA, LOG_SIZE, buf) == 0);

    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA + 8, LOG_SIZE) ==
             -EINVAL);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0x800) == -EINVAL);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, 0) == -EINVAL);
    g_assert(log_call(&t, REVIRT_LOG_STOP, LOG_GPA, 0x800) == -EINVAL);
    g_assert(log_call(&t, REVIRT_LOG_START, UINT64_MAX & ~0xfffull,
                      0x2000) == -ERANGE);
    g_assert(rk_call(t.vm, REVIRT_LOG_START, &flagged) == -EINVAL);
    flagged.flags = 0;
    flagged.reserved = 1;
    g_assert(rk_call(t.vm, REVIRT_LOG_STOP, &flagged) == -EINVAL);
    g_assert(log_call(&t, REVIRT_LOG_STOP, 0x80000, 0x1000) == -ENOENT);
    g_assert(log_call(&t, REVIRT_LOG_START, LOG_GPA, LOG_SIZE) == 0);

    /* A NULL bitmap, unaligned or unmapped ranges, flags. */
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EFAULT);
    l.bitmap = (uintptr_t)bytes;
    l.gpa = LOG_GPA + 0x10;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EINVAL);
    l.gpa = LOG_GPA;
    l.size = 0x1800;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EINVAL);
    l.size = 0;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EINVAL);
    l.size = LOG_SIZE;
    l.flags = 1;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EINVAL);
    l.flags = 0;
    l.reserved = 1;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EINVAL);
    l.reserved = 0;
    l.size = LOG_SIZE + 0x1000;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -ENOENT);
    l.gpa = 0;                  /* mapped, not logging */
    l.size = 0x1000;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -ENOENT);
    l.gpa = UINT64_MAX & ~0xfffull;
    l.size = 0x2000;
    g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -ERANGE);
    /* The calls are for VM handles. */
    g_assert(rk_call(t.vcpu, REVIRT_GET_DIRTY_LOG, &l) == -ENOTTY);
    g_assert(rk_call(t.sys, REVIRT_LOG_START, &flagged) == -ENOTTY);

    rk_test_free(buf, LOG_SIZE);
    rk_test_vm_destroy(&t);
}

/*
 * REVIRT_KVM_HIDE=dirty-log: a driver without the feature.  Only
 * revirt-kvm can hide it; the kernel driver is tested here only when it
 * lacks the feature.
 */
static void test_hidden(void)
{
    uint64_t bits;
    RkTestVm t;

    g_setenv("REVIRT_KVM_HIDE", "xsave,dirty-log", TRUE);
    rk_test_vm_init(&t);
    g_unsetenv("REVIRT_KVM_HIDE");
    if (rk_native() && (t.caps.features & REVIRT_FEATURE_DIRTY_LOG)) {
        g_test_skip("REVIRT_KVM_HIDE is revirt-kvm's: the native driver "
                    "cannot hide its dirty log");
        rk_test_vm_destroy(&t);
        return;
    }
    g_assert(!(t.caps.features & REVIRT_FEATURE_DIRTY_LOG));
    g_assert(log_call(&t, REVIRT_LOG_START, 0, RK_TEST_RAM_SIZE) ==
             -ENOTSUP);
    g_assert(log_call(&t, REVIRT_LOG_STOP, 0, RK_TEST_RAM_SIZE) == -ENOTSUP);
    g_assert(get_log(&t, 0, RK_TEST_RAM_SIZE, &bits) == -ENOTSUP);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_data_func("/revirt-kvm/dirty/guest-writes",
                         test_guest_writes, test_both_ways);
    g_test_add_data_func("/revirt-kvm/dirty/start-stop-unmap",
                         test_start_stop_unmap, test_both_ways);
    g_test_add_func("/revirt-kvm/dirty/errors", test_errors);
    g_test_add_func("/revirt-kvm/dirty/hidden", test_hidden);
    return g_test_run();
}
