/*
 * revirt-kvm: CPU hot-unplug and hot-plug.  A closed vCPU's id can be
 * created again, and the new vCPU starts in the reset state, whatever the
 * old one did; closing a vCPU while another thread runs it is safe.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <pthread.h>
#include <string.h>

#include "rk-test.h"

#define VCPU_ID 3

/* Report on port 0x10, then read port 0x12 and halt. */
GUEST_PROGRAM(io_prog,
    "mov $0x77, %bx\n mov $0x5a, %al\n out %al, $0x10\n"
    "in $0x12, %al\n hlt\n");

GUEST_PROGRAM(spin_prog, "1: jmp 1b\n");

static void load(RkTestVm *t, const uint8_t *start, const uint8_t *end)
{
    memcpy(t->ram + RK_TEST_CODE_GPA, start, end - start);
}

/* The state of every class but the TSC, with the MSRs it can read. */
static struct revirt_vcpu_state *get_all(RkTestVm *t, int vcpu,
                                         const struct revirt_msrs *msrs)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

    st->classes = t->caps.state_classes & ~REVIRT_STATE_TSC;
    st->msrs = *msrs;
    g_assert(rk_call(vcpu, REVIRT_GET_STATE, st) == 0);
    return st;
}

/*
 * The listed MSRs a new vCPU can read and write back, but the TSC's and
 * MCG_CAP, which configures the vCPU (writing it sets up the banks).
 */
static void readable_msrs(RkTestVm *t, int vcpu, struct revirt_msrs *msrs)
{
    struct revirt_msr_index_list *list = g_new0(struct revirt_msr_index_list,
                                                1);
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

    g_assert(rk_call(t->sys, REVIRT_GET_SUPPORTED_MSRS, list) == 0);
    memset(msrs, 0, sizeof(*msrs));
    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    for (uint32_t i = 0; i < list->count; i++) {
        if (msrs->count == REVIRT_MAX_STATE_MSRS) {
            break;
        }
        st->msrs.entries[0].index = list->indices[i];
        if (list->indices[i] != 0x10 && list->indices[i] != 0x3b &&
            list->indices[i] != 0x179 &&
            rk_call(vcpu, REVIRT_GET_STATE, st) == 0 &&
            rk_call(vcpu, REVIRT_SET_STATE, st) == 0) {
            msrs->entries[msrs->count++].index = list->indices[i];
        }
    }
    g_assert(msrs->count > 0);
    g_free(list);
    g_free(st);
}

/* Change every class from what a new vCPU has. */
static void scribble(RkTestVm *t, int vcpu, const struct revirt_msrs *msrs)
{
    struct revirt_vcpu_state *st = get_all(t, vcpu, msrs);

    for (int i = 0; i < 16; i++) {
        (&st->regs.rax)[i] = 0x0101010101010101ull * (i + 1);
    }
    st->segments.fs.base = 0x43210;
    st->segments.fs.selector = 0x4321;
    st->control.cr2 = 0xdeadb000;
    st->dtables.idt.base = 0x800;
    st->fpu.fxsave[160] = 0xa5;         /* XMM0 */
    st->debugregs.dr[0] = 0x1000;
    st->debugregs.dr7 = 0x401;
    st->events.nmi_masked = 1;
    for (uint32_t i = 0; i < st->msrs.count; i++) {
        if (st->msrs.entries[i].index == 0x174) {   /* SYSENTER_CS */
            st->msrs.entries[i].value = 0x10;
        }
    }
    g_assert(rk_call(vcpu, REVIRT_SET_STATE, st) == 0);
    g_free(st);
}

static void assert_same_state(const struct revirt_vcpu_state *a,
                              const struct revirt_vcpu_state *b)
{
    g_assert(!memcmp(&a->regs, &b->regs, sizeof(a->regs)));
    g_assert(!memcmp(&a->segments, &b->segments, sizeof(a->segments)));
    g_assert(!memcmp(&a->control, &b->control, sizeof(a->control)));
    g_assert(!memcmp(&a->dtables, &b->dtables, sizeof(a->dtables)));
    g_assert(!memcmp(&a->fpu, &b->fpu, sizeof(a->fpu)));
    g_assert(!memcmp(&a->events, &b->events, sizeof(a->events)));
    g_assert(!memcmp(&a->debugregs, &b->debugregs, sizeof(a->debugregs)));
    g_assert(a->msrs.count == b->msrs.count);
    for (uint32_t i = 0; i < a->msrs.count; i++) {
        if (memcmp(&a->msrs.entries[i], &b->msrs.entries[i],
                   sizeof(a->msrs.entries[i]))) {
            g_test_message("MSR 0x%x: 0x%" G_GINT64_MODIFIER "x, then 0x%"
                           G_GINT64_MODIFIER "x", a->msrs.entries[i].index,
                           a->msrs.entries[i].value, b->msrs.entries[i].value);
        }
    }
    g_assert(!memcmp(a->msrs.entries, b->msrs.entries,
                     a->msrs.count * sizeof(a->msrs.entries[0])));
}

