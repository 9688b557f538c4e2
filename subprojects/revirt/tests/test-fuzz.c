/*
 * revirt driver conformance: a randomized multi-threaded call fuzzer.
 *
 * Several threads make random calls, with mostly valid and sometimes
 * broken arguments, on handles they all share: VMs and vCPUs are created,
 * mapped, run, kicked, changed and closed under each other's feet.  The
 * driver must not crash or hang, every call must return 0 (or a handle)
 * or an error the ABI documents for that call, and the guests must have
 * run into port I/O and MMIO (a fuzzer whose runs all fail tests little).
 *
 * REVIRT_FUZZ_SEED=N replays a seed (with the same thread interleaving
 * only by luck: the calls each thread makes follow from the seed);
 * REVIRT_FUZZ_CALLS=N sets the steps per thread (a step makes a call or
 * a few).  The seed, the count of
 * calls and each call's outcomes are printed.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rk-test.h"

#define NR_THREADS      4
#define STEPS_PER_THREAD 5000
#define NR_VMS          3
#define NR_VCPUS        6           /* slots, over all VMs */
#define NR_RUN_AREAS    32
/*
 * Each VM slot's memory: RAM_SIZE bytes the guest may use, at the start
 * of a PROT_NONE reservation as large as the guest-physical space (at
 * most MAX_SPACE), so that no map the fuzzer makes, however large, can
 * give the guest any other memory of this process.
 */
#define RAM_SIZE        0x200000
#define MAX_SPACE       (1ull << 44)
#define CALL_TIMEOUT_US (20 * G_USEC_PER_SEC)

#define RWX (REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)
#define CR0_PG          (1ull << 31)
#define CR4_PAE         (1ull << 5)
#define EFER_LME        (1ull << 8)

/*
 * Guest programs at 0x1000 + 0x100 * n: port I/O, a spin only a kick
 * ends, an MMIO read and write, an HLT loop, writes over RAM, a wild far
 * jump, and (the seventh) the zeros after them.
 */
GUEST_PROGRAM(fuzz_progs,
    "1: in $0x12, %al\n out %al, $0x10\n jmp 1b\n"
    ".org fuzz_progs_start + 0x100\n 1: jmp 1b\n"
    ".org fuzz_progs_start + 0x200\n 1: mov $0xe000, %ax\n mov %ax, %es\n"
    "   mov %es:0, %al\n mov %al, %es:8\n jmp 1b\n"
    ".org fuzz_progs_start + 0x300\n 1: sti\n hlt\n jmp 1b\n"
    ".org fuzz_progs_start + 0x400\n xor %bx, %bx\n mov $0x200, %ax\n"
    "1: mov %ax, %es\n movb $0x5a, %es:(%bx)\n add $0x100, %ax\n"
    "   cmp $0x2000, %ax\n jb 1b\n out %al, $0x11\n hlt\n"
    ".org fuzz_progs_start + 0x500\n ljmp $0x1234, $0x5678\n"
    ".org fuzz_progs_start + 0x600\n");

#define NR_PROGS 7

typedef struct Fuzz {
    struct revirt_caps caps;
    int sys;                        /* never closed while threads run */
    int vms[NR_VMS];                /* -1: empty */
    int vcpus[NR_VCPUS];            /* -1: empty */
    int vcpu_area[NR_VCPUS];        /* the run area of the slot's vCPU */
    uint8_t *ram[NR_VMS];           /* stays mapped until the end */
    uint64_t space;                 /* the reservation's size */
    uint8_t *run_areas[NR_RUN_AREAS];
    uint8_t *unmapped;              /* PROT_NONE, for broken run areas */
    struct revirt_cpuid_table cpuid;
    guint64 seed;
    gint calls, stop;
    gint64 call_started[NR_THREADS]; /* atomic; 0: not in a call */
    const char *call_name[NR_THREADS];
} Fuzz;

static Fuzz fz;
static const uint8_t zeros[1 << 14];

typedef struct Thread {
    int index;
    GRand *rand;
    pthread_t thread;
    /* successes and documented errors; RUN's exits by reason */
    unsigned ok, failed;
    unsigned exits[16];
    struct revirt_vcpu_state state;
    struct revirt_cpuid_table cpuid;
    uint8_t xsave[0x4000];
} Thread;

static int rnd(Thread *th, int n)
{
    return g_rand_int_range(th->rand, 0, n);
}

static bool chance(Thread *th, int percent)
{
    return rnd(th, 100) < percent;
}

