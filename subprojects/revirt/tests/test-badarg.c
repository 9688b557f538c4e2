/*
 * revirt driver conformance: every call with bad input fails with its
 * documented error and leaves the driver working: handles of the wrong
 * kind and closed ones, out-of-range ids and values, huge maps and maps
 * over memory the VMM does not have, bad run areas and bad argument
 * pointers.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "rk-test.h"

#define RWX (REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)

/* A kernel address: never readable or writable from userspace. */
#define KERNEL_ADDR ((void *)(uintptr_t)0xffffffff81000000ull)

enum { SYS, VM, VCPU, NR_KINDS };

typedef struct Call {
    const char *name;
    uint32_t request;
    int kind;               /* the kind of handle the call is for */
    bool writes;            /* the driver writes the argument */
} Call;

static const Call calls[] = {
    { "GET_CAPS", REVIRT_GET_CAPS, SYS, true },
    { "GET_SUPPORTED_CPUID", REVIRT_GET_SUPPORTED_CPUID, SYS, true },
    { "GET_SUPPORTED_MSRS", REVIRT_GET_SUPPORTED_MSRS, SYS, true },
    { "CREATE_VM", REVIRT_CREATE_VM, SYS, false },
    { "MAP_MEMORY", REVIRT_MAP_MEMORY, VM, false },
    { "UNMAP_MEMORY", REVIRT_UNMAP_MEMORY, VM, false },
    { "CREATE_VCPU", REVIRT_CREATE_VCPU, VM, false },
    { "LOG_START", REVIRT_LOG_START, VM, false },
    { "LOG_STOP", REVIRT_LOG_STOP, VM, false },
    { "GET_DIRTY_LOG", REVIRT_GET_DIRTY_LOG, VM, false },
    { "RUN", REVIRT_RUN, VCPU, false },
    { "KICK", REVIRT_KICK, VCPU, false },
    { "GET_STATE", REVIRT_GET_STATE, VCPU, true },
    { "SET_STATE", REVIRT_SET_STATE, VCPU, false },
    { "SET_CPUID", REVIRT_SET_CPUID, VCPU, false },
    { "INJECT", REVIRT_INJECT, VCPU, false },
    /* (writes back xcr0, but only with a valid struct: see below) */
    { "GET_XSAVE", REVIRT_GET_XSAVE, VCPU, false },
    { "SET_XSAVE", REVIRT_SET_XSAVE, VCPU, false },
    { "SET_GUEST_DEBUG", REVIRT_SET_GUEST_DEBUG, VCPU, false },
};

/* Requests no driver knows: a free number, and known ones mis-encoded. */
static const uint32_t unknown_requests[] = {
    REVIRT_IO(0x7f),
    REVIRT_IOR(0x00, uint32_t),                     /* GET_CAPS, wrong size */
    REVIRT_IOW(0x00, struct revirt_caps),           /* wrong direction */
    REVIRT_IOC(REVIRT_IOC_WRITE, 0x03, 4),          /* CREATE_VM, short */
    REVIRT_IOW(0x20, uint64_t),                     /* RUN with an argument */
    0xdeadbeef,
};

/* An argument buffer large enough for any call, all zeros. */
static void *zero_arg(void)
{
    return g_malloc0(1 << 14);
}

static void handles(RkTestVm *t, int h[NR_KINDS])
{
    h[SYS] = t->sys;
    h[VM] = t->vm;
    h[VCPU] = t->vcpu;
}

GUEST_PROGRAM(out_prog, "mov $0x5a, %al\n out %al, $0x10\n hlt\n");

/* The VM still works: its vCPU runs the OUT program from its RAM. */
static void assert_still_runs(RkTestVm *t)
{
    rk_test_load(t, out_prog_start, out_prog_end);
    g_assert(rk_test_expect_outb(t, 0x10) == 0x5a);
    g_assert(rk_test_run(t) == REVIRT_EXIT_HLT);
}

