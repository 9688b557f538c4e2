/*
 * revirt-kvm: dirty logging on KVM memslots.
 *
 * A logging mapping is a memslot with KVM_MEM_LOG_DIRTY_PAGES.  Its pages
 * written and not reported yet are the bits of KVM's log for the slot and
 * those of the mapping's own bitmap (mapping->dirty), which holds what was
 * fetched from KVM and not yet asked for: without manual protection,
 * KVM_GET_DIRTY_LOG clears the whole slot's log, and a split keeps the
 * log of what is left of a slot that KVM deletes.
 *
 * With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, as QEMU's KVM accelerator uses
 * it, KVM_GET_DIRTY_LOG only reads the log, and KVM_CLEAR_DIRTY_LOG clears
 * (and write-protects again) just the pages asked for.  A write racing
 * with the call either sets a bit before KVM_GET_DIRTY_LOG reads it, or
 * finds its page write-protected after KVM_CLEAR_DIRTY_LOG and sets it
 * again: it is reported now or next time.
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
#define RK_WORDS(pages) (((pages) + 63) / 64)

static bool rk_test_bit(const uint64_t *bits, uint64_t i)
{
    return bits[i / 64] >> (i % 64) & 1;
}

/* A new bitmap of pages [first, first + n) of @bits; NULL if n is 0. */
uint64_t *rk_log_slice(const uint64_t *bits, uint64_t first, uint64_t n)
{
    uint64_t *slice;

    if (!n) {
        return NULL;
    }
    slice = calloc(RK_WORDS(n), sizeof(uint64_t));
    if (slice) {
        for (uint64_t i = 0; i < n; i++) {
            if (rk_test_bit(bits, first + i)) {
                slice[i / 64] |= 1ull << (i % 64);
            }
        }
    }
    return slice;
}

/* Turn on manual protection, once, before the first slot logs. */
static void rk_log_init(struct rk_vm *vm)
{
    struct kvm_enable_cap cap = {
        .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
        .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
    };
    int offered;

    if (vm->dirty_log_ready) {
        return;
    }
    vm->dirty_log_ready = true;
    offered = rk_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
                       (void *)(long)KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
    vm->manual_protect = offered > 0 && !rk_hidden("dirty-log-clear") &&
                         (offered & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
                         !rk_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
}

/*
 * Move the pages [first, end) of @m that KVM logged into m->dirty and
 * clear them in KVM (without manual protection, KVM clears all the slot's
 * and every page goes to m->dirty).
 */
int rk_log_fetch(struct rk_vm *vm, struct rk_mapping *m, uint64_t first,
                 uint64_t end)
{
    uint64_t pages = m->size / REVIRT_PAGE_SIZE;
    struct kvm_dirty_log log = { .slot = m->slot };
    uint64_t *bits;
    int ret;

    if (!(m->prot & REVIRT_PROT_WRITE)) {
        return 0;               /* the guest cannot write it */
    }
    bits = calloc(RK_WORDS(pages), sizeof(uint64_t));
    if (!bits) {
        return -ENOMEM;
    }
    log.dirty_bitmap = bits;
    ret = rk_ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
    if (ret < 0) {
        free(bits);
        return ret;
    }
    if (vm->manual_protect) {
        /* KVM clears whole words of 64 pages, so mask what is outside. */
        uint64_t w0 = first / 64, w1 = RK_WORDS(end);
        struct kvm_clear_dirty_log clear = {
            .slot = m->slot,
            .first_page = w0 * 64,
            .num_pages = (w1 * 64 > pages ? pages : w1 * 64) - w0 * 64,
            .dirty_bitmap = bits + w0,
        };
        bool any = false;

        for (uint64_t w = w0; w < w1; w++) {
            uint64_t keep = ~0ull;

            if (w == w0 && first % 64) {
                keep &= ~0ull << (first % 64);
            }
            if (w == w1 - 1 && end % 64) {
                keep &= ~0ull >> (64 - end % 64);
            }
            bits[w] &= keep;
            m->dirty[w] |= bits[w];
            any |= bits[w] != 0;
        }
        if (any) {
            ret = rk_ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear);
        }
    } else {
        for (uint64_t w = 0; w < RK_WORDS(pages); w++) {
            m->dirty[w] |= bits[w];
        }
    }
    free(bits);
    return ret;
}