/* A handle: mostly of the kind wanted, sometimes any, closed or bogus. */
static int pick_handle(Thread *th, int *slots, int nr)
{
    int h;

    switch (rnd(th, 20)) {
    case 0:
        return -1;
    case 1:
        return 1 << 30;
    case 2:
        return fz.sys;
    case 3:
        return g_atomic_int_get(&fz.vms[rnd(th, NR_VMS)]);
    case 4:
        return g_atomic_int_get(&fz.vcpus[rnd(th, NR_VCPUS)]);
    default:
        h = g_atomic_int_get(&slots[rnd(th, nr)]);
        return h;
    }
}

/*
 * A page-aligned value, mostly small and valid, sometimes unaligned, 0,
 * huge or past the end of the guest-physical space.
 */
static uint64_t pick_size(Thread *th, uint64_t max)
{
    switch (rnd(th, 16)) {
    case 0:
        return 0;
    case 1:
        return 0x800;
    case 2:
        return UINT64_MAX & ~0xfffull;
    case 3:
        return 1ull << fz.caps.gpa_bits;
    case 4:
        return (uint64_t)g_rand_int(th->rand) << 12;
    default:
        return ((uint64_t)rnd(th, max / 0x1000) + 1) * 0x1000;
    }
}

static uint64_t pick_gpa(Thread *th)
{
    switch (rnd(th, 16)) {
    case 0:
        return 0x1234;
    case 1:
        return (1ull << fz.caps.gpa_bits) - 0x1000;
    case 2:
        return UINT64_MAX & ~0xfffull;
    case 3:
        return 0xfffff000;
    case 4:
        return 0xe0000;     /* the MMIO program's page */
    default:
        return (uint64_t)rnd(th, 0x40) * 0x1000;
    }
}

/*
 * The VMM address of a map: in the slot's reservation (its RAM, or the
 * PROT_NONE rest), unaligned, in the kernel, or 0 (below mmap_min_addr,
 * with a size that keeps it there).
 */
static uint64_t pick_hva(Thread *th, int vm_slot, uint64_t gpa,
                         uint64_t *size)
{
    uint64_t ram = (uintptr_t)fz.ram[vm_slot];
    uint64_t hva;

    switch (rnd(th, 16)) {
    case 0:
        hva = ram + RAM_SIZE + (uint64_t)rnd(th, 256) * 0x1000;
        break;
    case 1:
        return ram + 8;
    case 2:
        return 0xffffffff81000000ull;
    case 3:
        *size = MIN(*size, 0x10000);
        return 0;
    default:
        hva = ram + (gpa < RAM_SIZE ? gpa : 0);
    }
    /* A size that is otherwise valid stays in the reservation. */
    if (*size <= (1ull << fz.caps.gpa_bits) && hva + *size > ram + fz.space) {
        *size = MAX((ram + fz.space - hva) & ~0xfffull, 0x1000);
    }
    return hva;
}

/* Is r an error the ABI documents for request (or a success)? */
static bool documented(uint32_t request, int r)
{
    static const struct {
        uint32_t request;
        int errors[8];
    } table[] = {
        { REVIRT_GET_CAPS, { 0 } },
        { REVIRT_GET_SUPPORTED_CPUID, { E2BIG } },
        { REVIRT_GET_SUPPORTED_MSRS, { E2BIG } },
        { REVIRT_CREATE_VM, { ENOMEM, EMFILE } },
        { REVIRT_MAP_MEMORY, { ERANGE, EEXIST, ENOTSUP, ENOSPC } },
        { REVIRT_UNMAP_MEMORY, { ERANGE, ENOENT, ENOSPC, ENOMEM } },
        { REVIRT_LOG_START, { ERANGE, ENOENT, EXDEV, ENOSPC, ENOMEM,
                              ENOTSUP } },
        { REVIRT_LOG_STOP, { ERANGE, ENOENT, EXDEV, ENOSPC, ENOMEM,
                             ENOTSUP } },
        { REVIRT_GET_DIRTY_LOG, { ERANGE, ENOENT, ENOMEM, ENOTSUP } },
        { REVIRT_CREATE_VCPU, { EEXIST } },
        { REVIRT_RUN, { EBUSY } },
        { REVIRT_KICK, { 0 } },
        { REVIRT_GET_STATE, { ENOTSUP, EBUSY } },
        { REVIRT_SET_STATE, { ENOTSUP, EBUSY } },
        { REVIRT_GET_XSAVE, { ENOTSUP, EBUSY } },
        { REVIRT_SET_XSAVE, { ENOTSUP, EBUSY } },
        { REVIRT_SET_CPUID, { EBUSY } },
        { REVIRT_INJECT, { EBUSY, ENOTSUP } },
        { REVIRT_SET_GUEST_DEBUG, { EBUSY, ENOTSUP } },
    };

    /* Every call: a bad handle, a request for another kind, bad input. */
    if (r >= 0 || r == -EBADF || r == -ENOTTY || r == -EINVAL ||
        r == -EFAULT) {
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        if (table[i].request != request) {
            continue;
        }
        for (size_t j = 0; j < G_N_ELEMENTS(table[i].errors); j++) {
            if (table[i].errors[j] && r == -table[i].errors[j]) {
                return true;
            }
        }
    }
    return false;
}

