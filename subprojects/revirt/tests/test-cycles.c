/*
 * revirt driver conformance: 200 VM lifetimes (a vCPU, maps, a split,
 * guest writes to 64 pages, runs, a kick) leave nothing behind.  The
 * process's handles and heap come back exactly (or nearly) to where they
 * were; with REVIRT_TEST_MEMCHECK=1, on a machine that runs nothing else
 * (the lab's L1), so do the kernel's free memory, slab and vmalloc use.
 * The figures before and after are printed.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "rk-test.h"

#define CYCLES          200
#define WARMUP          10      /* caches and pools fill up first */
#define TOUCH_GPA       0x20000
#define TOUCH_PAGES     64
#define HOLE_GPA        0x30000

/*
 * Tolerances, below what one lost object per VM adds up to in 200
 * cycles.  Free memory: 512 KiB, so a leak of one page per VM (800 KiB)
 * fails (a VM pins the 64 pages its guest writes and a few more, and has
 * its own VMCB, page tables and FPU state).  Slab and vmalloc: 128 KiB,
 * 655 bytes per VM.  The process's heap: 64 KiB (revirt-kvm's handle
 * table grows by design, handles are never reused).
 */
#define FREE_TOLERANCE_KB       512
#define SLAB_TOLERANCE_KB       128
#define VMALLOC_TOLERANCE_KB    128
#define HEAP_TOLERANCE          (64 * 1024)

/* Write 0x5a at the start of each page of [TOUCH_GPA, +64 pages). */
GUEST_PROGRAM(touch_prog,
    "mov $0x2000, %ax\n"
    "1: mov %ax, %es\n movb $0x5a, %es:0\n add $0x100, %ax\n"
    "cmp $0x6000, %ax\n jb 1b\n"
    "mov $0x5a, %al\n out %al, $0x10\n hlt\n");

typedef struct Figures {
    long free_kb;           /* MemFree, plus the per-CPU page lists */
    long slab_kb;           /* Slab */
    long slabinfo_kb;       /* the objects /proc/slabinfo counts, or -1 */
    long vmalloc_kb;        /* VmallocUsed */
    int fds;                /* this process's open files */
    size_t heap;            /* this process's malloc'd bytes */
} Figures;

static long meminfo(const char *key)
{
    g_autofree char *text = NULL;
    const char *p;

    g_assert(g_file_get_contents("/proc/meminfo", &text, NULL, NULL));
    p = strstr(text, key);
    g_assert(p);
    return g_ascii_strtoll(p + strlen(key), NULL, 10);
}

/* Pages on the per-CPU lists are free, but MemFree does not count them. */
static long pcp_free_kb(void)
{
    g_autofree char *text = NULL;
    char **lines;
    long pages = 0;

    if (!g_file_get_contents("/proc/zoneinfo", &text, NULL, NULL)) {
        return 0;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        long n;

        if (sscanf(*l, " count: %ld", &n) == 1) {
            pages += n;
        }
    }
    g_strfreev(lines);
    return pages * 4;
}

static long slabinfo_kb(void)
{
    g_autofree char *text = NULL;
    char **lines;
    long bytes = 0;

    if (!g_file_get_contents("/proc/slabinfo", &text, NULL, NULL)) {
        return -1;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char name[64];
        long active, total, size;

        if (sscanf(*l, "%63s %ld %ld %ld", name, &active, &total, &size) ==
            4) {
            bytes += active * size;
        }
    }
    g_strfreev(lines);
    return bytes / 1024;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    g_assert(d);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n - 1;           /* the directory's own */
}

static void measure(Figures *f)
{
    /* Let RCU and deferred work free what the last cycle closed. */
    g_usleep(500 * 1000);
    f->fds = open_fds();
    f->heap = mallinfo2().uordblks;
    f->free_kb = meminfo("MemFree:") + pcp_free_kb();
    f->slab_kb = meminfo("Slab:");
    f->slabinfo_kb = slabinfo_kb();
    f->vmalloc_kb = meminfo("VmallocUsed:");
}

static int map(RkTestVm *t, uint64_t gpa, uint64_t size, void *hva)
{
    struct revirt_memory_map m = {
        .gpa = gpa, .size = size, .hva = (uintptr_t)hva,
        .prot = REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC,
    };

    return rk_call(t->vm, REVIRT_MAP_MEMORY, &m);
}

