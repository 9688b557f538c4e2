/*
 * QEMU revirt accelerator: vCPU threads, kicks and state synchronization.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/guest-random.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "cpu.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "sysemu/revirt_int.h"

static void *revirt_vcpu_thread_fn(void *arg)
{
    CPUState *cpu = arg;
    Error *err = NULL;

    rcu_register_thread();

    qemu_mutex_lock_iothread();
    qemu_thread_get_self(cpu->thread);
    cpu->thread_id = qemu_get_thread_id();
    current_cpu = cpu;

    if (revirt_arch_init_vcpu(cpu, &err) < 0) {
        error_prepend(&err, "revirt: vCPU %d: ", cpu->cpu_index);
        error_report_err(err);
        exit(1);
    }

    cpu_thread_signal_created(cpu);
    qemu_guest_random_seed_thread_part2(cpu->random_seed);

    do {
        if (cpu_can_run(cpu) && revirt_arch_vcpu_exec(cpu) == EXCP_DEBUG) {
            cpu_handle_guest_debug(cpu);
        }
        while (cpu_thread_is_idle(cpu)) {
            qemu_cond_wait_iothread(cpu->halt_cond);
        }
        qemu_wait_io_event_common(cpu);
    } while (!cpu->unplug || cpu_can_run(cpu));

    revirt_arch_destroy_vcpu(cpu);
    cpu_thread_signal_destroyed(cpu);
    qemu_mutex_unlock_iothread();
    rcu_unregister_thread();
    return NULL;
}

static void revirt_start_vcpu_thread(CPUState *cpu)
{
    char thread_name[VCPU_THREAD_NAME_SIZE];

    cpu->thread = g_new0(QemuThread, 1);
    cpu->halt_cond = g_new0(QemuCond, 1);
    qemu_cond_init(cpu->halt_cond);
    snprintf(thread_name, VCPU_THREAD_NAME_SIZE, "CPU %d/revirt",
             cpu->cpu_index);
    qemu_thread_create(cpu->thread, thread_name, revirt_vcpu_thread_fn,
                       cpu, QEMU_THREAD_JOINABLE);
}

/*
 * Kicks come from any thread, without the BQL; this lock keeps the vCPU's
 * handle open while one is made (see revirt_vcpu_detach).
 */
static QemuMutex revirt_kick_lock;

static void revirt_kick_vcpu_thread(CPUState *cpu)
{
    RevirtVcpu *vcpu;

    qatomic_set(&cpu->exit_request, 1);
    qemu_mutex_lock(&revirt_kick_lock);
    vcpu = revirt_vcpu(cpu);
    if (vcpu) {
        revirt_call(vcpu->handle, REVIRT_KICK, NULL);
    }
    qemu_mutex_unlock(&revirt_kick_lock);
}

RevirtVcpu *revirt_vcpu_detach(CPUState *cpu)
{
    RevirtVcpu *vcpu;

    qemu_mutex_lock(&revirt_kick_lock);
    vcpu = revirt_vcpu(cpu);
    cpu->hax_vcpu = NULL;
    qemu_mutex_unlock(&revirt_kick_lock);
    return vcpu;
}

/* A failed state transfer leaves the vCPU unusable: stop the VM. */
static void revirt_state_failed(CPUState *cpu, const char *what, int err)
{
    error_report("revirt: vCPU %d: cannot %s registers: %s", cpu->cpu_index,
                 what, strerror(-err));
    vm_stop(RUN_STATE_INTERNAL_ERROR);
}

static void do_revirt_synchronize_state(CPUState *cpu, run_on_cpu_data arg)
{
    int ret = revirt_arch_get_registers(cpu);

    if (ret < 0) {
        revirt_state_failed(cpu, "get", ret);
        return;
    }
    cpu->vcpu_dirty = true;
}

static void do_revirt_put_full_state(CPUState *cpu, run_on_cpu_data arg)
{
    int ret = revirt_arch_put_registers(cpu, true);

    if (ret < 0) {
        revirt_state_failed(cpu, "set", ret);
        return;
    }
    cpu->vcpu_dirty = false;
}

static void revirt_synchronize_state(CPUState *cpu)
{
    if (!cpu->vcpu_dirty) {
        run_on_cpu(cpu, do_revirt_synchronize_state, RUN_ON_CPU_NULL);
    }
}

/* After reset and after machine init: the driver gets the whole state. */
static void revirt_put_full_state(CPUState *cpu)
{
    run_on_cpu(cpu, do_revirt_put_full_state, RUN_ON_CPU_NULL);
}

static void revirt_synchronize_pre_loadvm(CPUState *cpu)
{
    cpu->vcpu_dirty = true;
}

static int revirt_insert_breakpoint(CPUState *cpu, int type, hwaddr addr,
                                    hwaddr len)
{
    return revirt_arch_insert_breakpoint(cpu, type, addr, len);
}

static int revirt_remove_breakpoint(CPUState *cpu, int type, hwaddr addr,
                                    hwaddr len)
{
    return revirt_arch_remove_breakpoint(cpu, type, addr, len);
}

static void revirt_accel_ops_class_init(ObjectClass *oc, void *data)
{
    AccelOpsClass *ops = ACCEL_OPS_CLASS(oc);

    qemu_mutex_init(&revirt_kick_lock);
    ops->create_vcpu_thread = revirt_start_vcpu_thread;
    ops->kick_vcpu_thread = revirt_kick_vcpu_thread;
    ops->synchronize_post_reset = revirt_put_full_state;
    ops->synchronize_post_init = revirt_put_full_state;
    ops->synchronize_state = revirt_synchronize_state;
    ops->synchronize_pre_loadvm = revirt_synchronize_pre_loadvm;
    ops->supports_guest_debug = revirt_arch_supports_guest_debug;
    ops->insert_breakpoint = revirt_insert_breakpoint;
    ops->remove_breakpoint = revirt_remove_breakpoint;
    ops->remove_all_breakpoints = revirt_arch_remove_all_breakpoints;
}

static const TypeInfo revirt_accel_ops_type = {
    .name = ACCEL_OPS_NAME("revirt"),
    .parent = TYPE_ACCEL_OPS,
    .class_init = revirt_accel_ops_class_init,
    .abstract = true,
};

static void revirt_accel_ops_register_types(void)
{
    type_register_static(&revirt_accel_ops_type);
}

type_init(revirt_accel_ops_register_types);