/* Outcomes by request, for the summary: [0] successes, [e] -e errors. */
#define MAX_ERRNO 133
static const struct {
    uint32_t request;
    const char *name;
} requests[] = {
    { REVIRT_GET_CAPS, "GET_CAPS" },
    { REVIRT_GET_SUPPORTED_CPUID, "GET_SUPPORTED_CPUID" },
    { REVIRT_GET_SUPPORTED_MSRS, "GET_SUPPORTED_MSRS" },
    { REVIRT_CREATE_VM, "CREATE_VM" },
    { REVIRT_MAP_MEMORY, "MAP_MEMORY" },
    { REVIRT_UNMAP_MEMORY, "UNMAP_MEMORY" },
    { REVIRT_LOG_START, "LOG_START" },
    { REVIRT_LOG_STOP, "LOG_STOP" },
    { REVIRT_GET_DIRTY_LOG, "GET_DIRTY_LOG" },
    { REVIRT_CREATE_VCPU, "CREATE_VCPU" },
    { REVIRT_RUN, "RUN" },
    { REVIRT_KICK, "KICK" },
    { REVIRT_GET_STATE, "GET_STATE" },
    { REVIRT_SET_STATE, "SET_STATE" },
    { REVIRT_GET_XSAVE, "GET_XSAVE" },
    { REVIRT_SET_XSAVE, "SET_XSAVE" },
    { REVIRT_SET_CPUID, "SET_CPUID" },
    { REVIRT_INJECT, "INJECT" },
    { REVIRT_SET_GUEST_DEBUG, "SET_GUEST_DEBUG" },
    { 0, "unknown" },
};
static gint outcomes[G_N_ELEMENTS(requests)][MAX_ERRNO + 1];

static void count_outcome(uint32_t request, int r)
{
    size_t i = 0;

    while (requests[i].request && requests[i].request != request) {
        i++;
    }
    g_atomic_int_inc(&outcomes[i][r >= 0 ? 0 : MIN(-r, MAX_ERRNO)]);
}

/* The errors the ABI documents (no other gets this far). */
static const char *errno_name(int e)
{
    static const struct {
        int e;
        const char *name;
    } names[] = {
        { EBADF, "EBADF" }, { ENOTTY, "ENOTTY" }, { EINVAL, "EINVAL" },
        { EFAULT, "EFAULT" }, { ERANGE, "ERANGE" }, { EEXIST, "EEXIST" },
        { ENOTSUP, "ENOTSUP" }, { ENOSPC, "ENOSPC" }, { ENOENT, "ENOENT" },
        { EXDEV, "EXDEV" }, { ENOMEM, "ENOMEM" }, { EMFILE, "EMFILE" },
        { EBUSY, "EBUSY" }, { E2BIG, "E2BIG" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].e == e) {
            return names[i].name;
        }
    }
    return "E?";
}

static void print_outcomes(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(requests); i++) {
        g_autoptr(GString) line = g_string_new(NULL);

        for (int e = 0; e <= MAX_ERRNO; e++) {
            if (outcomes[i][e]) {
                g_string_append_printf(line, " %s=%d",
                                       e ? errno_name(e) : "ok",
                                       outcomes[i][e]);
            }
        }
        g_test_message("fuzz: %s%s", requests[i].name, line->str);
    }
}

