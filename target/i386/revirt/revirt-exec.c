/*
 * QEMU revirt accelerator, x86: the vCPU run loop.
 *
 * Interrupts come from QEMU's own PIC and APIC models: before each run the
 * loop injects what the guest can take and asks for an interrupt window for
 * the rest; after each run it hands IF, TPR and the APIC base back to QEMU.
 * Port I/O and MMIO exits go to QEMU's address spaces, without the BQL, as
 * the KVM accelerator does.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "cpu.h"
#include "exec/address-spaces.h"
#include "hw/i386/apic.h"
#include "sysemu/cpus.h"
#include "sysemu/hw_accel.h"
#include "sysemu/runstate.h"
#include "sysemu/revirt.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

static int revirt_inject(CPUState *cpu, uint32_t type, uint32_t vector)
{
    struct revirt_event event = { .type = type, .vector = vector };

    trace_revirt_inject(cpu->cpu_index, type, vector);
    return revirt_call(revirt_vcpu(cpu)->handle, REVIRT_INJECT, &event);
}

static void revirt_pre_run(CPUState *cpu)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    struct revirt_run *run = revirt_vcpu(cpu)->run;
    /* A gdbstub step without interrupts: they wait for a later run. */
    bool irqs = !(cpu->singlestep_enabled & SSTEP_NOIRQ);
    int ret;

    qemu_mutex_lock_iothread();
    ret = revirt_arch_update_guest_debug(cpu);
    if (ret < 0) {
        error_report("revirt: vCPU %d: cannot set up guest debugging: %s",
                     cpu->cpu_index, strerror(-ret));
    }
    if (irqs && (cpu->interrupt_request & CPU_INTERRUPT_NMI)) {
        ret = revirt_inject(cpu, REVIRT_EVENT_NMI, 0);
        /* -EBUSY: one is pending already; send this one after it. */
        if (ret != -EBUSY) {
            cpu->interrupt_request &= ~CPU_INTERRUPT_NMI;
        }
        if (ret < 0 && ret != -EBUSY) {
            error_report("revirt: vCPU %d: NMI lost: %s", cpu->cpu_index,
                         strerror(-ret));
        }
    }

    /* INIT and TPR reports are handled outside the run loop. */
    if (cpu->interrupt_request & (CPU_INTERRUPT_INIT | CPU_INTERRUPT_TPR)) {
        qatomic_set(&cpu->exit_request, 1);
    }

    if (irqs && run->ready_for_interrupt &&
        (cpu->interrupt_request & CPU_INTERRUPT_HARD) &&
        (env->eflags & IF_MASK)) {
        int irq;

        cpu->interrupt_request &= ~CPU_INTERRUPT_HARD;
        irq = cpu_get_pic_interrupt(env);
        if (irq >= 0) {
            ret = revirt_inject(cpu, REVIRT_EVENT_EXTINT, irq);
            if (ret < 0) {
                error_report("revirt: vCPU %d: interrupt %d lost: %s",
                             cpu->cpu_index, irq, strerror(-ret));
            }
        }
    }

    /* An interrupt the guest cannot take yet: exit when it can. */
    run->request_interrupt_window =
        irqs && (cpu->interrupt_request & CPU_INTERRUPT_HARD);
    run->cr8 = cpu_get_apic_tpr(x86_cpu->apic_state);
    qemu_mutex_unlock_iothread();
}

static void revirt_post_run(CPUState *cpu)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    struct revirt_run *run = revirt_vcpu(cpu)->run;

    if (run->if_flag) {
        env->eflags |= IF_MASK;
    } else {
        env->eflags &= ~IF_MASK;
    }
    qemu_mutex_lock_iothread();
    cpu_set_apic_tpr(x86_cpu->apic_state, run->cr8);
    cpu_set_apic_base(x86_cpu->apic_state, run->apic_base);
    qemu_mutex_unlock_iothread();
}