static void test_wrong_kind(void)
{
    void *arg = zero_arg();
    int h[NR_KINDS];
    RkTestVm t;

    rk_test_vm_init(&t);
    handles(&t, h);
    for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
        for (int k = 0; k < NR_KINDS; k++) {
            int r;

            if (k == calls[i].kind) {
                continue;
            }
            r = rk_call(h[k], calls[i].request, arg);
            if (r != -ENOTTY) {
                g_test_message("%s on kind %d: %d", calls[i].name, k, r);
            }
            g_assert(r == -ENOTTY);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(unknown_requests); i++) {
        for (int k = 0; k < NR_KINDS; k++) {
            g_assert(rk_call(h[k], unknown_requests[i], arg) == -ENOTTY);
        }
    }
    assert_still_runs(&t);
    g_free(arg);
    rk_test_vm_destroy(&t);
}

static void test_closed(void)
{
    void *arg = zero_arg();
    int h[NR_KINDS];
    RkTestVm t;

    rk_test_vm_init(&t);
    handles(&t, h);
    rk_test_vm_destroy(&t);
    for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
        for (int k = 0; k < NR_KINDS; k++) {
            g_assert(rk_call(h[k], calls[i].request, arg) == -EBADF);
        }
        g_assert(rk_call(-1, calls[i].request, arg) == -EBADF);
        g_assert(rk_call(1 << 30, calls[i].request, arg) == -EBADF);
    }
    for (int k = 0; k < NR_KINDS; k++) {
        g_assert(rk_close(h[k]) == -EBADF);
    }
    g_free(arg);
}

/* Ids and values past their documented range: -EINVAL, nothing changes. */
static void test_out_of_range(void)
{
    static const struct revirt_event bad_events[] = {
        { .type = 0 },
        { .type = REVIRT_EVENT_EXCEPTION + 1 },
        { .type = UINT32_MAX },
        { .type = REVIRT_EVENT_EXTINT, .vector = 256 },
        { .type = REVIRT_EVENT_EXTINT, .vector = UINT32_MAX },
        { .type = REVIRT_EVENT_EXCEPTION, .vector = 32 },
        { .type = REVIRT_EVENT_EXCEPTION, .vector = UINT32_MAX },
    };
    struct revirt_cpuid_table *table = g_new0(struct revirt_cpuid_table, 1);
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_vcpu_create cc;
    uint32_t bad_ids[4];
    void *area;
    RkTestVm t;

    rk_test_vm_init(&t);
    bad_ids[0] = t.caps.max_vcpus;
    bad_ids[1] = t.caps.max_vcpus + 1;
    bad_ids[2] = INT32_MAX;
    bad_ids[3] = UINT32_MAX;
    area = rk_test_alloc(t.caps.run_area_size);
    cc = (struct revirt_vcpu_create) {
        .run_area = (uintptr_t)area, .run_area_size = t.caps.run_area_size,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
        cc.vcpu_id = bad_ids[i];
        g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    }
    /* The largest id is in range. */
    cc.vcpu_id = t.caps.max_vcpus - 1;
    g_assert(rk_close(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc)) == 0);

    for (size_t i = 0; i < G_N_ELEMENTS(bad_events); i++) {
        struct revirt_event ev = bad_events[i];

        g_assert(rk_call(t.vcpu, REVIRT_INJECT, &ev) == -EINVAL);
    }

    g_assert(rk_call(t.sys, REVIRT_GET_SUPPORTED_CPUID, table) == 0);
    table->count = REVIRT_MAX_CPUID_ENTRIES + 1;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == -EINVAL);
    table->count = UINT32_MAX;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == -EINVAL);

    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = UINT32_MAX;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == -EINVAL);
    g_assert(rk_call(t.vcpu, REVIRT_SET_STATE, st) == -EINVAL);
    /* A class no driver of this version knows. */
    st->classes = REVIRT_STATE_REGS | (1ull << 63);
    st->msrs.count = 0;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == -ENOTSUP);
    g_assert(rk_call(t.vcpu, REVIRT_SET_STATE, st) == -ENOTSUP);

    /* Nothing was made pending, and the vCPU still runs. */
    st->classes = REVIRT_STATE_EVENTS;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    g_assert(!st->events.nmi_pending && !st->events.exception_pending &&
             !st->events.interrupt_pending);
    assert_still_runs(&t);
    rk_test_free(area, t.caps.run_area_size);
    g_free(table);
    g_free(st);
    rk_test_vm_destroy(&t);
}