static int call(Thread *th, const char *name, int handle, uint32_t request,
                void *arg)
{
    int r;

    fz.call_name[th->index] = name;
    __atomic_store_n(&fz.call_started[th->index], g_get_monotonic_time(),
                     __ATOMIC_SEQ_CST);
    r = rk_call(handle, request, arg);
    __atomic_store_n(&fz.call_started[th->index], 0, __ATOMIC_SEQ_CST);
    g_atomic_int_inc(&fz.calls);
    count_outcome(request, r);
    if (!documented(request, r)) {
        g_error("seed %" G_GUINT64_FORMAT ": %s on handle %d returned %d, "
                "not an error the ABI documents for it", fz.seed, name,
                handle, r);
    }
    if (r < 0) {
        th->failed++;
    } else {
        th->ok++;
    }
    return r;
}

/* Put a new handle in a slot; the one it replaces is closed. */
static void slot_put(int *slot, int handle)
{
    int old = __atomic_exchange_n(slot, handle, __ATOMIC_SEQ_CST);

    if (old >= 0) {
        g_assert(rk_close(old) == 0);
    }
}

static void op_system(Thread *th)
{
    struct revirt_vm_create vc = { 0 };
    int h = chance(th, 80) ? fz.sys : pick_handle(th, fz.vms, NR_VMS);
    int slot, vm;

    switch (rnd(th, 6)) {
    case 0:
        call(th, "GET_CAPS", h, REVIRT_GET_CAPS, th->xsave);
        break;
    case 1:
        call(th, "GET_SUPPORTED_CPUID", h, REVIRT_GET_SUPPORTED_CPUID,
             &th->cpuid);
        break;
    case 2:
        call(th, "GET_SUPPORTED_MSRS", h, REVIRT_GET_SUPPORTED_MSRS,
             th->xsave);
        break;
    default:
        if (chance(th, 10)) {
            vc.flags = 1 << rnd(th, 32);
        }
        vm = call(th, "CREATE_VM", h, REVIRT_CREATE_VM, &vc);
        if (vm < 0) {
            break;
        }
        if (h != fz.sys || vc.flags) {
            g_error("seed %" G_GUINT64_FORMAT ": CREATE_VM on handle %d "
                    "with flags 0x%x succeeded", fz.seed, h, vc.flags);
        }
        /* Mostly as a VMM does: with RAM at 0, its programs in it. */
        slot = rnd(th, NR_VMS);
        if (chance(th, 90)) {
            struct revirt_memory_map m = {
                .gpa = 0, .size = RAM_SIZE, .hva = (uintptr_t)fz.ram[slot],
                .prot = RWX,
            };

            call(th, "MAP_MEMORY", vm, REVIRT_MAP_MEMORY, &m);
        }
        slot_put(&fz.vms[slot], vm);
    }
}

static void op_map(Thread *th)
{
    int slot = rnd(th, NR_VMS);
    int vm = chance(th, 90) ? g_atomic_int_get(&fz.vms[slot]) :
             pick_handle(th, fz.vms, NR_VMS);
    struct revirt_memory_map m;
    struct revirt_memory_unmap u;

    if (chance(th, 50)) {
        m = (struct revirt_memory_map) {
            .gpa = pick_gpa(th), .size = pick_size(th, RAM_SIZE),
            .prot = chance(th, 90) ? RWX : (uint32_t)rnd(th, 16),
            .flags = chance(th, 5),
        };
        m.hva = pick_hva(th, slot, m.gpa, &m.size);
        call(th, "MAP_MEMORY", vm, REVIRT_MAP_MEMORY, &m);
    } else {
        u = (struct revirt_memory_unmap) {
            .gpa = pick_gpa(th), .size = pick_size(th, RAM_SIZE),
            .flags = chance(th, 5), .reserved = chance(th, 5),
        };
        call(th, "UNMAP_MEMORY", vm, REVIRT_UNMAP_MEMORY, &u);
    }
}

static void op_log(Thread *th)
{
    int vm = pick_handle(th, fz.vms, NR_VMS);
    /* Half the time the RAM map a VM mostly has, which can log. */
    bool ram = chance(th, 50);
    struct revirt_log_range l = {
        .gpa = ram ? 0 : pick_gpa(th),
        .size = ram ? RAM_SIZE : pick_size(th, RAM_SIZE),
        .flags = chance(th, 5),
    };
    struct revirt_dirty_log d = {
        .gpa = l.gpa, .size = l.size, .bitmap = (uintptr_t)th->xsave,
        .reserved = chance(th, 5),
    };

    switch (rnd(th, 3)) {
    case 0:
        call(th, "LOG_START", vm, REVIRT_LOG_START, &l);
        break;
    case 1:
        call(th, "LOG_STOP", vm, REVIRT_LOG_STOP, &l);
        break;
    default:
        /* The bitmap buffer holds 0x4000 * 8 pages' bits. */
        if (d.size > 0x4000ull * 8 * 0x1000) {
            d.size = 0x1000;
        }
        call(th, "GET_DIRTY_LOG", vm, REVIRT_GET_DIRTY_LOG, &d);
    }
}

