/*
 * revirt-kvm: vCPU handles (create, run, kick, inject, CPUID).
 *
 * A kick sets KVM's immediate_exit flag first and then signals the thread in
 * KVM_RUN: a run that has not entered the guest yet sees the flag, one that
 * has is thrown out by the signal.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "revirt-kvm.h"
#include "revirt-kvm-int.h"

int rk_vcpu_create(struct rk_vm *vm, const struct revirt_vcpu_create *create)
{
    struct rk_vcpu *vcpu;
    int ret;

    if (create->flags || create->vcpu_id >= vm->caps.max_vcpus ||
        !create->run_area || create->run_area & (REVIRT_PAGE_SIZE - 1) ||
        create->run_area_size < vm->caps.run_area_size) {
        return -EINVAL;
    }
    vcpu = calloc(1, sizeof(*vcpu));
    if (!vcpu) {
        return -ENOMEM;
    }
    vcpu->obj.kind = RK_VCPU;
    vcpu->vcpu_fd = rk_ioctl(vm->vm_fd, KVM_CREATE_VCPU,
                             (void *)(unsigned long)create->vcpu_id);
    if (vcpu->vcpu_fd < 0) {
        ret = vcpu->vcpu_fd;
        free(vcpu);
        return ret;
    }
    vcpu->kvm_run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED, vcpu->vcpu_fd, 0);
    if (vcpu->kvm_run == MAP_FAILED) {
        ret = -errno;
        close(vcpu->vcpu_fd);
        free(vcpu);
        return ret;
    }
    vcpu->run = (struct revirt_run *)(uintptr_t)create->run_area;
    memset(vcpu->run, 0, sizeof(*vcpu->run));
    atomic_fetch_add(&vm->obj.refs, 1);
    vcpu->vm = vm;

    ret = rk_handle_new(&vcpu->obj);
    if (ret < 0) {
        rk_vcpu_free(vcpu);
    }
    return ret;
}

void rk_vcpu_free(struct rk_vcpu *vcpu)
{
    munmap(vcpu->kvm_run, vcpu->vm->vcpu_mmap_size);
    close(vcpu->vcpu_fd);
    rk_put(&vcpu->vm->obj);
    free(vcpu);
}

/* Claim the vCPU for a call that needs it stopped; false if it is not. */
static bool rk_vcpu_claim(struct rk_vcpu *vcpu)
{
    bool expected = false;

    return atomic_compare_exchange_strong(&vcpu->busy, &expected, true);
}

static void rk_vcpu_release(struct rk_vcpu *vcpu)
{
    atomic_store(&vcpu->busy, false);
}

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

static int rk_vcpu_run(struct rk_vcpu *vcpu)
{
    static __thread bool kick_unblocked;
    struct kvm_run *kr = vcpu->kvm_run;
    int ret;

    if (!kick_unblocked) {
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, REVIRT_KVM_KICK_SIGNAL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        kick_unblocked = true;
    }
    if (vcpu->pending_len) {
        memcpy(vcpu->pending_data, vcpu->pending_src, vcpu->pending_len);
        vcpu->pending_len = 0;
    }
    kr->request_interrupt_window = vcpu->run->request_interrupt_window;
    kr->cr8 = vcpu->run->cr8;

    vcpu->thread = pthread_self();
    atomic_store(&vcpu->in_run, true);
    ret = ioctl(vcpu->vcpu_fd, KVM_RUN, NULL);
    atomic_store(&vcpu->in_run, false);
    vcpu->has_run = true;

    if (ret < 0 && errno == EINTR) {
        kr->exit_reason = KVM_EXIT_INTR;
    } else if (ret < 0) {
        rk_exit_internal(vcpu->run, REVIRT_INTERNAL_OTHER, errno);
        return 0;
    }
    if (kr->exit_reason == KVM_EXIT_INTR) {
        __atomic_store_n(&kr->immediate_exit, 0, __ATOMIC_SEQ_CST);
    }
    rk_translate_exit(vcpu);
    return 0;
}