#define CR0_PE      (1ull << 0)
#define CR0_NW      (1ull << 29)
#define CR0_CD      (1ull << 30)
#define CR0_PG      (1ull << 31)
#define CR4_PAE     (1ull << 5)
#define EFER_LME    (1ull << 8)
#define EFER_LMA    (1ull << 10)

/*
 * A CPU mode the CPU refuses (SET_STATE of CONTROL and SEGMENTS): each
 * case changes the reset state's CR0, CR4, EFER and CS.L.
 */
static const struct {
    const char *name;
    uint64_t cr0, cr4, efer;
    bool cs_l;
} bad_modes[] = {
    { "CR0.NW without CD", CR0_NW | CR0_PE, 0, 0, false },
    { "CR0.PG without PE", CR0_PG | CR0_CD, CR4_PAE, 0, false },
    { "EFER.LMA without paging", CR0_PE, 0, EFER_LMA, false },
    { "EFER.LMA without LME", CR0_PE | CR0_PG, CR4_PAE, EFER_LMA, false },
    { "EFER.LME and CR0.PG without LMA", CR0_PE | CR0_PG, CR4_PAE,
      EFER_LME, false },
    { "EFER.LME and CR0.PG without CR4.PAE", CR0_PE | CR0_PG, 0,
      EFER_LME | EFER_LMA, false },
    { "CS.L outside long mode", CR0_PE, 0, 0, true },
    { "CR4 bit 15 (reserved)", CR0_PE, 1ull << 15, 0, false },
    { "CR0 bit 32", (1ull << 32) | CR0_PE, 0, 0, false },
};

static void test_bad_cpu_mode(void)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_vcpu_state *now = g_new0(struct revirt_vcpu_state, 1);
    int r[G_N_ELEMENTS(bad_modes)];
    RkTestVm t;

    rk_test_vm_init(&t);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_modes); i++) {
        st->classes = REVIRT_STATE_CONTROL | REVIRT_STATE_SEGMENTS;
        g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
        st->control.cr0 = bad_modes[i].cr0;
        st->control.cr4 = bad_modes[i].cr4;
        st->control.efer = bad_modes[i].efer;
        st->segments.cs.l = bad_modes[i].cs_l;
        r[i] = rk_call(t.vcpu, REVIRT_SET_STATE, st);
        g_test_message("%s: %d", bad_modes[i].name, r[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad_modes); i++) {
        g_assert(r[i] == -EINVAL);
    }
    /* Nothing was set: still the reset state's real mode. */
    now->classes = REVIRT_STATE_CONTROL | REVIRT_STATE_SEGMENTS;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, now) == 0);
    g_assert(!(now->control.cr0 & (CR0_PE | CR0_PG)));
    g_assert(now->control.efer == 0);
    g_assert(!now->segments.cs.l);
    assert_still_runs(&t);
    g_free(st);
    g_free(now);
    rk_test_vm_destroy(&t);
}

static int map(int vm, uint64_t gpa, uint64_t size, uint64_t hva)
{
    struct revirt_memory_map m = {
        .gpa = gpa, .size = size, .hva = hva, .prot = RWX,
    };

    return rk_call(vm, REVIRT_MAP_MEMORY, &m);
}

static int unmap(int vm, uint64_t gpa, uint64_t size)
{
    struct revirt_memory_unmap u = { .gpa = gpa, .size = size };

    return rk_call(vm, REVIRT_UNMAP_MEMORY, &u);
}

/* Write 0x77 at 2000:0 (gpa 0x20000), past the RAM the VMM has. */
GUEST_PROGRAM(far_prog,
    "mov $0x5a, %al\n out %al, $0x10\n"
    "mov $0x2000, %ax\n mov %ax, %es\n movb $0x77, %es:0\n hlt\n");

