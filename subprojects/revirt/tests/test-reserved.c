/*
 * revirt-kvm: a reserved field that is not zero fails every call that
 * reads it with -EINVAL, and the call changes nothing.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "rk-test.h"

#define RWX (REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC)

GUEST_PROGRAM(out_prog, "mov $0x5a, %al\n out %al, $0x10\n hlt\n");

static void test_vm_and_vcpu_create(void)
{
    struct revirt_vm_create vc = { .reserved = 1 };
    struct revirt_vcpu_create cc;
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(rk_call(t.sys, REVIRT_CREATE_VM, &vc) == -EINVAL);
    vc = (struct revirt_vm_create) { .flags = 1 };
    g_assert(rk_call(t.sys, REVIRT_CREATE_VM, &vc) == -EINVAL);

    cc = (struct revirt_vcpu_create) {
        .vcpu_id = 1, .flags = 1,
        .run_area = (uintptr_t)rk_test_alloc(t.caps.run_area_size),
        .run_area_size = t.caps.run_area_size,
    };
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.flags = 0;
    g_assert(rk_close(rk_call(t.vm, REVIRT_CREATE_VCPU,
                                              &cc)) == 0);
    rk_test_free((void *)(uintptr_t)cc.run_area, t.caps.run_area_size);
    rk_test_vm_destroy(&t);
}

static void test_memory(void)
{
    struct revirt_memory_unmap u = { .gpa = 0, .size = 0x1000 };
    struct revirt_memory_map m;
    RkTestVm t;

    rk_test_vm_init(&t);
    m = (struct revirt_memory_map) {
        .gpa = 0x100000, .size = 0x1000, .prot = RWX, .flags = 1,
        .hva = (uintptr_t)t.ram,
    };
    g_assert(rk_call(t.vm, REVIRT_MAP_MEMORY, &m) == -EINVAL);

    u.flags = 1;
    g_assert(rk_call(t.vm, REVIRT_UNMAP_MEMORY, &u) == -EINVAL);
    u.flags = 0;
    u.reserved = 1;
    g_assert(rk_call(t.vm, REVIRT_UNMAP_MEMORY, &u) == -EINVAL);

    /* Nothing was unmapped: the guest still runs from that page. */
    rk_test_load(&t, out_prog_start, out_prog_end);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);
    rk_test_vm_destroy(&t);
}

/* A bad run area fails the run before the guest runs an instruction. */
static void test_run_area(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, out_prog_start, out_prog_end);
    for (size_t i = 0; i < sizeof(t.run->reserved_in); i++) {
        t.run->reserved_in[i] = 1;
        g_assert(rk_call(t.vcpu, REVIRT_RUN, NULL) == -EINVAL);
        t.run->reserved_in[i] = 0;
    }
    t.run->request_interrupt_window = 2;
    g_assert(rk_call(t.vcpu, REVIRT_RUN, NULL) == -EINVAL);
    t.run->request_interrupt_window = 0;
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);
    rk_test_vm_destroy(&t);
}

static void test_cpuid(void)
{
    struct revirt_cpuid_table *table = g_new0(struct revirt_cpuid_table, 1);
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(rk_call(t.sys, REVIRT_GET_SUPPORTED_CPUID, table) == 0);
    g_assert(table->count > 1 && table->flags == 0);
    g_assert(table->count < REVIRT_MAX_CPUID_ENTRIES);

    table->flags = 1;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == -EINVAL);
    table->flags = 0;
    table->entries[table->count - 1].reserved = 1;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == -EINVAL);
    table->entries[table->count - 1].reserved = 0;
    table->entries[0].flags |= 2;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == -EINVAL);
    table->entries[0].flags &= ~2u;

    /* Entries past count are not read. */
    table->entries[table->count].reserved = 1;
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, table) == 0);
    g_free(table);
    rk_test_vm_destroy(&t);
}

static int get_state(RkTestVm *t, struct revirt_vcpu_state *st)
{
    return rk_call(t->vcpu, REVIRT_GET_STATE, st);
}

static int set_state(RkTestVm *t, struct revirt_vcpu_state *st)
{
    return rk_call(t->vcpu, REVIRT_SET_STATE, st);
}

