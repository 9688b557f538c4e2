/*
 * revirt-kvm: guest-physical ranges on KVM memslots.
 *
 * Each mapping is one memslot.  Unmapping part of a mapping deletes its slot
 * and adds slots back for what is left of it, since KVM cannot shrink a slot
 * in place.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "revirt-kvm-int.h"

#define RK_PAGE_MASK ((uint64_t)REVIRT_PAGE_SIZE - 1)

static int rk_check_range(const struct rk_vm *vm, uint64_t gpa, uint64_t size)
{
    if ((gpa | size) & RK_PAGE_MASK || size == 0) {
        return -EINVAL;
    }
    if (gpa + size < gpa || (gpa + size - 1) >> vm->caps.gpa_bits) {
        return -ERANGE;
    }
    return 0;
}

static int rk_slot_alloc(struct rk_vm *vm)
{
    for (int i = 0; i < vm->max_slots; i++) {
        if (!vm->slot_used[i]) {
            vm->slot_used[i] = 1;
            return i;
        }
    }
    return -ENOSPC;
}

static int rk_set_slot(struct rk_vm *vm, const struct rk_mapping *m,
                       uint64_t size)
{
    struct kvm_userspace_memory_region region = {
        .slot = m->slot,
        .flags = !(m->prot & REVIRT_PROT_WRITE) ? KVM_MEM_READONLY :
                 m->logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .guest_phys_addr = m->gpa,
        .memory_size = size,
        .userspace_addr = m->hva,
    };

    return rk_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

int rk_vm_map(struct rk_vm *vm, const struct revirt_memory_map *map)
{
    const uint32_t known = REVIRT_PROT_READ | REVIRT_PROT_WRITE |
                           REVIRT_PROT_EXEC;
    struct rk_mapping m = {
        .gpa = map->gpa, .size = map->size, .hva = map->hva, .prot = map->prot,
    };
    struct rk_mapping *bigger;
    size_t pos;
    int ret;

    if (!(map->prot & REVIRT_PROT_READ) ||
        (map->prot & ~known) || (map->hva & RK_PAGE_MASK)) {
        return -EINVAL;
    }
    ret = rk_check_range(vm, map->gpa, map->size);
    if (ret < 0) {
        return ret;
    }
    if ((!(map->prot & REVIRT_PROT_WRITE) &&
         !(vm->caps.features & REVIRT_FEATURE_READONLY_MEM)) ||
        !(map->prot & REVIRT_PROT_EXEC)) {
        return -ENOTSUP;        /* KVM cannot make guest memory no-exec */
    }

    pthread_mutex_lock(&vm->lock);
    for (pos = 0; pos < vm->nr_mappings; pos++) {
        const struct rk_mapping *o = &vm->mappings[pos];

        if (o->gpa >= m.gpa + m.size) {
            break;
        }
        if (o->gpa + o->size > m.gpa) {
            ret = -EEXIST;
            goto out;
        }
    }
    bigger = realloc(vm->mappings, (vm->nr_mappings + 1) * sizeof(m));
    if (!bigger) {
        ret = -ENOMEM;
        goto out;
    }
    vm->mappings = bigger;
    ret = rk_slot_alloc(vm);
    if (ret < 0) {
        goto out;
    }
    m.slot = ret;
    ret = rk_set_slot(vm, &m, m.size);
    if (ret < 0) {
        vm->slot_used[m.slot] = 0;
        goto out;
    }
    memmove(&vm->mappings[pos + 1], &vm->mappings[pos],
            (vm->nr_mappings - pos) * sizeof(m));
    vm->mappings[pos] = m;
    vm->nr_mappings++;
out:
    pthread_mutex_unlock(&vm->lock);
    return ret;
}

/* Map what is left of a split mapping; false if it could not be. */
static bool rk_remap_piece(struct rk_vm *vm, struct rk_mapping *piece)
{
    if (piece->slot == UINT32_MAX) {
        int slot = rk_slot_alloc(vm);

        if (slot < 0) {
            return false;
        }
        piece->slot = slot;
    }
    if (rk_set_slot(vm, piece, piece->size) < 0) {
        vm->slot_used[piece->slot] = 0;
        return false;
    }
    return true;
}

int rk_vm_unmap(struct rk_vm *vm, const struct revirt_memory_unmap *unmap)
{
    uint64_t start = unmap->gpa, end = unmap->gpa + unmap->size;
    struct rk_mapping *kept;
    size_t nr_kept = 0;
    bool found = false;
    int ret;

    ret = rk_check_range(vm, unmap->gpa, unmap->size);
    if (ret < 0) {
        return ret;
    }

    pthread_mutex_lock(&vm->lock);
    /* At most one mapping splits in two, so one more entry is enough. */
    kept = malloc((vm->nr_mappings + 1) * sizeof(*kept));
    if (!kept) {
        pthread_mutex_unlock(&vm->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < vm->nr_mappings; i++) {
        struct rk_mapping m = vm->mappings[i];
        struct rk_mapping left = m, right = m;

        if (m.gpa >= end || m.gpa + m.size <= start) {
            kept[nr_kept++] = m;
            continue;
        }
        found = true;
        if (m.logging) {
            /* KVM drops the slot's log with it: keep what is left's. */
            rk_log_fetch(vm, &m, 0, m.size / REVIRT_PAGE_SIZE);
        }
        rk_set_slot(vm, &m, 0);
        vm->slot_used[m.slot] = 0;

        left.size = start > m.gpa ? start - m.gpa : 0;
        right.gpa = end;
        right.hva = m.hva + (end - m.gpa);
        right.size = m.gpa + m.size > end ? m.gpa + m.size - end : 0;
        right.slot = UINT32_MAX;
        if (m.logging) {
            uint64_t page = REVIRT_PAGE_SIZE;

            left.dirty = rk_log_slice(m.dirty, 0, left.size / page);
            right.dirty = rk_log_slice(m.dirty, (end - m.gpa) / page,
                                       right.size / page);
            free(m.dirty);
            /* Out of memory: what is left stops logging. */
            left.logging = left.dirty != NULL;
            right.logging = right.dirty != NULL;
            if ((left.size && !left.logging) ||
                (right.size && !right.logging)) {
                ret = -ENOMEM;
            }
        }
        if (left.size) {
            vm->slot_used[left.slot] = 1;
            if (rk_remap_piece(vm, &left)) {
                kept[nr_kept++] = left;
            } else {
                free(left.dirty);
                ret = -ENOSPC;
            }
        } else {
            free(left.dirty);
        }
        if (right.size) {
            if (rk_remap_piece(vm, &right)) {
                kept[nr_kept++] = right;
            } else {
                free(right.dirty);
                ret = -ENOSPC;
            }
        } else {
            free(right.dirty);
        }
    }
    free(vm->mappings);
    vm->mappings = kept;
    vm->nr_mappings = nr_kept;
    pthread_mutex_unlock(&vm->lock);
    return found ? ret : -ENOENT;
}

void rk_vm_free_mappings(struct rk_vm *vm)
{
    for (size_t i = 0; i < vm->nr_mappings; i++) {
        free(vm->mappings[i].dirty);
    }
    free(vm->mappings);
}