static int rk_check_log_range(const struct rk_vm *vm, uint64_t gpa,
                              uint64_t size, uint32_t flags, uint32_t reserved)
{
    if (!(vm->caps.features & REVIRT_FEATURE_DIRTY_LOG)) {
        return -ENOTSUP;
    }
    if (flags || reserved || (gpa | size) & RK_PAGE_MASK || size == 0) {
        return -EINVAL;
    }
    if (gpa + size < gpa || (gpa + size - 1) >> vm->caps.gpa_bits) {
        return -ERANGE;
    }
    return 0;
}

/*
 * The mappings [*first, *end) of vm->mappings that cover [gpa, gpa +
 * size) with no gap; -ENOENT if a page is not mapped.  With @whole, they
 * must not cross the range's edges either (-EXDEV).
 */
static int rk_find_cover(struct rk_vm *vm, uint64_t gpa, uint64_t size,
                         bool whole, size_t *first, size_t *end)
{
    uint64_t next = gpa, limit = gpa + size;
    size_t i = 0;

    while (i < vm->nr_mappings &&
           vm->mappings[i].gpa + vm->mappings[i].size <= gpa) {
        i++;
    }
    *first = i;
    for (; next < limit; i++) {
        const struct rk_mapping *m = &vm->mappings[i];

        if (i == vm->nr_mappings || m->gpa > next) {
            return -ENOENT;
        }
        if (whole && (m->gpa < gpa || m->gpa + m->size > limit)) {
            return -EXDEV;
        }
        next = m->gpa + m->size;
    }
    *end = i;
    return 0;
}