static int rk_vcpu_kick(struct rk_vcpu *vcpu)
{
    __atomic_store_n(&vcpu->kvm_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (atomic_load(&vcpu->in_run)) {
        pthread_kill(vcpu->thread, REVIRT_KVM_KICK_SIGNAL);
    }
    return 0;
}

static int rk_vcpu_inject(struct rk_vcpu *vcpu, const struct revirt_event *ev)
{
    struct kvm_vcpu_events events;
    int ret;

    switch (ev->type) {
    case REVIRT_EVENT_EXTINT: {
        struct kvm_interrupt irq = { .irq = ev->vector };

        if (ev->flags || ev->vector > 255) {
            return -EINVAL;
        }
        if (!vcpu->run->ready_for_interrupt) {
            return -EBUSY;
        }
        ret = rk_ioctl(vcpu->vcpu_fd, KVM_INTERRUPT, &irq);
        return ret == -EEXIST ? -EBUSY : ret;
    }
    case REVIRT_EVENT_NMI:
        if (ev->flags) {
            return -EINVAL;
        }
        return rk_ioctl(vcpu->vcpu_fd, KVM_NMI, NULL);
    case REVIRT_EVENT_EXCEPTION:
        if ((ev->flags & ~REVIRT_EVENT_FLAG_ERROR_CODE) || ev->vector > 31) {
            return -EINVAL;
        }
        ret = rk_ioctl(vcpu->vcpu_fd, KVM_GET_VCPU_EVENTS, &events);
        if (ret < 0) {
            return ret;
        }
        if (events.exception.injected || events.exception.pending) {
            return -EBUSY;
        }
        events.exception.injected = 1;
        events.exception.nr = ev->vector;
        events.exception.has_error_code =
            !!(ev->flags & REVIRT_EVENT_FLAG_ERROR_CODE);
        events.exception.error_code = ev->error_code;
        events.flags = 0;
        return rk_ioctl(vcpu->vcpu_fd, KVM_SET_VCPU_EVENTS, &events);
    default:
        return -EINVAL;
    }
}

static int rk_vcpu_set_cpuid(struct rk_vcpu *vcpu,
                             const struct revirt_cpuid_table *table)
{
    struct kvm_cpuid2 *cpuid;
    int ret;

    if (table->flags || table->count > REVIRT_MAX_CPUID_ENTRIES) {
        return -EINVAL;
    }
    if (vcpu->has_run) {
        return -EBUSY;
    }
    cpuid = calloc(1, sizeof(*cpuid) +
                   table->count * sizeof(cpuid->entries[0]));
    if (!cpuid) {
        return -ENOMEM;
    }
    cpuid->nent = table->count;
    for (uint32_t i = 0; i < table->count; i++) {
        const struct revirt_cpuid_entry *r = &table->entries[i];
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

        e->function = r->function;
        e->index = r->index;
        e->flags = (r->flags & REVIRT_CPUID_FLAG_INDEXED) ?
                   KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
        e->eax = r->eax;
        e->ebx = r->ebx;
        e->ecx = r->ecx;
        e->edx = r->edx;
    }
    ret = rk_ioctl(vcpu->vcpu_fd, KVM_SET_CPUID2, cpuid);
    free(cpuid);
    return ret;
}

int rk_vcpu_call(struct rk_vcpu *vcpu, uint32_t request, void *arg)
{
    int ret;

    switch (request) {
    case REVIRT_KICK:
        return rk_vcpu_kick(vcpu);
    case REVIRT_RUN:
    case REVIRT_GET_STATE:
    case REVIRT_SET_STATE:
    case REVIRT_SET_CPUID:
    case REVIRT_INJECT:
    case REVIRT_GET_XSAVE:
    case REVIRT_SET_XSAVE:
        break;
    default:
        return -ENOTTY;
    }

    if (!rk_vcpu_claim(vcpu)) {
        return -EBUSY;
    }
    switch (request) {
    case REVIRT_RUN:
        ret = rk_vcpu_run(vcpu);
        break;
    case REVIRT_GET_STATE:
        ret = rk_state_get(vcpu, arg);
        break;
    case REVIRT_SET_STATE:
        ret = rk_state_set(vcpu, arg);
        break;
    case REVIRT_SET_CPUID:
        ret = rk_vcpu_set_cpuid(vcpu, arg);
        break;
    case REVIRT_GET_XSAVE:
        ret = rk_xsave_get(vcpu, arg);
        break;
    case REVIRT_SET_XSAVE:
        ret = rk_xsave_set(vcpu, arg);
        break;
    default:
        ret = rk_vcpu_inject(vcpu, arg);
        break;
    }
    rk_vcpu_release(vcpu);
    return ret;
}
