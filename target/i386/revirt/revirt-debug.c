/*
 * QEMU revirt accelerator, x86: guest debugging for the gdbstub.
 *
 * Software breakpoints are INT3s written into guest memory; hardware
 * breakpoints and watchpoints go to the debug registers the driver loads
 * while the VMM debugs (REVIRT_SET_GUEST_DEBUG).  Like the gdbstub, both
 * are global to the VM: each vCPU gives the driver the current set, and
 * its single-step state, before it runs.  The lists change under the BQL,
 * with the VM stopped.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/queue.h"
#include "cpu.h"
#include "exec/gdbstub.h"
#include "sysemu/cpus.h"
#include "sysemu/hw_accel.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

#define INT3 0xcc
#define NB_HW_BREAKPOINTS 4

typedef struct RevirtSwBreakpoint {
    vaddr pc;
    uint8_t saved_insn;
    int use_count;
    QTAILQ_ENTRY(RevirtSwBreakpoint) entry;
} RevirtSwBreakpoint;

static QTAILQ_HEAD(, RevirtSwBreakpoint) sw_breakpoints =
    QTAILQ_HEAD_INITIALIZER(sw_breakpoints);

static struct {
    vaddr addr;
    int len;
    int type;
} hw_breakpoints[NB_HW_BREAKPOINTS];
static int nb_hw_breakpoints;

/* What the gdbstub reads after a watchpoint stop. */
static CPUWatchpoint hw_watchpoint;

bool revirt_arch_supports_guest_debug(void)
{
    return revirt_state &&
           (revirt_state->caps.features & REVIRT_FEATURE_GUEST_DEBUG);
}

static RevirtSwBreakpoint *find_sw_breakpoint(vaddr pc)
{
    RevirtSwBreakpoint *bp;

    QTAILQ_FOREACH(bp, &sw_breakpoints, entry) {
        if (bp->pc == pc) {
            return bp;
        }
    }
    return NULL;
}

static int find_hw_breakpoint(vaddr addr, int len, int type)
{
    int n;

    for (n = 0; n < nb_hw_breakpoints; n++) {
        if (hw_breakpoints[n].addr == addr && hw_breakpoints[n].type == type &&
            hw_breakpoints[n].len == len) {
            return n;
        }
    }
    return -1;
}

/* The length gdb asked for, as the debug registers take it. */
static int hw_breakpoint_len(int type, vaddr addr, vaddr len)
{
    switch (type) {
    case GDB_BREAKPOINT_HW:
        return 1;
    case GDB_WATCHPOINT_WRITE:
    case GDB_WATCHPOINT_ACCESS:
        if (len != 1 && len != 2 && len != 4 && len != 8) {
            return -EINVAL;
        }
        return addr & (len - 1) ? -EINVAL : len;
    default:
        return -ENOSYS;         /* x86 has no read-only watchpoints */
    }
}

int revirt_arch_insert_breakpoint(CPUState *cpu, int type, vaddr addr,
                                  vaddr len)
{
    static const uint8_t int3 = INT3;
    RevirtSwBreakpoint *bp;
    int hw_len;

    if (type == GDB_BREAKPOINT_SW) {
        bp = find_sw_breakpoint(addr);
        if (bp) {
            bp->use_count++;
            return 0;
        }
        bp = g_new0(RevirtSwBreakpoint, 1);
        bp->pc = addr;
        bp->use_count = 1;
        if (cpu_memory_rw_debug(cpu, addr, &bp->saved_insn, 1, false) ||
            cpu_memory_rw_debug(cpu, addr, (void *)&int3, 1, true)) {
            g_free(bp);
            return -EINVAL;
        }
        QTAILQ_INSERT_HEAD(&sw_breakpoints, bp, entry);
        return 0;
    }

    hw_len = hw_breakpoint_len(type, addr, len);
    if (hw_len < 0) {
        return hw_len;
    }
    if (find_hw_breakpoint(addr, hw_len, type) >= 0) {
        return -EEXIST;
    }
    if (nb_hw_breakpoints == NB_HW_BREAKPOINTS) {
        return -ENOBUFS;
    }
    hw_breakpoints[nb_hw_breakpoints].addr = addr;
    hw_breakpoints[nb_hw_breakpoints].len = hw_len;
    hw_breakpoints[nb_hw_breakpoints].type = type;
    nb_hw_breakpoints++;
    return 0;
}