/* What to do before running: returns true if the vCPU stays halted. */
static bool revirt_process_async_events(CPUState *cpu)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;

    if (cpu->interrupt_request & CPU_INTERRUPT_MCE) {
        /* As kvm_arch_process_async_events: the banks are already in env. */
        cpu->interrupt_request &= ~CPU_INTERRUPT_MCE;
        cpu_synchronize_state(cpu);
        trace_revirt_mce(cpu->cpu_index, env->exception_nr);
        if (env->exception_nr == EXCP08_DBLE) {
            /* #MC while delivering #DF: a triple fault */
            qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
            qatomic_set(&cpu->exit_request, 1);
            return false;
        }
        env->exception_nr = EXCP12_MCHK;
        env->exception_injected = 1;
        env->exception_pending = 0;
        env->has_error_code = 0;
        env->error_code = 0;
        cpu->halted = 0;
    }
    if (cpu->interrupt_request & CPU_INTERRUPT_SMI) {
        /* No SMM here: drop the SMI, or the vCPU would never idle. */
        cpu->interrupt_request &= ~CPU_INTERRUPT_SMI;
        warn_report_once("revirt: the guest sent an SMI; SMM is not "
                         "supported, SMIs are dropped");
    }
    if (cpu->interrupt_request & CPU_INTERRUPT_INIT) {
        cpu_synchronize_state(cpu);
        do_cpu_init(x86_cpu);
    }
    if (cpu->interrupt_request & CPU_INTERRUPT_POLL) {
        cpu->interrupt_request &= ~CPU_INTERRUPT_POLL;
        apic_poll_irq(x86_cpu->apic_state);
    }
    if (((cpu->interrupt_request & CPU_INTERRUPT_HARD) &&
         (env->eflags & IF_MASK)) ||
        (cpu->interrupt_request & CPU_INTERRUPT_NMI)) {
        cpu->halted = 0;
    }
    if (cpu->interrupt_request & CPU_INTERRUPT_SIPI) {
        cpu_synchronize_state(cpu);
        do_cpu_sipi(x86_cpu);
    }
    if (cpu->interrupt_request & CPU_INTERRUPT_TPR) {
        cpu->interrupt_request &= ~CPU_INTERRUPT_TPR;
        cpu_synchronize_state(cpu);
        apic_handle_tpr_access_report(x86_cpu->apic_state, env->eip,
                                      env->tpr_access_type);
    }
    return cpu->halted;
}

static int revirt_handle_halt(CPUState *cpu)
{
    CPUX86State *env = &X86_CPU(cpu)->env;

    if (!((cpu->interrupt_request & CPU_INTERRUPT_HARD) &&
          (env->eflags & IF_MASK)) &&
        !(cpu->interrupt_request & CPU_INTERRUPT_NMI)) {
        cpu->halted = 1;
        return EXCP_HLT;
    }
    return 0;
}

/* The driver's word on an I/O exit's size, checked before QEMU uses it. */
static bool revirt_io_valid(const struct revirt_exit_io *io)
{
    return (io->size == 1 || io->size == 2 || io->size == 4) &&
           io->count >= 1 && io->count <= REVIRT_IO_DATA_MAX / io->size;
}

static void revirt_handle_io(const struct revirt_run *run, MemTxAttrs attrs)
{
    const struct revirt_exit_io *io = &run->io;
    uint8_t *data = (uint8_t *)run->io_data;

    for (uint32_t i = 0; i < io->count; i++) {
        address_space_rw(&address_space_io, io->port, attrs, data, io->size,
                         io->direction == REVIRT_IO_OUT);
        data += io->size;
    }
}

/*
 * A triple fault resets the machine, as on hardware; say where it
 * happened, since a guest rarely means it.
 */
static void revirt_report_triple_fault(CPUState *cpu,
                                       const struct revirt_run *run)
{
    CPUX86State *env = &X86_CPU(cpu)->env;
    g_autofree char *exception = NULL;

    if (!(run->shutdown.flags & REVIRT_SHUTDOWN_STATE_KEPT)) {
        warn_report("revirt: vCPU %d: triple fault, resetting the machine "
                    "(the driver did not keep the state at the fault)",
                    cpu->cpu_index);
        return;
    }
    cpu_synchronize_state(cpu);
    exception = env->exception_nr >= 0 ?
                g_strdup_printf("%d", env->exception_nr) : g_strdup("none");
    warn_report("revirt: vCPU %d: triple fault at CS:RIP %04x:%016" PRIx64
                ", CR0=%08" PRIx64 " CR3=%016" PRIx64 " CR4=%08" PRIx64
                " EFER=%08" PRIx64 ", pending exception %s; resetting the "
                "machine", cpu->cpu_index, env->segs[R_CS].selector,
                (uint64_t)env->eip, (uint64_t)env->cr[0],
                (uint64_t)env->cr[3], (uint64_t)env->cr[4], env->efer,
                exception);
}

