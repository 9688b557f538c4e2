/*
 * revirt-kvm: KVM vCPUs outlive their handles.
 *
 * KVM never frees a vCPU id, so a closed vCPU's KVM fd is parked in its VM
 * (as QEMU's kvm_park_vcpu does) and taken again when the same vcpu_id is
 * created.  Its state right after KVM_CREATE_VCPU is kept with it and put
 * back on reuse: registers, segments and control registers, XSAVE and XCR0,
 * debug registers, events and the MSRs KVM lists, all but the TSC, which
 * runs on as it does for a new vCPU.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "revirt-kvm-int.h"

#define RK_MSR_IA32_TSC         0x10
#define RK_MSR_IA32_TSC_ADJUST  0x3b

struct rk_reset_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_debugregs debugregs;
    struct kvm_vcpu_events events;
    struct kvm_xcrs xcrs;
    bool has_xcrs;
    struct kvm_msrs *msrs;
    struct kvm_xsave *xsave;    /* xsave_size bytes */
};

/*
 * KVM_GET_MSRS or KVM_SET_MSRS over a list, stepping over the entries KVM
 * refuses (it stops at the first one).  A GET keeps the entries it read.
 */
static int rk_msrs_each(int fd, unsigned long request, struct kvm_msrs *msrs)
{
    const size_t entry = sizeof(msrs->entries[0]);
    uint32_t n = msrs->nmsrs, kept = 0;
    struct kvm_msrs *part;

    part = calloc(1, sizeof(*part) + n * entry);
    if (!part) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; ) {
        int done;

        part->nmsrs = n - i;
        memcpy(part->entries, &msrs->entries[i], part->nmsrs * entry);
        done = rk_ioctl(fd, request, part);
        done = done < 0 ? 0 : done;
        if (request == KVM_GET_MSRS) {
            memcpy(&msrs->entries[kept], part->entries, done * entry);
            kept += done;
        }
        i += done + 1;          /* step over the one refused */
    }
    if (request == KVM_GET_MSRS) {
        msrs->nmsrs = kept;
    }
    free(part);
    return 0;
}

static void rk_reset_free(struct rk_reset_state *rs)
{
    if (rs) {
        free(rs->msrs);
        free(rs->xsave);
        free(rs);
    }
}

static int rk_reset_get_msrs(struct rk_vm *vm, int fd,
                             struct rk_reset_state *rs)
{
    uint32_t n = 0;

    rs->msrs = calloc(1, sizeof(*rs->msrs) +
                      vm->nr_msr_indices * sizeof(rs->msrs->entries[0]));
    if (!rs->msrs) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < vm->nr_msr_indices; i++) {
        uint32_t index = vm->msr_indices[i];

        if (index != RK_MSR_IA32_TSC && index != RK_MSR_IA32_TSC_ADJUST) {
            rs->msrs->entries[n++].index = index;
        }
    }
    rs->msrs->nmsrs = n;
    return rk_msrs_each(fd, KVM_GET_MSRS, rs->msrs);
}

struct rk_reset_state *rk_reset_capture(struct rk_vm *vm, int fd)
{
    struct rk_reset_state *rs = calloc(1, sizeof(*rs));
    int ret = -ENOMEM;

    if (rs) {
        rs->xsave = calloc(1, vm->xsave_size);
    }
    if (rs && rs->xsave) {
        ret = rk_ioctl(fd, KVM_GET_REGS, &rs->regs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_GET_SREGS, &rs->sregs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_GET_DEBUGREGS, &rs->debugregs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_GET_VCPU_EVENTS, &rs->events);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, vm->xsave_size > sizeof(struct kvm_xsave) ?
                       KVM_GET_XSAVE2 : KVM_GET_XSAVE, rs->xsave);
    }
    if (ret == 0) {
        ret = rk_reset_get_msrs(vm, fd, rs);
    }
    if (ret < 0) {
        rk_reset_free(rs);
        return NULL;
    }
    /* Hosts without XSAVE have no XCRs. */
    rs->has_xcrs = rk_ioctl(fd, KVM_GET_XCRS, &rs->xcrs) == 0;
    return rs;
}