/* Put back the byte an INT3 replaced, unless the guest rewrote it. */
static int restore_sw_breakpoint(CPUState *cpu, RevirtSwBreakpoint *bp)
{
    uint8_t insn;

    if (cpu_memory_rw_debug(cpu, bp->pc, &insn, 1, false)) {
        return -EINVAL;
    }
    if (insn == INT3 &&
        cpu_memory_rw_debug(cpu, bp->pc, &bp->saved_insn, 1, true)) {
        return -EINVAL;
    }
    return 0;
}

int revirt_arch_remove_breakpoint(CPUState *cpu, int type, vaddr addr,
                                  vaddr len)
{
    RevirtSwBreakpoint *bp;
    int hw_len, n;

    if (type == GDB_BREAKPOINT_SW) {
        bp = find_sw_breakpoint(addr);
        if (!bp) {
            return -ENOENT;
        }
        if (--bp->use_count > 0) {
            return 0;
        }
        QTAILQ_REMOVE(&sw_breakpoints, bp, entry);
        n = restore_sw_breakpoint(cpu, bp);
        g_free(bp);
        return n;
    }

    hw_len = hw_breakpoint_len(type, addr, len);
    n = hw_len < 0 ? -1 : find_hw_breakpoint(addr, hw_len, type);
    if (n < 0) {
        return -ENOENT;
    }
    hw_breakpoints[n] = hw_breakpoints[--nb_hw_breakpoints];
    return 0;
}

void revirt_arch_remove_all_breakpoints(CPUState *cpu)
{
    RevirtSwBreakpoint *bp, *next;

    QTAILQ_FOREACH_SAFE(bp, &sw_breakpoints, entry, next) {
        restore_sw_breakpoint(cpu, bp);
        QTAILQ_REMOVE(&sw_breakpoints, bp, entry);
        g_free(bp);
    }
    nb_hw_breakpoints = 0;
}

/* DR7 for the hardware breakpoints, as QEMU's KVM accelerator sets it. */
static uint64_t hw_breakpoints_dr7(void)
{
    static const uint8_t type_code[] = {
        [GDB_BREAKPOINT_HW] = 0x0,
        [GDB_WATCHPOINT_WRITE] = 0x1,
        [GDB_WATCHPOINT_ACCESS] = 0x3
    };
    static const uint8_t len_code[] = {
        [1] = 0x0, [2] = 0x1, [4] = 0x3, [8] = 0x2
    };
    uint64_t dr7 = 0x0600;      /* GE, and bit 10, which reads as 1 */
    int n;

    for (n = 0; n < nb_hw_breakpoints; n++) {
        dr7 |= (2 << (n * 2)) |
               (type_code[hw_breakpoints[n].type] << (16 + n * 4)) |
               ((uint32_t)len_code[hw_breakpoints[n].len] << (18 + n * 4));
    }
    return dr7;
}