static void op_entry(Thread *th, int vcpu);

static void op_create_vcpu(Thread *th)
{
    int vm = chance(th, 90) ? g_atomic_int_get(&fz.vms[rnd(th, NR_VMS)]) :
             pick_handle(th, fz.vms, NR_VMS);
    int area = rnd(th, NR_RUN_AREAS);
    struct revirt_vcpu_create cc = {
        .vcpu_id = chance(th, 95) ? (uint32_t)rnd(th, 4) :
                   fz.caps.max_vcpus + rnd(th, 3),
        .flags = chance(th, 3),
        .run_area = (uintptr_t)fz.run_areas[area],
        .run_area_size = fz.caps.run_area_size,
    };
    int vcpu, slot;

    switch (rnd(th, 20)) {
    case 0:
        cc.run_area += 0x800;
        break;
    case 1:
        cc.run_area_size = rnd(th, fz.caps.run_area_size);
        break;
    case 2:
        cc.run_area = 0;
        break;
    case 3:
        /* A kernel driver refuses it; revirt-kvm would write there. */
        if (rk_native()) {
            cc.run_area = (uintptr_t)fz.unmapped;
        }
        break;
    }
    vcpu = call(th, "CREATE_VCPU", vm, REVIRT_CREATE_VCPU, &cc);
    if (vcpu >= 0) {
        if (chance(th, 90)) {
            op_entry(th, vcpu);
        }
        /* (a racing create may pair the slot's handle and area wrongly) */
        slot = rnd(th, NR_VCPUS);
        g_atomic_int_set(&fz.vcpu_area[slot], area);
        slot_put(&fz.vcpus[slot], vcpu);
    }
}

/* Set the vCPU up to run one of the programs, in real mode at cs 0. */
static void op_entry(Thread *th, int vcpu)
{
    struct revirt_vcpu_state *st = &th->state;

    memset(st, 0, sizeof(*st));
    st->classes = REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS;
    if (call(th, "GET_STATE", vcpu, REVIRT_GET_STATE, st) < 0) {
        return;
    }
    st->segments.cs.selector = 0;
    st->segments.cs.base = 0;
    memset(&st->regs, 0, sizeof(st->regs));
    st->regs.rip = RK_TEST_CODE_GPA + 0x100 * rnd(th, NR_PROGS);
    st->regs.rsp = 0x800;
    st->regs.rflags = 2;
    call(th, "SET_STATE", vcpu, REVIRT_SET_STATE, st);
}

/* area: the vCPU's run area, or -1 if not known. */
static void op_run(Thread *th, int vcpu, int area)
{
    struct revirt_run *run;

    /*
     * Run areas are shared out at random, so the one set up here may
     * belong to another vCPU as well (a broken VMM, which the driver must
     * survive).  Mostly it is set right, sometimes it is not.
     */
    if (area < 0 || chance(th, 10)) {
        area = -1;
        run = (struct revirt_run *)fz.run_areas[rnd(th, NR_RUN_AREAS)];
    } else {
        run = (struct revirt_run *)fz.run_areas[area];
    }
    if (chance(th, 3)) {
        run->reserved_in[rnd(th, 7)] = 1;
    } else if (chance(th, 3)) {
        run->request_interrupt_window = 2 + rnd(th, 254);
    } else {
        memset(run->reserved_in, 0, sizeof(run->reserved_in));
        run->request_interrupt_window = chance(th, 20);
    }
    memset(run->io_data, rnd(th, 256), 8);
    if (call(th, "RUN", vcpu, REVIRT_RUN, NULL) == 0 && area >= 0) {
        th->exits[MIN(run->exit_reason, G_N_ELEMENTS(th->exits) - 1)]++;
    }
}