static void revirt_report_internal_error(CPUState *cpu,
                                         const struct revirt_run *run)
{
    const struct revirt_exit_internal *internal = &run->internal;
    CPUX86State *env = &X86_CPU(cpu)->env;
    g_autoptr(GString) data = g_string_new("");

    for (uint32_t i = 0; i < MIN(internal->ndata, 4); i++) {
        g_string_append_printf(data, " 0x%" PRIx64, internal->data[i]);
    }
    cpu_synchronize_state(cpu);
    error_report("revirt: vCPU %d: the driver cannot run the guest "
                 "(%s, detail%s) at CS:IP %04x:%08" PRIx64 ", stopping",
                 cpu->cpu_index,
                 internal->suberror == REVIRT_INTERNAL_EMULATION ?
                 "instruction emulation failed" :
                 internal->suberror == REVIRT_INTERNAL_ENTRY ?
                 "guest state refused" : "internal error",
                 data->len ? data->str : " none",
                 env->segs[R_CS].selector, (uint64_t)env->eip);
}

int revirt_arch_vcpu_exec(CPUState *cpu)
{
    RevirtVcpu *vcpu = revirt_vcpu(cpu);
    struct revirt_run *run = vcpu->run;
    int ret;

    if (revirt_process_async_events(cpu)) {
        qatomic_set(&cpu->exit_request, 0);
        return EXCP_HLT;
    }

    qemu_mutex_unlock_iothread();
    cpu_exec_start(cpu);

    do {
        MemTxAttrs attrs;

        if (cpu->vcpu_dirty) {
            ret = revirt_arch_put_registers(cpu, false);
            if (ret < 0) {
                error_report("revirt: vCPU %d: cannot set registers: %s",
                             cpu->cpu_index, strerror(-ret));
                ret = -1;
                break;
            }
            cpu->vcpu_dirty = false;
        }

        revirt_pre_run(cpu);
        /*
         * A kick that lands after this check reaches the driver's own kick
         * flag, which REVIRT_RUN honours, so no barrier is needed here.
         */
        if (qatomic_read(&cpu->exit_request)) {
            /*
             * Still enter the driver: it completes a pending I/O or MMIO
             * read first, then returns at once as interrupted.
             */
            revirt_call(vcpu->handle, REVIRT_KICK, NULL);
        }

        ret = revirt_call(vcpu->handle, REVIRT_RUN, NULL);
        if (ret < 0) {
            error_report("revirt: vCPU %d: run failed: %s", cpu->cpu_index,
                         strerror(-ret));
            ret = -1;
            break;
        }
        revirt_post_run(cpu);
        attrs = cpu_get_mem_attrs(&X86_CPU(cpu)->env);

        trace_revirt_exit(cpu->cpu_index, run->exit_reason);
        switch (run->exit_reason) {
        case REVIRT_EXIT_IO:
            if (!revirt_io_valid(&run->io)) {
                error_report("revirt: vCPU %d: the driver reported port I/O "
                             "of %u x %u bytes, stopping", cpu->cpu_index,
                             run->io.count, run->io.size);
                ret = -1;
                break;
            }
            revirt_handle_io(run, attrs);
            ret = 0;
            break;
        case REVIRT_EXIT_MMIO:
            if (run->mmio.len < 1 || run->mmio.len > 8) {
                error_report("revirt: vCPU %d: the driver reported an MMIO "
                             "access of %u bytes, stopping", cpu->cpu_index,
                             run->mmio.len);
                ret = -1;
                break;
            }
            address_space_rw(&address_space_memory, run->mmio.gpa, attrs,
                             run->mmio.data, run->mmio.len,
                             run->mmio.is_write);
            ret = 0;
            break;
        case REVIRT_EXIT_HLT:
            ret = revirt_handle_halt(cpu);
            break;
        case REVIRT_EXIT_TPR_WRITE:
            ret = 0;            /* revirt_post_run gave QEMU the new TPR */
            break;
        case REVIRT_EXIT_IRQ_WINDOW:
        case REVIRT_EXIT_INTERRUPTED:
            ret = EXCP_INTERRUPT;
            break;
        case REVIRT_EXIT_SHUTDOWN:
            revirt_report_triple_fault(cpu, run);
            qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
            ret = EXCP_INTERRUPT;
            break;
        case REVIRT_EXIT_INTERNAL_ERROR:
            revirt_report_internal_error(cpu, run);
            ret = -1;
            break;
        case REVIRT_EXIT_DEBUG:
            ret = revirt_arch_handle_debug(cpu);
            break;
        default:
            error_report("revirt: vCPU %d: unknown exit reason %u, stopping",
                         cpu->cpu_index, run->exit_reason);
            ret = -1;
            break;
        }
    } while (ret == 0);

    cpu_exec_end(cpu);
    qemu_mutex_lock_iothread();

    if (ret < 0) {
        vm_stop(RUN_STATE_INTERNAL_ERROR);
    }
    qatomic_set(&cpu->exit_request, 0);
    return ret;
}