/*
 * Huge maps: the whole guest-physical space in one map, and maps whose
 * VMM range wraps or leaves user space.  (Unaligned and overlapping maps:
 * test-memory.)  The VMM range is a reservation as large as the space, so
 * that only the VMM range's first pages are memory: a map over VMM memory
 * that does not exist is legal, and the guest's first touch of it is an
 * internal error, never a crash.
 */
static void test_huge_maps(void)
{
    struct revirt_vm_create vc = { 0 };
    uint64_t space, big, base;
    uint8_t *ram;
    RkTestVm t;
    int vm, r;

    rk_test_vm_init(&t);
    space = 1ull << t.caps.gpa_bits;
    /* (a 48-bit space would not fit a process's 47 bits) */
    big = MIN(space, 1ull << 45);
    base = space - big;
    ram = mmap(NULL, big, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    g_assert(ram != MAP_FAILED);
    g_assert(mprotect(ram, RK_TEST_RAM_SIZE, PROT_READ | PROT_WRITE) == 0);

    vm = rk_call(t.sys, REVIRT_CREATE_VM, &vc);
    g_assert(vm >= 0);
    g_assert(map(vm, 0, space + 0x1000, (uintptr_t)ram) == -ERANGE);
    g_assert(map(vm, 0x1000, UINT64_MAX & ~0xfffull, (uintptr_t)ram) ==
             -ERANGE);
    g_assert(map(vm, space, 0x1000, (uintptr_t)ram) == -ERANGE);
    /* The VMM range wraps, or is not user space. */
    g_assert(map(vm, 0, 0x2000, UINT64_MAX & ~0xfffull) == -EINVAL);
    g_assert(map(vm, 0, 0x1000, (uintptr_t)KERNEL_ADDR) == -EINVAL);
    g_assert(map(vm, 0, big, 0x7ffffffff000ull) == -EINVAL);

    /* The largest map there is (up to the top), or out of resources. */
    r = map(vm, base, big, (uintptr_t)ram);
    g_test_message("a map of %" PRIu64 " GiB up to 2^%u: %d", big >> 30,
                   t.caps.gpa_bits, r);
    g_assert(r == 0 || r == -ENOSPC);
    if (r == 0) {
        g_assert(map(vm, space - 0x1000, 0x1000, (uintptr_t)ram) == -EEXIST);
        /* Unmapping a page in the middle splits it, and again it all. */
        g_assert(unmap(vm, base + big / 2, 0x1000) == 0);
        g_assert(map(vm, base + big / 2, 0x1000, (uintptr_t)ram) == 0);
        g_assert(unmap(vm, base, big) == 0);
        g_assert(unmap(vm, base, big) == -ENOENT);
    }
    g_assert(rk_close(vm) == 0);

    /* The guest writes past the RAM: an internal error, then it goes on. */
    g_assert(unmap(t.vm, 0, RK_TEST_RAM_SIZE) == 0);
    g_assert(map(t.vm, 0, 0x100000, (uintptr_t)ram) == 0);
    memcpy(ram + RK_TEST_CODE_GPA, far_prog_start,
           far_prog_end - far_prog_start);
    rk_test_set_entry(t.vcpu);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERNAL_ERROR);
    g_assert(unmap(t.vm, 0, 0x100000) == 0);
    g_assert(map(t.vm, 0, RK_TEST_RAM_SIZE, (uintptr_t)t.ram) == 0);
    assert_still_runs(&t);
    munmap(ram, big);
    rk_test_vm_destroy(&t);
}

/*
 * Bad pointers are checked by a kernel driver only.  revirt-kvm runs in
 * the caller's process: a bad pointer faults there as it would in any
 * libc call, and checking each one would cost a system call per call,
 * so the ABI lets a userspace driver skip it (see its -EFAULT).
 */
static bool need_native(void)
{
    if (!rk_native()) {
        g_test_skip("bad pointers fault the caller of revirt-kvm, a "
                    "userspace driver (the ABI's -EFAULT)");
        return false;
    }
    return true;
}