/* One VM's life, checking what it does along the way. */
static void cycle(void)
{
    struct revirt_memory_unmap hole = { .gpa = HOLE_GPA, .size = 0x10000 };
    struct revirt_run *run;
    uint8_t *buf;
    RkTestVm t;
    int vcpu;

    rk_test_vm_init(&t);
    buf = rk_test_alloc(TOUCH_PAGES * 0x1000);
    g_assert(map(&t, TOUCH_GPA, TOUCH_PAGES * 0x1000, buf) == 0);
    rk_test_load(&t, touch_prog_start, touch_prog_end);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    for (int i = 0; i < TOUCH_PAGES; i++) {
        g_assert(buf[i * 0x1000] == 0x5a);
    }

    /* Split the map; the guest's write to the hole is MMIO now. */
    g_assert(rk_call(t.vm, REVIRT_UNMAP_MEMORY, &hole) == 0);
    rk_test_set_entry(t.vcpu);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_MMIO);
    g_assert(t.run->mmio.gpa == HOLE_GPA && t.run->mmio.is_write);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);

    /* A second vCPU, which runs once and goes first. */
    vcpu = rk_test_vcpu_new(&t, 1, &run);
    rk_test_set_entry(vcpu);
    g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
    g_assert(run->exit_reason == REVIRT_EXIT_MMIO);
    rk_test_vcpu_free(&t, vcpu, run);

    rk_test_vm_destroy(&t);
    rk_test_free(buf, TOUCH_PAGES * 0x1000);
}

/* The kernel's figures are back to a's (with the tolerances above). */
static bool kernel_back(const Figures *a, const Figures *b)
{
    return b->free_kb >= a->free_kb - FREE_TOLERANCE_KB &&
           b->slab_kb <= a->slab_kb + SLAB_TOLERANCE_KB &&
           (a->slabinfo_kb < 0 ||
            b->slabinfo_kb <= a->slabinfo_kb + SLAB_TOLERANCE_KB) &&
           b->vmalloc_kb <= a->vmalloc_kb + VMALLOC_TOLERANCE_KB;
}

static void test_cycles(void)
{
    bool memcheck = !g_strcmp0(g_getenv("REVIRT_TEST_MEMCHECK"), "1");
    Figures a, b;
    gint64 start;

    for (int i = 0; i < WARMUP; i++) {
        cycle();
    }
    measure(&a);
    start = g_get_monotonic_time();
    for (int i = 0; i < CYCLES; i++) {
        cycle();
    }
    measure(&b);
    if (memcheck && !kernel_back(&a, &b)) {
        /* Once more, for frees the kernel defers (RCU, workqueues). */
        g_usleep(3 * G_USEC_PER_SEC);
        measure(&b);
    }
    g_test_message("figures: memory cycles=%d seconds=%.1f "
                   "free_kb=%ld->%ld slab_kb=%ld->%ld slabinfo_kb=%ld->%ld "
                   "vmalloc_kb=%ld->%ld fds=%d->%d heap=%zu->%zu "
                   "checked=%s", CYCLES,
                   (g_get_monotonic_time() - start) / 1e6,
                   a.free_kb, b.free_kb, a.slab_kb, b.slab_kb,
                   a.slabinfo_kb, b.slabinfo_kb, a.vmalloc_kb, b.vmalloc_kb,
                   a.fds, b.fds, a.heap, b.heap,
                   memcheck ? "kernel+process" : "process");
    g_assert(b.fds == a.fds);
    g_assert(b.heap <= a.heap + HEAP_TOLERANCE);
    if (!memcheck) {
        return;
    }
    g_assert(b.free_kb >= a.free_kb - FREE_TOLERANCE_KB);
    g_assert(b.slab_kb <= a.slab_kb + SLAB_TOLERANCE_KB);
    if (a.slabinfo_kb >= 0) {
        g_assert(b.slabinfo_kb <= a.slabinfo_kb + SLAB_TOLERANCE_KB);
    }
    g_assert(b.vmalloc_kb <= a.vmalloc_kb + VMALLOC_TOLERANCE_KB);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/cycles/vm-lifetimes", test_cycles);
    return g_test_run();
}