static void run_io_prog(RkTestVm *t, int vcpu, struct revirt_run *run)
{
    rk_test_set_entry(vcpu);
    g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
    g_assert(run->exit_reason == REVIRT_EXIT_IO);
    g_assert(run->io.port == 0x10 && run->io_data[0] == 0x5a);
    g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
    g_assert(run->exit_reason == REVIRT_EXIT_IO);
    g_assert(run->io.port == 0x12 && run->io.direction == REVIRT_IO_IN);
}

static void test_reuse_id(void)
{
    struct revirt_vcpu_state *fresh, *again;
    struct revirt_vcpu_create cc;
    struct revirt_run *run;
    void *area;
    struct revirt_msrs msrs;
    RkTestVm t;
    int vcpu;

    rk_test_vm_init(&t);
    load(&t, io_prog_start, io_prog_end);
    vcpu = rk_test_vcpu_new(&t, VCPU_ID, &run);
    readable_msrs(&t, vcpu, &msrs);
    fresh = get_all(&t, vcpu, &msrs);
    g_assert(fresh->regs.rip == 0xfff0);
    g_assert(fresh->segments.cs.base == 0xffff0000);

    /* Change everything, and close it in the middle of an IN. */
    scribble(&t, vcpu, &msrs);
    run_io_prog(&t, vcpu, run);
    rk_test_vcpu_free(&t, vcpu, run);

    vcpu = rk_test_vcpu_new(&t, VCPU_ID, &run);
    again = get_all(&t, vcpu, &msrs);
    assert_same_state(fresh, again);

    /* It runs again. */
    run_io_prog(&t, vcpu, run);
    run->io_data[0] = 0;
    g_assert(rk_call(vcpu, REVIRT_RUN, NULL) == 0);
    g_assert(run->exit_reason == REVIRT_EXIT_HLT);

    /* An id in use is still refused. */
    area = rk_test_alloc(t.caps.run_area_size);
    cc = (struct revirt_vcpu_create) {
        .vcpu_id = VCPU_ID, .run_area = (uintptr_t)area,
        .run_area_size = t.caps.run_area_size,
    };
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EEXIST);
    rk_test_free(area, t.caps.run_area_size);
    rk_test_vcpu_free(&t, vcpu, run);
    g_free(fresh);
    g_free(again);
    rk_test_vm_destroy(&t);
}

typedef struct Runner {
    int vcpu;
    struct revirt_run *run;
    int ret;
    gint returned;
} Runner;

static void *runner_thread(void *opaque)
{
    Runner *r = opaque;

    r->ret = rk_call(r->vcpu, REVIRT_RUN, NULL);
    g_atomic_int_set(&r->returned, 1);
    return NULL;
}

/* Closing the handle ends a run in progress; then the id is free. */
static void test_close_while_running(void)
{
    Runner r = { 0 };
    pthread_t thread;
    RkTestVm t;

    rk_test_vm_init(&t);
    load(&t, spin_prog_start, spin_prog_end);
    r.vcpu = rk_test_vcpu_new(&t, VCPU_ID, &r.run);
    rk_test_set_entry(r.vcpu);
    pthread_create(&thread, NULL, runner_thread, &r);
    g_usleep(20 * 1000);
    g_assert(rk_close(r.vcpu) == 0);

    for (int i = 0; i < 200 && !g_atomic_int_get(&r.returned); i++) {
        g_usleep(10 * 1000);
    }
    g_assert(g_atomic_int_get(&r.returned));
    pthread_join(thread, NULL);
    g_assert(r.ret == 0);
    g_assert(r.run->exit_reason == REVIRT_EXIT_INTERRUPTED);
    rk_test_free(r.run, t.caps.run_area_size);

    load(&t, io_prog_start, io_prog_end);
    r.vcpu = rk_test_vcpu_new(&t, VCPU_ID, &r.run);
    run_io_prog(&t, r.vcpu, r.run);
    rk_test_vcpu_free(&t, r.vcpu, r.run);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/hotplug/reuse-id", test_reuse_id);
    g_test_add_func("/revirt-kvm/hotplug/close-while-running",
                    test_close_while_running);
    return g_test_run();
}