/*
 * Finish an IN or MMIO read the vCPU was left in when its handle was
 * closed, without running guest code: KVM keeps it pending until the next
 * KVM_RUN, which would otherwise complete it into the reset state.
 */
static void rk_reset_drain(int fd, struct kvm_run *kr)
{
    kr->immediate_exit = 1;
    kr->request_interrupt_window = 0;
    for (int i = 0; i < 64 && ioctl(fd, KVM_RUN, NULL) == 0; i++) {
        /* a string I/O that needs another round */
    }
    kr->immediate_exit = 0;
}

static int rk_reset_restore(int fd, struct kvm_run *kr,
                            const struct rk_reset_state *rs)
{
    int ret;

    rk_reset_drain(fd, kr);
    ret = rk_msrs_each(fd, KVM_SET_MSRS, rs->msrs);
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_SET_SREGS, (void *)&rs->sregs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_SET_REGS, (void *)&rs->regs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_SET_XSAVE, rs->xsave);
    }
    if (ret == 0 && rs->has_xcrs) {
        ret = rk_ioctl(fd, KVM_SET_XCRS, (void *)&rs->xcrs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_SET_DEBUGREGS, (void *)&rs->debugregs);
    }
    if (ret == 0) {
        ret = rk_ioctl(fd, KVM_SET_VCPU_EVENTS, (void *)&rs->events);
    }
    if (ret == 0) {
        /* A new vCPU is not being debugged. */
        struct kvm_guest_debug off = { 0 };

        ret = rk_ioctl(fd, KVM_SET_GUEST_DEBUG, &off);
    }
    return ret;
}

/* Keep a closed vCPU's KVM vCPU in its VM for the next one of its id. */
void rk_vcpu_park(struct rk_vm *vm, struct rk_vcpu *vcpu)
{
    struct rk_parked *bigger;

    pthread_mutex_lock(&vm->lock);
    bigger = realloc(vm->parked, (vm->nr_parked + 1) * sizeof(*bigger));
    if (bigger) {
        vm->parked = bigger;
        vm->parked[vm->nr_parked++] = (struct rk_parked) {
            .id = vcpu->id, .fd = vcpu->vcpu_fd,
            .kvm_run = vcpu->kvm_run, .reset = vcpu->reset,
        };
    }
    pthread_mutex_unlock(&vm->lock);
    if (!bigger) {
        /* Then the id stays taken, as it did before parking. */
        munmap(vcpu->kvm_run, vm->vcpu_mmap_size);
        close(vcpu->vcpu_fd);
        rk_reset_free(vcpu->reset);
    }
}

/*
 * With vm->lock held: give vcpu the parked KVM vCPU of its id, back in the
 * reset state.  Returns 1 if there was one, 0 if not, or an error.
 */
int rk_vcpu_unpark(struct rk_vm *vm, struct rk_vcpu *vcpu)
{
    for (size_t i = 0; i < vm->nr_parked; i++) {
        struct rk_parked *p = &vm->parked[i];
        int ret;

        if (p->id != vcpu->id) {
            continue;
        }
        ret = rk_reset_restore(p->fd, p->kvm_run, p->reset);
        if (ret < 0) {
            return ret;
        }
        vcpu->vcpu_fd = p->fd;
        vcpu->kvm_run = p->kvm_run;
        vcpu->reset = p->reset;
        *p = vm->parked[--vm->nr_parked];
        return 1;
    }
    return 0;
}

void rk_vm_free_parked(struct rk_vm *vm)
{
    for (size_t i = 0; i < vm->nr_parked; i++) {
        munmap(vm->parked[i].kvm_run, vm->vcpu_mmap_size);
        close(vm->parked[i].fd);
        rk_reset_free(vm->parked[i].reset);
    }
    free(vm->parked);
}
