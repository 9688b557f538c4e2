/*
 * revirt-kvm: reserved fields are zero, on every call that reads them.
 *
 * One place for the rule the ABI header states in its preamble: each
 * argument struct the driver reads is checked before the call does
 * anything, so a call that fails this way changes nothing.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdbool.h>

#include "revirt-kvm-int.h"

static bool rk_zero(const void *p, size_t len)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < len; i++) {
        if (b[i]) {
            return false;
        }
    }
    return true;
}

#define RK_ZERO(field) rk_zero(&(field), sizeof(field))

static bool rk_vm_create_ok(const void *arg)
{
    const struct revirt_vm_create *c = arg;

    return !c->flags && !c->reserved;
}

static bool rk_map_ok(const void *arg)
{
    return !((const struct revirt_memory_map *)arg)->flags;
}

static bool rk_unmap_ok(const void *arg)
{
    const struct revirt_memory_unmap *u = arg;

    return !u->flags && !u->reserved;
}

static bool rk_vcpu_create_ok(const void *arg)
{
    return !((const struct revirt_vcpu_create *)arg)->flags;
}

static bool rk_cpuid_ok(const void *arg)
{
    const struct revirt_cpuid_table *t = arg;
    uint32_t n = t->count < REVIRT_MAX_CPUID_ENTRIES ?
                 t->count : REVIRT_MAX_CPUID_ENTRIES;

    for (uint32_t i = 0; i < n; i++) {
        if (t->entries[i].reserved ||
            (t->entries[i].flags & ~REVIRT_CPUID_FLAG_INDEXED)) {
            return false;
        }
    }
    return !t->flags;
}

static bool rk_get_state_ok(const void *arg)
{
    const struct revirt_vcpu_state *st = arg;
    const struct revirt_msrs *m = &st->msrs;
    uint32_t n = m->count < REVIRT_MAX_STATE_MSRS ?
                 m->count : REVIRT_MAX_STATE_MSRS;

    if (!(st->classes & REVIRT_STATE_MSRS)) {
        return !st->flags;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (m->entries[i].reserved) {
            return false;
        }
    }
    return !st->flags && !m->reserved;
}

static bool rk_set_state_ok(const void *arg)
{
    const struct revirt_vcpu_state *st = arg;
    const struct revirt_segment *seg = &st->segments.cs;

    if (st->classes & REVIRT_STATE_SEGMENTS) {
        for (size_t i = 0; i < sizeof(st->segments) / sizeof(*seg); i++) {
            if (seg[i].reserved) {
                return false;
            }
        }
    }
    if ((st->classes & REVIRT_STATE_DTABLES) &&
        !(RK_ZERO(st->dtables.gdt.reserved) &&
          RK_ZERO(st->dtables.idt.reserved))) {
        return false;
    }
    if ((st->classes & REVIRT_STATE_EVENTS) &&
        !RK_ZERO(st->events.reserved)) {
        return false;
    }
    return rk_get_state_ok(arg);
}

/* Flags not defined, and fields the event's type does not use. */
static bool rk_event_ok(const void *arg)
{
    const struct revirt_event *ev = arg;

    switch (ev->type) {
    case REVIRT_EVENT_NMI:
        return !ev->vector && !ev->error_code && !ev->flags;
    case REVIRT_EVENT_EXTINT:
        return !ev->error_code && !ev->flags;
    default:
        return !(ev->flags & ~REVIRT_EVENT_FLAG_ERROR_CODE) &&
               ((ev->flags & REVIRT_EVENT_FLAG_ERROR_CODE) || !ev->error_code);
    }
}

static const struct {
    uint32_t request;
    enum rk_kind kind;
    bool (*ok)(const void *arg);
} rk_checks[] = {
    { REVIRT_CREATE_VM, RK_SYSTEM, rk_vm_create_ok },
    { REVIRT_MAP_MEMORY, RK_VM, rk_map_ok },
    { REVIRT_UNMAP_MEMORY, RK_VM, rk_unmap_ok },
    { REVIRT_CREATE_VCPU, RK_VM, rk_vcpu_create_ok },
    { REVIRT_SET_CPUID, RK_VCPU, rk_cpuid_ok },
    { REVIRT_GET_STATE, RK_VCPU, rk_get_state_ok },
    { REVIRT_SET_STATE, RK_VCPU, rk_set_state_ok },
    { REVIRT_INJECT, RK_VCPU, rk_event_ok },
    { REVIRT_SET_GUEST_DEBUG, RK_VCPU, rk_debug_flags_ok },
};

/* A request for another kind of handle is left to fail with -ENOTTY. */
int rk_check_arg(enum rk_kind kind, uint32_t request, const void *arg)
{
    for (size_t i = 0; i < sizeof(rk_checks) / sizeof(rk_checks[0]); i++) {
        if (rk_checks[i].request == request && rk_checks[i].kind == kind) {
            return rk_checks[i].ok(arg) ? 0 : -EINVAL;
        }
    }
    return 0;
}

int rk_check_run_area(const struct revirt_run *run)
{
    return RK_ZERO(run->reserved_in) && run->request_interrupt_window <= 1 ?
           0 : -EINVAL;
}