/* Called with the BQL held, before each run. */
int revirt_arch_update_guest_debug(CPUState *cpu)
{
    RevirtVcpu *vcpu = revirt_vcpu(cpu);
    struct revirt_guest_debug dbg = { 0 };
    int n, ret;

    if (!revirt_arch_supports_guest_debug()) {
        return 0;
    }
    if (cpu->singlestep_enabled) {
        dbg.flags |= REVIRT_DEBUG_SINGLESTEP;
    }
    if (!QTAILQ_EMPTY(&sw_breakpoints)) {
        dbg.flags |= REVIRT_DEBUG_SW_BP;
    }
    if (nb_hw_breakpoints) {
        dbg.flags |= REVIRT_DEBUG_HW_BP;
        for (n = 0; n < nb_hw_breakpoints; n++) {
            dbg.dr[n] = hw_breakpoints[n].addr;
        }
        dbg.dr7 = hw_breakpoints_dr7();
    }
    if (!memcmp(&dbg, &vcpu->guest_debug, sizeof(dbg))) {
        return 0;
    }
    trace_revirt_set_guest_debug(cpu->cpu_index, dbg.flags, dbg.dr7);
    ret = revirt_call(vcpu->handle, REVIRT_SET_GUEST_DEBUG, &dbg);
    if (ret == 0) {
        vcpu->guest_debug = dbg;
    }
    return ret;
}

/* Is the #DB of @exit the gdbstub's?  Sets the watchpoint it hit. */
static bool revirt_debug_trap_is_ours(CPUState *cpu,
                                      const struct revirt_exit_debug *exit)
{
    RevirtVcpu *vcpu = revirt_vcpu(cpu);
    int n;

    if (exit->dr6 & DR6_BS) {
        return cpu->singlestep_enabled;
    }
    if (!(vcpu->guest_debug.flags & REVIRT_DEBUG_HW_BP)) {
        return false;
    }
    for (n = 0; n < nb_hw_breakpoints; n++) {
        if (!(exit->dr6 & (1 << n))) {
            continue;
        }
        if (hw_breakpoints[n].type != GDB_BREAKPOINT_HW) {
            hw_watchpoint.vaddr = hw_breakpoints[n].addr;
            hw_watchpoint.flags =
                hw_breakpoints[n].type == GDB_WATCHPOINT_WRITE ?
                BP_MEM_WRITE : BP_MEM_ACCESS;
            cpu->watchpoint_hit = &hw_watchpoint;
        }
        return true;
    }
    return false;
}

/*
 * A REVIRT_EXIT_DEBUG: EXCP_DEBUG if it is the gdbstub's, else 0 once the
 * guest has its own #DB or #BP back, -1 if the exit makes no sense.
 * Called without the BQL.
 */
int revirt_arch_handle_debug(CPUState *cpu)
{
    const struct revirt_exit_debug *exit = &revirt_vcpu(cpu)->run->debug;
    CPUX86State *env = &X86_CPU(cpu)->env;
    struct revirt_event bp = {
        .type = REVIRT_EVENT_EXCEPTION,
        .vector = EXCP03_INT3,
    };
    int ret = 0;

    trace_revirt_debug_exit(cpu->cpu_index, exit->exception, exit->pc,
                            exit->dr6);
    qemu_mutex_lock_iothread();
    if (exit->exception == EXCP01_DB) {
        if (revirt_debug_trap_is_ours(cpu, exit)) {
            ret = EXCP_DEBUG;
        } else {
            /* The guest's own: its DR6 says why, and the #DB is pending. */
            cpu_synchronize_state(cpu);
            env->dr[6] = (env->dr[6] & ~0xfull) | (exit->dr6 & 0xf) |
                         (exit->dr6 & DR6_BS);
            env->exception_nr = EXCP01_DB;
            env->exception_injected = 1;
            env->has_error_code = 0;
        }
    } else if (exit->exception != EXCP03_INT3) {
        error_report("revirt: vCPU %d: the driver reported a debug exit for "
                     "exception %u, stopping", cpu->cpu_index,
                     exit->exception);
        ret = -1;
    } else if (find_sw_breakpoint(exit->pc)) {
        ret = EXCP_DEBUG;
    } else {
        /* A guest INT3, not ours: the driver gives it its #BP back. */
        ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_INJECT, &bp);
        if (ret < 0) {
            error_report("revirt: vCPU %d: cannot give the guest its #BP: %s",
                         cpu->cpu_index, strerror(-ret));
        }
    }
    qemu_mutex_unlock_iothread();
    return ret;
}
