/*
 * revirt-kvm: one event of each type can be pending; a second one is
 * refused with -EBUSY and the first is the one the guest takes, also when
 * a run returns INTERRUPTED before entering the guest.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include "rk-test.h"

/* Each handler reports its vector on port 0x10; the main loop halts. */
#define HANDLER(vec, label) \
    "movw $(0x1000 + (" #label " - events_prog_start)), (" #vec " * 4)\n" \
    "movw $0, (" #vec " * 4 + 2)\n"

GUEST_PROGRAM(events_prog,
    "xor %ax, %ax\n mov %ax, %ds\n"
    HANDLER(0x20, h20) HANDLER(0x21, h21) HANDLER(2, h02) HANDLER(6, h06)
    "sti\n"
    "1: hlt\n jmp 1b\n"
    "h20: mov $0x20, %al\n out %al, $0x10\n iret\n"
    "h21: mov $0x21, %al\n out %al, $0x10\n iret\n"
    "h02: mov $0x02, %al\n out %al, $0x10\n iret\n"
    "h06: mov $0x06, %al\n out %al, $0x10\n iret\n");

static int inject(RkTestVm *t, uint32_t type, uint32_t vector)
{
    struct revirt_event ev = { .type = type, .vector = vector };

    return rk_call(t->vcpu, REVIRT_INJECT, &ev);
}

static void start(RkTestVm *t)
{
    rk_test_vm_init(t);
    rk_test_load(t, events_prog_start, events_prog_end);
    g_assert(rk_test_run(t) == REVIRT_EXIT_HLT);
    g_assert(t->run->ready_for_interrupt == 1);
}

static struct revirt_events get_events(RkTestVm *t)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_events ev;

    st->classes = REVIRT_STATE_EVENTS;
    g_assert(rk_call(t->vcpu, REVIRT_GET_STATE, st) == 0);
    ev = st->events;
    g_free(st);
    return ev;
}

static void test_extint_busy(void)
{
    RkTestVm t;

    start(&t);
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x20) == 0);
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x21) == -EBUSY);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x20);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);

    /* Taken, so no longer pending. */
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x21) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x21);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

/*
 * A run that returns INTERRUPTED without entering the guest leaves the
 * interrupt pending; setting the events class without it cancels it.
 */
static void test_extint_pending_state(void)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    struct revirt_events ev;
    RkTestVm t;

    start(&t);
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x20) == 0);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);
    g_assert(t.run->ready_for_interrupt == 0);
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x21) == -EBUSY);
    ev = get_events(&t);
    g_assert(ev.interrupt_pending == 1 && ev.interrupt_vector == 0x20);

    ev.interrupt_pending = 0;
    st->classes = REVIRT_STATE_EVENTS;
    st->events = ev;
    g_assert(rk_call(t.vcpu, REVIRT_SET_STATE, st) == 0);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);
    g_assert(t.run->ready_for_interrupt == 1);
    g_assert(inject(&t, REVIRT_EVENT_EXTINT, 0x21) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x21);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_free(st);
    rk_test_vm_destroy(&t);
}

static void test_nmi_busy(void)
{
    RkTestVm t;

    start(&t);
    g_assert(inject(&t, REVIRT_EVENT_NMI, 0) == 0);
    g_assert(inject(&t, REVIRT_EVENT_NMI, 0) == -EBUSY);
    g_assert(get_events(&t).nmi_pending == 1);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x02);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);   /* one NMI only */

    g_assert(inject(&t, REVIRT_EVENT_NMI, 0) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x02);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

static void test_exception_busy(void)
{
    RkTestVm t;

    start(&t);
    g_assert(inject(&t, REVIRT_EVENT_EXCEPTION, 6) == 0);
    g_assert(inject(&t, REVIRT_EVENT_EXCEPTION, 0) == -EBUSY);
    g_assert(get_events(&t).exception_pending == 1);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x06);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);

    /* #BP and #OF may be refused; if not, they obey the same rule. */
    if (inject(&t, REVIRT_EVENT_EXCEPTION, 3) != -ENOTSUP) {
        g_assert(get_events(&t).exception_pending == 1);
        g_assert(inject(&t, REVIRT_EVENT_EXCEPTION, 4) == -EBUSY);
    }
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/inject/extint-busy", test_extint_busy);
    g_test_add_func("/revirt-kvm/inject/extint-pending-state",
                    test_extint_pending_state);
    g_test_add_func("/revirt-kvm/inject/nmi-busy", test_nmi_busy);
    g_test_add_func("/revirt-kvm/inject/exception-busy",
                    test_exception_busy);
    return g_test_run();
}