static void op_state(Thread *th, int vcpu)
{
    struct revirt_vcpu_state *st = &th->state;

    memset(st, 0, sizeof(*st));
    st->classes = chance(th, 90) ? g_rand_int(th->rand) &
                  fz.caps.state_classes : g_rand_int(th->rand);
    st->msrs.count = rnd(th, 3);
    st->msrs.entries[0].index = 0x174;
    st->msrs.entries[1].index = chance(th, 50) ? 0x10 : 0xdeadbeef;
    if (call(th, "GET_STATE", vcpu, REVIRT_GET_STATE, st) < 0 ||
        chance(th, 30)) {
        return;
    }
    /* Write it back, with a change or two. */
    switch (rnd(th, 8)) {
    case 0:
        st->regs.rflags ^= 1ull << rnd(th, 22);
        break;
    case 1:
        st->regs.rip = rnd(th, 0x10000);
        break;
    case 2:
        st->segments.cs.selector = rnd(th, 0x10000);
        st->segments.cs.base = st->segments.cs.selector << 4;
        break;
    case 3:
        st->events.nmi_masked = chance(th, 50);
        st->events.interrupt_shadow = chance(th, 50);
        break;
    case 4:
        st->debugregs.dr[rnd(th, 4)] = g_rand_int(th->rand);
        break;
    case 5:
        /* Control registers and EFER the CPU may refuse to enter with. */
        st->control.cr0 ^= 1ull << rnd(th, 33);
        st->control.cr4 ^= 1ull << rnd(th, 33);
        st->control.efer ^= 1ull << rnd(th, 16);
        /*
         * But not EFER.LME without CR0.PG and CR4.PAE: hardware runs
         * that, QEMU 7.2's emulated SVM (the lab's L0) does not give the
         * host its CR0 back at the #VMEXIT (its CR0 update sees the
         * guest's LME and CR4 and returns early), and L1 dies.
         */
        if ((st->control.efer & EFER_LME) && !(st->control.cr0 & CR0_PG) &&
            !(st->control.cr4 & CR4_PAE)) {
            st->control.efer &= ~EFER_LME;
        }
        break;
    case 6:
        /* A segment's attributes, and a limit. */
        st->segments.ss.type = rnd(th, 16);
        st->segments.ss.dpl = rnd(th, 4);
        st->segments.cs.db = chance(th, 50);
        st->segments.cs.l = chance(th, 50);
        st->segments.ds.limit = g_rand_int(th->rand);
        break;
    default:
        st->flags = chance(th, 20);
    }
    call(th, "SET_STATE", vcpu, REVIRT_SET_STATE, st);
}

static void op_vcpu_misc(Thread *th, int vcpu)
{
    struct revirt_event ev = {
        .type = rnd(th, 5), .vector = chance(th, 90) ? (uint32_t)rnd(th, 32) :
                                      g_rand_int(th->rand),
        .error_code = chance(th, 20) ? g_rand_int(th->rand) : 0,
        .flags = chance(th, 20) ? rnd(th, 4) : 0,
    };
    struct revirt_guest_debug dbg = {
        .flags = chance(th, 50) ? 0 : rnd(th, 16),
    };
    struct revirt_xsave x = {
        .area = (uintptr_t)th->xsave, .size = fz.caps.xsave_size,
        .flags = chance(th, 5),
    };

    switch (rnd(th, 6)) {
    case 0:
    case 1:
        call(th, "INJECT", vcpu, REVIRT_INJECT, &ev);
        break;
    case 2:
        th->cpuid = fz.cpuid;
        if (chance(th, 10)) {
            th->cpuid.count = g_rand_int(th->rand);
        }
        call(th, "SET_CPUID", vcpu, REVIRT_SET_CPUID, &th->cpuid);
        break;
    case 3:
        call(th, "SET_GUEST_DEBUG", vcpu, REVIRT_SET_GUEST_DEBUG, &dbg);
        break;
    case 4:
        if (fz.caps.xsave_size > sizeof(th->xsave) ||
            call(th, "GET_XSAVE", vcpu, REVIRT_GET_XSAVE, &x) < 0 ||
            chance(th, 30)) {
            break;
        }
        /* Back, with XCR0 or XSTATE_BV (at 512) changed now and then. */
        if (chance(th, 20)) {
            x.xcr0 = rnd(th, 8);
        }
        if (chance(th, 20)) {
            th->xsave[512] ^= 1 << rnd(th, 8);
        }
        call(th, "SET_XSAVE", vcpu, REVIRT_SET_XSAVE, &x);
        break;
    default:
        /* A request for another kind of handle, or none at all. */
        call(th, "MAP_MEMORY (vCPU)", vcpu, REVIRT_MAP_MEMORY,
             (void *)zeros);
        call(th, "unknown", vcpu, REVIRT_IOW(0x7e, uint64_t),
             (void *)zeros);
    }
}

