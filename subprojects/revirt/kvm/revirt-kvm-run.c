/*
 * revirt-kvm: running a vCPU, and kicking it out of the guest.
 *
 * The kick signal is blocked in every thread that runs a vCPU, and KVM is
 * given a signal mask without it for KVM_RUN (KVM_SET_SIGNAL_MASK), so the
 * signal can only be taken inside KVM_RUN: one sent while the thread is
 * outside stays pending and throws out its next KVM_RUN at once, and it
 * never interrupts the VMM's own system calls.
 *
 * A kick first sets the vCPU's "kicked" flag, then signals the thread that
 * is in REVIRT_RUN, if any.  Only REVIRT_RUN touches KVM's immediate_exit:
 * it moves the flag there when it starts, so a kick made before that makes
 * KVM_RUN return at once, after completing a pending IN or MMIO read; the
 * two seq_cst pairs (kicked, run_tid) make sure a kick after it finds the
 * thread to signal.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "revirt-kvm.h"
#include "revirt-kvm-int.h"

static void rk_exit_internal(struct revirt_run *run, uint32_t suberror,
                             uint64_t detail)
{
    run->exit_reason = REVIRT_EXIT_INTERNAL_ERROR;
    run->internal.suberror = suberror;
    run->internal.ndata = 1;
    run->internal.data[0] = detail;
}

/* Describe the KVM exit in the revirt run area. */
static void rk_translate_exit(struct rk_vcpu *vcpu)
{
    struct kvm_run *kr = vcpu->kvm_run;
    struct revirt_run *run = vcpu->run;

    run->ready_for_interrupt = kr->ready_for_interrupt_injection;
    run->if_flag = kr->if_flag;
    run->cr8 = kr->cr8;
    run->apic_base = kr->apic_base;

    switch (kr->exit_reason) {
    case KVM_EXIT_IO: {
        uint8_t *data = (uint8_t *)kr + kr->io.data_offset;
        uint32_t len = kr->io.size * kr->io.count;

        if (len > REVIRT_IO_DATA_MAX) {
            rk_exit_internal(run, REVIRT_INTERNAL_OTHER, len);
            return;
        }
        run->exit_reason = REVIRT_EXIT_IO;
        run->io.port = kr->io.port;
        run->io.size = kr->io.size;
        run->io.count = kr->io.count;
        if (vcpu->vm->break_io_size) {
            run->io.size = 3;
        }
        if (kr->io.direction == KVM_EXIT_IO_OUT) {
            run->io.direction = REVIRT_IO_OUT;
            memcpy(run->io_data, data, len);
        } else {
            run->io.direction = REVIRT_IO_IN;
            vcpu->pending_data = data;
            vcpu->pending_src = run->io_data;
            vcpu->pending_len = len;
        }
        return;
    }
    case KVM_EXIT_MMIO:
        run->exit_reason = REVIRT_EXIT_MMIO;
        run->mmio.gpa = kr->mmio.phys_addr;
        run->mmio.len = kr->mmio.len;
        run->mmio.is_write = kr->mmio.is_write;
        memcpy(run->mmio.data, kr->mmio.data, sizeof(run->mmio.data));
        if (!kr->mmio.is_write) {
            vcpu->pending_data = kr->mmio.data;
            vcpu->pending_src = run->mmio.data;
            vcpu->pending_len = kr->mmio.len;
        }
        return;
    case KVM_EXIT_HLT:
        run->exit_reason = REVIRT_EXIT_HLT;
        return;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        run->exit_reason = REVIRT_EXIT_IRQ_WINDOW;
        return;
    case KVM_EXIT_SHUTDOWN:
        run->exit_reason = REVIRT_EXIT_SHUTDOWN;
        /* KVM on SVM resets the vCPU at a shutdown; on VMX it keeps it. */
        run->shutdown.flags = vcpu->vm->svm ? 0 : REVIRT_SHUTDOWN_STATE_KEPT;
        run->shutdown.reserved = 0;
        return;
    case KVM_EXIT_SET_TPR:
        run->exit_reason = REVIRT_EXIT_TPR_WRITE;
        return;
    case KVM_EXIT_DEBUG:
        rk_translate_debug_exit(vcpu);
        return;
    case KVM_EXIT_INTR:
        run->exit_reason = REVIRT_EXIT_INTERRUPTED;
        return;
    case KVM_EXIT_INTERNAL_ERROR:
        rk_exit_internal(run, kr->internal.suberror ==
                         KVM_INTERNAL_ERROR_EMULATION ?
                         REVIRT_INTERNAL_EMULATION : REVIRT_INTERNAL_OTHER, 0);
        run->internal.ndata = kr->internal.ndata < 4 ? kr->internal.ndata : 4;
        memcpy(run->internal.data, kr->internal.data,
               run->internal.ndata * sizeof(uint64_t));
        return;
    case KVM_EXIT_FAIL_ENTRY:
        rk_exit_internal(run, REVIRT_INTERNAL_ENTRY,
                         kr->fail_entry.hardware_entry_failure_reason);
        return;
    default:
        rk_exit_internal(run, REVIRT_INTERNAL_OTHER, kr->exit_reason);
        return;
    }
}