static int open_fds(void)
{
    GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
    int n = 0;

    g_assert(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

typedef struct BadPages {
    uint8_t *none;          /* PROT_NONE */
    uint8_t *ro;            /* read-only, all zeros */
    uint8_t *edge;          /* readable page, then a PROT_NONE one */
} BadPages;

static void bad_pages_init(BadPages *p)
{
    p->none = mmap(NULL, 0x4000, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(p->none != MAP_FAILED);
    p->ro = mmap(NULL, 0x4000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(p->ro != MAP_FAILED);
    p->edge = mmap(NULL, 0x8000, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(p->edge != MAP_FAILED);
    g_assert(mprotect(p->edge + 0x4000, 0x4000, PROT_NONE) == 0);
}

static void bad_pages_free(BadPages *p)
{
    munmap(p->none, 0x4000);
    munmap(p->ro, 0x4000);
    munmap(p->edge, 0x8000);
}

/*
 * Every call's argument unreadable (or for a call that writes it back,
 * read-only and all zeros, which every such call accepts): -EFAULT.  A
 * call the driver does not offer reads its argument first too (reserved
 * fields come before anything else).
 */
static void test_bad_pointers(void)
{
    int h[NR_KINDS], fds;
    BadPages p;
    RkTestVm t;

    if (!need_native()) {
        return;
    }
    rk_test_vm_init(&t);
    handles(&t, h);
    bad_pages_init(&p);
    fds = open_fds();
    for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
        const Call *c = &calls[i];
        uint32_t size = (c->request >> 16) & (REVIRT_IOC_SIZE_LIMIT - 1);
        void *bad[] = {
            NULL, KERNEL_ADDR, p.none,
            /* the struct's last byte on the PROT_NONE page */
            p.edge + 0x4000 - size + 1,
            c->writes ? p.ro : NULL,
        };

        if (!size) {
            continue;           /* RUN and KICK take no argument */
        }
        for (size_t b = 0; b < G_N_ELEMENTS(bad); b++) {
            int r = rk_call(h[c->kind], c->request, bad[b]);

            if (r != -EFAULT) {
                g_test_message("%s, bad pointer %zu: %d", c->name, b, r);
            }
            g_assert(r == -EFAULT);
        }
    }
    /* No CREATE made a handle (a native driver's handles are files). */
    g_assert(open_fds() == fds);
    assert_still_runs(&t);
    bad_pages_free(&p);
    rk_test_vm_destroy(&t);
}

GUEST_PROGRAM(poke_prog, "movb $0x77, 0x3000\n hlt\n");

/*
 * Pointers inside the arguments: the XSAVE area and the dirty bitmap (a
 * failed GET_DIRTY_LOG clears nothing: the next one reports the page).
 */
static void test_bad_inner_pointers(void)
{
    struct revirt_xsave x = { 0 }, *ro_x;
    struct revirt_dirty_log l = { .gpa = 0, .size = RK_TEST_RAM_SIZE };
    struct revirt_log_range range = { .gpa = 0, .size = RK_TEST_RAM_SIZE };
    bool tested = false;
    BadPages p;
    RkTestVm t;

    if (!need_native()) {
        return;
    }
    rk_test_vm_init(&t);
    bad_pages_init(&p);
    if (t.caps.features & REVIRT_FEATURE_XSAVE) {
        uint64_t areas[] = { 0, (uintptr_t)KERNEL_ADDR, (uintptr_t)p.none };

        x.size = t.caps.xsave_size;
        for (size_t i = 0; i < G_N_ELEMENTS(areas); i++) {
            x.area = areas[i];
            g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == -EFAULT);
            g_assert(rk_call(t.vcpu, REVIRT_SET_XSAVE, &x) == -EFAULT);
        }
        x.area = (uintptr_t)p.ro;
        if (t.caps.xsave_size <= 0x3000) {
            g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == -EFAULT);
            /* The struct itself read-only: GET writes xcr0 back there. */
            ro_x = (struct revirt_xsave *)p.edge;
            *ro_x = (struct revirt_xsave) {
                .area = (uintptr_t)p.edge + 0x1000,
                .size = t.caps.xsave_size,
            };
            g_assert(mprotect(p.edge, 0x1000, PROT_READ) == 0);
            g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, ro_x) == -EFAULT);
        }
        tested = true;
    }
    if (t.caps.features & REVIRT_FEATURE_DIRTY_LOG) {
        uint64_t maps[] = { (uintptr_t)KERNEL_ADDR, (uintptr_t)p.none,
                            (uintptr_t)p.ro };

        uint8_t bitmap[RK_TEST_RAM_SIZE / 0x1000 / 8] = { 0 };

        g_assert(rk_call(t.vm, REVIRT_LOG_START, &range) == 0);
        rk_test_load(&t, poke_prog_start, poke_prog_end);
        g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
        for (size_t i = 0; i < G_N_ELEMENTS(maps); i++) {
            l.bitmap = maps[i];
            g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == -EFAULT);
        }
        l.bitmap = (uintptr_t)bitmap;
        g_assert(rk_call(t.vm, REVIRT_GET_DIRTY_LOG, &l) == 0);
        g_assert(bitmap[0] == 1 << 3);
        tested = true;
    }
    if (!tested) {
        g_test_skip("the driver has neither XSAVE nor a dirty log");
    }
    assert_still_runs(&t);
    bad_pages_free(&p);
    rk_test_vm_destroy(&t);
}