static void op_vcpu(Thread *th)
{
    int slot = rnd(th, NR_VCPUS);
    int vcpu = g_atomic_int_get(&fz.vcpus[slot]);
    int area = g_atomic_int_get(&fz.vcpu_area[slot]);

    if (chance(th, 10)) {
        vcpu = pick_handle(th, fz.vcpus, NR_VCPUS);
        area = -1;
    }

    switch (rnd(th, 10)) {
    case 0:
    case 1:
        op_entry(th, vcpu);
        break;
    case 2:
    case 3:
    case 4:
        op_run(th, vcpu, area);
        break;
    case 5:
        call(th, "KICK", vcpu, REVIRT_KICK, NULL);
        break;
    case 6:
    case 7:
        op_state(th, vcpu);
        break;
    default:
        op_vcpu_misc(th, vcpu);
    }
}

/* Close a handle of a slot, now and then (slots stay mostly full). */
static void op_close(Thread *th)
{
    int *slot = chance(th, 80) ? &fz.vcpus[rnd(th, NR_VCPUS)] :
                &fz.vms[rnd(th, NR_VMS)];
    int h = g_atomic_int_get(slot);

    if (chance(th, 50) && h >= 0 &&
        g_atomic_int_compare_and_exchange(slot, h, -1)) {
        g_assert(rk_close(h) == 0);
    }
}

static void *fuzz_thread(void *opaque)
{
    Thread *th = opaque;
    int n = atoi(g_getenv("REVIRT_FUZZ_CALLS") ?: "0");

    for (int i = 0; i < (n > 0 ? n : STEPS_PER_THREAD); i++) {
        switch (rnd(th, 20)) {
        case 0:
        case 1:
            op_system(th);
            break;
        case 2:
        case 3:
            op_map(th);
            break;
        case 4:
            op_log(th);
            break;
        case 5:
        case 6:
            op_create_vcpu(th);
            break;
        case 7:
            op_close(th);
            break;
        default:
            op_vcpu(th);
        }
    }
    return NULL;
}

/* Kicks every vCPU now and then, so a spinning guest never holds a thread. */
static void *kicker_thread(void *opaque)
{
    while (!g_atomic_int_get(&fz.stop)) {
        gint64 now = g_get_monotonic_time();

        for (int i = 0; i < NR_VCPUS; i++) {
            int h = g_atomic_int_get(&fz.vcpus[i]);

            if (h >= 0) {
                int r = rk_call(h, REVIRT_KICK, NULL);

                g_assert(r == 0 || r == -EBADF || r == -ENOTTY);
            }
        }
        /* A call that never returns is a hang. */
        for (int i = 0; i < NR_THREADS; i++) {
            gint64 t = __atomic_load_n(&fz.call_started[i],
                                       __ATOMIC_SEQ_CST);

            if (t && now - t > CALL_TIMEOUT_US) {
                g_error("seed %" G_GUINT64_FORMAT ": thread %d's %s has not "
                        "returned for %" G_GINT64_FORMAT " s", fz.seed, i,
                        fz.call_name[i], (now - t) / G_USEC_PER_SEC);
            }
        }
        g_usleep(2000);
    }
    return NULL;
}

