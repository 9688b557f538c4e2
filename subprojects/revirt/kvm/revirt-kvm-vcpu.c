/*
 * revirt-kvm: vCPU handles (create, inject, CPUID, and the call switch).
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

#include "revirt-kvm.h"
#include "revirt-kvm-int.h"

/* A new KVM vCPU, with its run page and its reset state. */
static int rk_vcpu_new_kvm(struct rk_vm *vm, struct rk_vcpu *vcpu)
{
    int fd = rk_ioctl(vm->vm_fd, KVM_CREATE_VCPU,
                      (void *)(unsigned long)vcpu->id);

    if (fd < 0) {
        return fd;
    }
    vcpu->kvm_run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
    if (vcpu->kvm_run == MAP_FAILED) {
        close(fd);
        return -ENOMEM;
    }
    vcpu->reset = rk_reset_capture(vm, fd);
    if (!vcpu->reset) {
        munmap(vcpu->kvm_run, vm->vcpu_mmap_size);
        close(fd);
        return -ENOMEM;
    }
    vcpu->vcpu_fd = fd;
    return 0;
}

int rk_vcpu_create(struct rk_vm *vm, const struct revirt_vcpu_create *create)
{
    struct rk_vcpu *vcpu;
    int ret;

    if (create->vcpu_id >= vm->caps.max_vcpus ||
        !create->run_area || create->run_area & (REVIRT_PAGE_SIZE - 1) ||
        create->run_area_size < vm->caps.run_area_size) {
        return -EINVAL;
    }
    vcpu = calloc(1, sizeof(*vcpu));
    if (!vcpu) {
        return -ENOMEM;
    }
    vcpu->obj.kind = RK_VCPU;
    vcpu->id = create->vcpu_id;

    /* A closed vCPU of this id is reused: KVM never frees an id. */
    pthread_mutex_lock(&vm->lock);
    ret = rk_vcpu_unpark(vm, vcpu);
    if (ret == 0) {
        ret = rk_vcpu_new_kvm(vm, vcpu);
    }
    pthread_mutex_unlock(&vm->lock);
    if (ret < 0) {
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
    rk_vcpu_park(vcpu->vm, vcpu);
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

static int rk_vcpu_set_cpuid(struct rk_vcpu *vcpu,
                             const struct revirt_cpuid_table *table)
{
    struct kvm_cpuid2 *cpuid;
    int ret;

    if (table->count > REVIRT_MAX_CPUID_ENTRIES) {
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
    case REVIRT_SET_GUEST_DEBUG:
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
    case REVIRT_SET_GUEST_DEBUG:
        ret = rk_vcpu_set_guest_debug(vcpu, arg);
        break;
    default:
        ret = rk_vcpu_inject(vcpu, arg);
        break;
    }
    rk_vcpu_release(vcpu);
    return ret;
}