/*
 * Bad run areas: none, unaligned, too small (both drivers), and run areas
 * the VMM cannot write or has not mapped (native only, see above).
 */
static void test_bad_run_area(void)
{
    struct revirt_vcpu_create cc;
    BadPages p;
    uint8_t *area;
    RkTestVm t;
    int vcpu;

    rk_test_vm_init(&t);
    area = rk_test_alloc(2 * t.caps.run_area_size);
    cc = (struct revirt_vcpu_create) {
        .vcpu_id = 1, .run_area = 0, .run_area_size = t.caps.run_area_size,
    };
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.run_area = (uintptr_t)area + 0x800;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.run_area = (uintptr_t)area;
    cc.run_area_size = 0;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.run_area_size = t.caps.run_area_size - 1;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    /* Bigger than needed is fine. */
    cc.run_area_size = UINT64_MAX;
    vcpu = rk_call(t.vm, REVIRT_CREATE_VCPU, &cc);
    g_assert(vcpu >= 0);
    g_assert(rk_close(vcpu) == 0);

    if (rk_native()) {
        bad_pages_init(&p);
        cc.run_area_size = t.caps.run_area_size;
        cc.run_area = (uintptr_t)p.none;
        g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
        cc.run_area = (uintptr_t)p.ro;
        g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
        cc.run_area = (uintptr_t)KERNEL_ADDR;
        g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
        /* Half of it mapped. */
        cc.run_area = (uintptr_t)p.edge + 0x4000 - 0x1000;
        if (t.caps.run_area_size > 0x1000) {
            g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
        }
        bad_pages_free(&p);

        /*
         * The VMM unmaps the run area of a live vCPU: the kernel keeps
         * its own reference, so runs go on; the VMM only loses the exits.
         */
        cc.run_area = (uintptr_t)area;
        vcpu = rk_call(t.vm, REVIRT_CREATE_VCPU, &cc);
        g_assert(vcpu >= 0);
        rk_test_load(&t, out_prog_start, out_prog_end);
        rk_test_set_entry(vcpu);
        munmap(area, 2 * t.caps.run_area_size);
        g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
        g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
        g_assert(rk_close(vcpu) == 0);
    } else {
        rk_test_free(area, 2 * t.caps.run_area_size);
    }
    assert_still_runs(&t);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/badarg/wrong-kind", test_wrong_kind);
    g_test_add_func("/revirt-kvm/badarg/closed", test_closed);
    g_test_add_func("/revirt-kvm/badarg/out-of-range", test_out_of_range);
    g_test_add_func("/revirt-kvm/badarg/bad-cpu-mode", test_bad_cpu_mode);
    g_test_add_func("/revirt-kvm/badarg/huge-maps", test_huge_maps);
    g_test_add_func("/revirt-kvm/badarg/bad-pointers", test_bad_pointers);
    g_test_add_func("/revirt-kvm/badarg/bad-inner-pointers",
                    test_bad_inner_pointers);
    g_test_add_func("/revirt-kvm/badarg/bad-run-area", test_bad_run_area);
    return g_test_run();
}