static void rk_kick_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, REVIRT_KVM_KICK_SIGNAL);
}

/*
 * Block the kick signal in this thread, and give KVM this thread's signal
 * mask without it for KVM_RUN.  Done on every run: the VMM may change its
 * threads' masks, or run a vCPU from another thread.
 */
static int rk_vcpu_set_sigmask(struct rk_vcpu *vcpu)
{
    struct kvm_signal_mask *ksm;
    uint64_t buf[2];
    sigset_t kick, set;
    uint64_t mask;
    int ret;

    rk_kick_set(&kick);
    pthread_sigmask(SIG_BLOCK, &kick, &set);
    sigdelset(&set, REVIRT_KVM_KICK_SIGNAL);
    memcpy(&mask, &set, sizeof(mask));  /* the kernel's sigset is 64 bits */
    if (vcpu->sigmask_valid && vcpu->sigmask == mask) {
        return 0;
    }
    ksm = (struct kvm_signal_mask *)buf;
    ksm->len = sizeof(mask);
    memcpy(ksm->sigset, &mask, sizeof(mask));
    ret = rk_ioctl(vcpu->vcpu_fd, KVM_SET_SIGNAL_MASK, ksm);
    if (ret == 0) {
        vcpu->sigmask = mask;
        vcpu->sigmask_valid = true;
    }
    return ret;
}

/* Take the kick signals that ended a run, so the next one can enter. */
static void rk_eat_kick_signals(void)
{
    static const struct timespec no_wait;
    sigset_t set;

    rk_kick_set(&set);
    while (sigtimedwait(&set, NULL, &no_wait) > 0) {
        /* one more */
    }
}

int rk_vcpu_run(struct rk_vcpu *vcpu)
{
    static __thread pid_t tid;
    struct kvm_run *kr = vcpu->kvm_run;
    int ret, err;

    if (!tid) {
        tid = gettid();
    }
    if (rk_check_run_area(vcpu->run) < 0) {
        return -EINVAL;
    }
    ret = rk_vcpu_set_sigmask(vcpu);
    if (ret < 0) {
        rk_exit_internal(vcpu->run, REVIRT_INTERNAL_OTHER, -ret);
        return 0;
    }
    if (vcpu->pending_len) {
        memcpy(vcpu->pending_data, vcpu->pending_src, vcpu->pending_len);
        vcpu->pending_len = 0;
    }
    vcpu->int3_exit = false;
    kr->request_interrupt_window = vcpu->run->request_interrupt_window;
    kr->cr8 = vcpu->run->cr8;

    atomic_store(&vcpu->run_tid, tid);
    kr->immediate_exit = atomic_exchange(&vcpu->kicked, false);
    ret = ioctl(vcpu->vcpu_fd, KVM_RUN, NULL);
    err = errno;
    atomic_store(&vcpu->run_tid, 0);
    vcpu->has_run = true;

    if (ret < 0 && err == EINTR) {
        /* Every kick made until now is answered by this return. */
        rk_eat_kick_signals();
        atomic_store(&vcpu->kicked, false);
        kr->exit_reason = KVM_EXIT_INTR;
    } else if (ret < 0) {
        rk_exit_internal(vcpu->run, REVIRT_INTERNAL_OTHER, err);
        return 0;
    }
    rk_translate_exit(vcpu);
    return 0;
}

int rk_vcpu_kick(struct rk_vcpu *vcpu)
{
    pid_t tid;

    atomic_store(&vcpu->kicked, true);
    tid = atomic_load(&vcpu->run_tid);
    if (tid) {
        tgkill(getpid(), tid, REVIRT_KVM_KICK_SIGNAL);
    }
    return 0;
}
