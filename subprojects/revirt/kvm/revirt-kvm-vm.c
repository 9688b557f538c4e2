/*
 * revirt-kvm: VM handles over KVM VMs with a userspace irqchip.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revirt-kvm-int.h"

/* What a vCPU's reset state is made of: the XSAVE size and the MSRs. */
static int rk_vm_reset_info(struct rk_vm *vm, int kvm_fd)
{
    struct revirt_msr_index_list *list = malloc(sizeof(*list));
    int size, ret;

    size = rk_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
                    (void *)(long)KVM_CAP_XSAVE2);
    vm->xsave_size = size > (int)sizeof(struct kvm_xsave) ?
                     (size_t)size : sizeof(struct kvm_xsave);
    ret = list ? rk_get_supported_msrs(kvm_fd, list) : -ENOMEM;
    if (ret == 0) {
        vm->msr_indices = malloc((list->count + 1) * sizeof(uint32_t));
        ret = vm->msr_indices ? 0 : -ENOMEM;
    }
    if (ret == 0) {
        memcpy(vm->msr_indices, list->indices,
               list->count * sizeof(uint32_t));
        vm->nr_msr_indices = list->count;
    }
    free(list);
    return ret;
}

struct rk_vm *rk_vm_new(struct rk_system *sys, int *err)
{
    struct rk_vm *vm = calloc(1, sizeof(*vm));
    int max_slots;

    if (!vm) {
        *err = -ENOMEM;
        return NULL;
    }
    vm->obj.kind = RK_VM;
    vm->caps = sys->caps;
    vm->vcpu_mmap_size = sys->vcpu_mmap_size;
    vm->svm = sys->svm;
    vm->break_io_size = rk_broken("io-size");
    vm->mcg_cap = sys->mcg_cap;
    pthread_mutex_init(&vm->lock, NULL);

    /* No KVM_CREATE_IRQCHIP: interrupts come only through REVIRT_INJECT. */
    vm->vm_fd = rk_ioctl(sys->kvm_fd, KVM_CREATE_VM, NULL);
    if (vm->vm_fd < 0) {
        *err = vm->vm_fd;
        free(vm);
        return NULL;
    }
    max_slots = rk_ioctl(sys->kvm_fd, KVM_CHECK_EXTENSION,
                         (void *)(long)KVM_CAP_NR_MEMSLOTS);
    vm->max_slots = max_slots > 0 ? max_slots : 32;
    vm->slot_used = calloc(vm->max_slots, 1);
    if (!vm->slot_used) {
        *err = -ENOMEM;
        rk_vm_free(vm);
        return NULL;
    }
    *err = rk_vm_reset_info(vm, sys->kvm_fd);
    if (*err < 0) {
        rk_vm_free(vm);
        return NULL;
    }
    if (vm->caps.private_size) {
        uint64_t identity = vm->caps.private_gpa;

        *err = rk_ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
        if (*err == 0) {
            *err = rk_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR,
                            (void *)(unsigned long)(identity + 0x1000));
        }
        if (*err < 0) {
            rk_vm_free(vm);
            return NULL;
        }
    }
    return vm;
}

int rk_vm_call(struct rk_vm *vm, uint32_t request, void *arg)
{
    switch (request) {
    case REVIRT_MAP_MEMORY:
        return rk_vm_map(vm, arg);
    case REVIRT_UNMAP_MEMORY:
        return rk_vm_unmap(vm, arg);
    case REVIRT_CREATE_VCPU:
        return rk_vcpu_create(vm, arg);
    case REVIRT_LOG_START:
        return rk_vm_log_start(vm, arg);
    case REVIRT_LOG_STOP:
        return rk_vm_log_stop(vm, arg);
    case REVIRT_GET_DIRTY_LOG:
        return rk_vm_get_dirty_log(vm, arg);
    default:
        return -ENOTTY;
    }
}

void rk_vm_free(struct rk_vm *vm)
{
    if (vm->vm_fd >= 0) {
        close(vm->vm_fd);
    }
    rk_vm_free_parked(vm);
    pthread_mutex_destroy(&vm->lock);
    free(vm->msr_indices);
    rk_vm_free_mappings(vm);
    free(vm->slot_used);
    free(vm);
}