static void test_state(void)
{
    const uint64_t classes = REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS |
                             REVIRT_STATE_DTABLES | REVIRT_STATE_EVENTS |
                             REVIRT_STATE_MSRS;
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_vcpu_state *back = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_segment *seg = &st->segments.cs;
    RkTestVm t;

    rk_test_vm_init(&t);
    st->classes = classes;
    st->msrs.count = 1;
    st->msrs.entries[0].index = 0x174;      /* SYSENTER_CS */
    g_assert(get_state(&t, st) == 0);
    g_assert(seg[0].reserved == 0 && st->events.reserved[0] == 0);

    st->flags = 1;
    g_assert(get_state(&t, st) == -EINVAL);
    g_assert(set_state(&t, st) == -EINVAL);
    st->flags = 0;
    st->msrs.reserved = 1;
    g_assert(get_state(&t, st) == -EINVAL);
    g_assert(set_state(&t, st) == -EINVAL);
    st->msrs.reserved = 0;
    st->msrs.entries[0].reserved = 1;
    g_assert(get_state(&t, st) == -EINVAL);
    g_assert(set_state(&t, st) == -EINVAL);
    st->msrs.entries[0].reserved = 0;

    /* A failed SET writes no class, not even the REGS before the bad one. */
    st->regs.rip = 0x1234;
    for (size_t i = 0; i < sizeof(st->segments) / sizeof(*seg); i++) {
        seg[i].reserved = 1;
        g_assert(set_state(&t, st) == -EINVAL);
        seg[i].reserved = 0;
    }
    st->dtables.idt.reserved[2] = 1;
    g_assert(set_state(&t, st) == -EINVAL);
    st->dtables.idt.reserved[2] = 0;
    st->events.reserved[3] = 1;
    g_assert(set_state(&t, st) == -EINVAL);
    back->classes = REVIRT_STATE_REGS;
    g_assert(get_state(&t, back) == 0 && back->regs.rip == 0xfff0);

    /* A class not named is not read. */
    st->classes = REVIRT_STATE_REGS;
    g_assert(set_state(&t, st) == 0);
    g_assert(get_state(&t, back) == 0 && back->regs.rip == 0x1234);
    g_free(st);
    g_free(back);
    rk_test_vm_destroy(&t);
}

static void test_inject(void)
{
    static const struct revirt_event bad[] = {
        { .type = REVIRT_EVENT_EXTINT, .vector = 0x20, .flags = 2 },
        { .type = REVIRT_EVENT_EXTINT, .vector = 0x20, .error_code = 1 },
        { .type = REVIRT_EVENT_EXTINT, .vector = 0x20,
          .flags = REVIRT_EVENT_FLAG_ERROR_CODE },
        { .type = REVIRT_EVENT_NMI, .vector = 2 },
        { .type = REVIRT_EVENT_NMI, .error_code = 1 },
        { .type = REVIRT_EVENT_NMI, .flags = REVIRT_EVENT_FLAG_ERROR_CODE },
        { .type = REVIRT_EVENT_EXCEPTION, .vector = 6, .error_code = 1 },
        { .type = REVIRT_EVENT_EXCEPTION, .vector = 6, .flags = 2 },
    };
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, out_prog_start, out_prog_end);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct revirt_event ev = bad[i];

        g_assert(rk_call(t.vcpu, REVIRT_INJECT, &ev) == -EINVAL);
    }

    /* Nothing was made pending. */
    st->classes = REVIRT_STATE_EVENTS;
    g_assert(get_state(&t, st) == 0);
    g_assert(!st->events.nmi_pending && !st->events.exception_pending &&
             !st->events.interrupt_pending);
    g_free(st);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/reserved/create", test_vm_and_vcpu_create);
    g_test_add_func("/revirt-kvm/reserved/memory", test_memory);
    g_test_add_func("/revirt-kvm/reserved/run-area", test_run_area);
    g_test_add_func("/revirt-kvm/reserved/cpuid", test_cpuid);
    g_test_add_func("/revirt-kvm/reserved/state", test_state);
    g_test_add_func("/revirt-kvm/reserved/inject", test_inject);
    return g_test_run();
}