static void setup(void)
{
    const char *seed = g_getenv("REVIRT_FUZZ_SEED");

    memset(&fz, 0, sizeof(fz));
    fz.seed = seed ? g_ascii_strtoull(seed, NULL, 0) :
              ((guint64)(guint32)g_test_rand_int() << 32) |
              (guint32)g_test_rand_int();
    fz.sys = rk_open();
    g_assert(fz.sys >= 0);
    g_assert(rk_call(fz.sys, REVIRT_GET_CAPS, &fz.caps) == 0);
    g_assert(rk_call(fz.sys, REVIRT_GET_SUPPORTED_CPUID, &fz.cpuid) == 0);
    fz.space = MIN(1ull << fz.caps.gpa_bits, MAX_SPACE);
    for (int i = 0; i < NR_VMS; i++) {
        fz.vms[i] = -1;
        fz.ram[i] = mmap(NULL, fz.space, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        g_assert(fz.ram[i] != MAP_FAILED);
        g_assert(mprotect(fz.ram[i], RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
        memcpy(fz.ram[i] + RK_TEST_CODE_GPA, fuzz_progs_start,
               fuzz_progs_end - fuzz_progs_start);
    }
    for (int i = 0; i < NR_VCPUS; i++) {
        fz.vcpus[i] = -1;
    }
    for (int i = 0; i < NR_RUN_AREAS; i++) {
        fz.run_areas[i] = rk_test_alloc(fz.caps.run_area_size);
    }
    fz.unmapped = mmap(NULL, 0x100000, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    g_assert(fz.unmapped != MAP_FAILED);
}

static void teardown(void)
{
    for (int i = 0; i < NR_VCPUS; i++) {
        if (fz.vcpus[i] >= 0) {
            g_assert(rk_close(fz.vcpus[i]) == 0);
        }
    }
    for (int i = 0; i < NR_VMS; i++) {
        if (fz.vms[i] >= 0) {
            g_assert(rk_close(fz.vms[i]) == 0);
        }
        munmap(fz.ram[i], fz.space);
    }
    for (int i = 0; i < NR_RUN_AREAS; i++) {
        rk_test_free(fz.run_areas[i], fz.caps.run_area_size);
    }
    munmap(fz.unmapped, 0x100000);
    g_assert(rk_close(fz.sys) == 0);
}

static void test_fuzz(void)
{
    Thread *threads = g_new0(Thread, NR_THREADS);
    GRand *rand;
    pthread_t kicker;
    unsigned ok = 0, failed = 0, exits[16] = { 0 };
    gint64 start = g_get_monotonic_time();

    setup();
    g_test_message("fuzz: seed %" G_GUINT64_FORMAT " (REVIRT_FUZZ_SEED)",
                   fz.seed);
    rand = g_rand_new_with_seed_array((guint32 *)&fz.seed, 2);
    pthread_create(&kicker, NULL, kicker_thread, NULL);
    for (int i = 0; i < NR_THREADS; i++) {
        threads[i].index = i;
        threads[i].rand = g_rand_new_with_seed(g_rand_int(rand));
        pthread_create(&threads[i].thread, NULL, fuzz_thread, &threads[i]);
    }
    for (int i = 0; i < NR_THREADS; i++) {
        pthread_join(threads[i].thread, NULL);
        ok += threads[i].ok;
        failed += threads[i].failed;
        for (size_t e = 0; e < G_N_ELEMENTS(exits); e++) {
            exits[e] += threads[i].exits[e];
        }
        g_rand_free(threads[i].rand);
    }
    g_atomic_int_set(&fz.stop, 1);
    pthread_join(kicker, NULL);
    teardown();

    /* The driver still works after all that. */
    {
        RkTestVm t;

        rk_test_vm_init(&t);
        memcpy(t.ram + RK_TEST_CODE_GPA, fuzz_progs_start,
               fuzz_progs_end - fuzz_progs_start);
        rk_test_set_entry(t.vcpu);
        g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
        g_assert(t.run->io.port == 0x12);
        rk_test_vm_destroy(&t);
    }
    print_outcomes();
    g_test_message("figures: fuzz seed=%" G_GUINT64_FORMAT " threads=%d "
                   "calls=%d ok=%u errors=%u exits: io=%u mmio=%u hlt=%u "
                   "shutdown=%u interrupted=%u internal=%u other=%u "
                   "seconds=%.1f", fz.seed, NR_THREADS,
                   g_atomic_int_get(&fz.calls), ok, failed,
                   exits[REVIRT_EXIT_IO], exits[REVIRT_EXIT_MMIO],
                   exits[REVIRT_EXIT_HLT], exits[REVIRT_EXIT_SHUTDOWN],
                   exits[REVIRT_EXIT_INTERRUPTED],
                   exits[REVIRT_EXIT_INTERNAL_ERROR],
                   exits[0] + exits[REVIRT_EXIT_IRQ_WINDOW] +
                   exits[REVIRT_EXIT_TPR_WRITE] + exits[REVIRT_EXIT_DEBUG] +
                   exits[10] + exits[11] + exits[12] + exits[13] +
                   exits[14] + exits[15],
                   (g_get_monotonic_time() - start) / 1e6);
    /*
     * The calls did something: both outcomes, and guests that ran into
     * port I/O and MMIO (a fuzzer whose runs all fail tests nothing).
     */
    g_assert(ok > 0 && failed > 0);
    g_assert(exits[REVIRT_EXIT_IO] > 0);
    g_assert(exits[REVIRT_EXIT_MMIO] > 0);
    g_assert(exits[REVIRT_EXIT_INTERRUPTED] > 0);
    g_rand_free(rand);
    g_free(threads);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/fuzz/calls", test_fuzz);
    return g_test_run();
}