/* Turn KVM's log of @m's slot on or off. */
static int rk_log_slot(struct rk_vm *vm, const struct rk_mapping *m, bool on)
{
    struct kvm_userspace_memory_region region = {
        .slot = m->slot,
        .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .guest_phys_addr = m->gpa,
        .memory_size = m->size,
        .userspace_addr = m->hva,
    };

    if (!(m->prot & REVIRT_PROT_WRITE)) {
        return 0;               /* nothing to log */
    }
    return rk_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

int rk_vm_log_start(struct rk_vm *vm, const struct revirt_log_range *range)
{
    uint64_t **fresh = NULL;
    size_t first, end, i;
    int ret;

    ret = rk_check_log_range(vm, range->gpa, range->size, range->flags,
                             range->reserved);
    if (ret < 0) {
        return ret;
    }
    pthread_mutex_lock(&vm->lock);
    ret = rk_find_cover(vm, range->gpa, range->size, true, &first, &end);
    if (ret < 0) {
        goto out;
    }
    rk_log_init(vm);

    /* The bitmaps of the mappings that start logging, NULL for the others */
    fresh = calloc(end - first, sizeof(*fresh));
    ret = fresh ? 0 : -ENOMEM;
    for (i = first; i < end && ret == 0; i++) {
        struct rk_mapping *m = &vm->mappings[i];

        if (!m->logging) {
            fresh[i - first] = calloc(RK_WORDS(m->size / REVIRT_PAGE_SIZE),
                                      sizeof(uint64_t));
            ret = fresh[i - first] ? 0 : -ENOMEM;
        }
    }
    for (i = first; i < end && ret == 0; i++) {
        if (fresh[i - first]) {
            ret = rk_log_slot(vm, &vm->mappings[i], true);
        }
    }
    if (ret < 0) {
        /* Undo: the slots turned on before the one that failed. */
        while (fresh && i-- > first) {
            if (fresh[i - first]) {
                rk_log_slot(vm, &vm->mappings[i], false);
            }
        }
    }
    for (i = first; fresh && i < end; i++) {
        struct rk_mapping *m = &vm->mappings[i];

        if (ret == 0 && fresh[i - first]) {
            m->dirty = fresh[i - first];
            m->logging = true;
        } else if (ret < 0) {
            free(fresh[i - first]);
        }
    }
out:
    pthread_mutex_unlock(&vm->lock);
    free(fresh);
    return ret;
}

int rk_vm_log_stop(struct rk_vm *vm, const struct revirt_log_range *range)
{
    size_t first, end;
    int ret;

    ret = rk_check_log_range(vm, range->gpa, range->size, range->flags,
                             range->reserved);
    if (ret < 0) {
        return ret;
    }
    pthread_mutex_lock(&vm->lock);
    ret = rk_find_cover(vm, range->gpa, range->size, true, &first, &end);
    for (size_t i = first; ret == 0 && i < end; i++) {
        struct rk_mapping *m = &vm->mappings[i];

        if (m->logging) {
            /* A slot that keeps logging would cost KVM its write faults. */
            rk_log_slot(vm, m, false);
            m->logging = false;
            free(m->dirty);
            m->dirty = NULL;
        }
    }
    pthread_mutex_unlock(&vm->lock);
    return ret;
}

int rk_vm_get_dirty_log(struct rk_vm *vm, const struct revirt_dirty_log *log)
{
    uint64_t start = log->gpa, limit = log->gpa + log->size;
    uint8_t *out = (uint8_t *)(uintptr_t)log->bitmap;
    size_t first, end;
    int ret;

    ret = rk_check_log_range(vm, log->gpa, log->size, log->flags,
                             log->reserved);
    if (ret < 0) {
        return ret;
    }
    if (!out) {
        return -EFAULT;
    }
    pthread_mutex_lock(&vm->lock);
    ret = rk_find_cover(vm, start, log->size, false, &first, &end);
    for (size_t i = first; ret == 0 && i < end; i++) {
        if (!vm->mappings[i].logging) {
            ret = -ENOENT;
        }
    }
    if (ret < 0) {
        goto out;
    }
    /* First fetch all, so that a failure clears nothing it did not keep. */
    for (size_t i = first; i < end && ret == 0; i++) {
        struct rk_mapping *m = &vm->mappings[i];
        uint64_t from = start > m->gpa ? start - m->gpa : 0;
        uint64_t to = limit < m->gpa + m->size ? limit - m->gpa : m->size;

        ret = rk_log_fetch(vm, m, from / REVIRT_PAGE_SIZE,
                           to / REVIRT_PAGE_SIZE);
    }
    if (ret < 0) {
        goto out;
    }
    memset(out, 0, (log->size / REVIRT_PAGE_SIZE + 7) / 8);
    for (size_t i = first; i < end; i++) {
        struct rk_mapping *m = &vm->mappings[i];
        uint64_t from = start > m->gpa ? start - m->gpa : 0;
        uint64_t to = limit < m->gpa + m->size ? limit - m->gpa : m->size;
        /* page p of the mapping is bit p + shift of the caller's bitmap */
        uint64_t shift = (m->gpa + from - start) / REVIRT_PAGE_SIZE -
                         from / REVIRT_PAGE_SIZE;

        for (uint64_t p = from / REVIRT_PAGE_SIZE;
             p < to / REVIRT_PAGE_SIZE; p++) {
            uint64_t *word = &m->dirty[p / 64];

            if (!*word) {
                p |= 63;        /* skip a clean word */
                continue;
            }
            if (*word >> (p % 64) & 1) {
                *word &= ~(1ull << (p % 64));
                out[(p + shift) / 8] |= 1u << ((p + shift) % 8);
            }
        }
    }
out:
    pthread_mutex_unlock(&vm->lock);
    return ret;
}
