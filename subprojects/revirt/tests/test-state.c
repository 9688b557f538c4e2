/*
 * revirt-kvm: every state class reads back what was set.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "rk-test.h"

static struct revirt_vcpu_state *get(RkTestVm *t, uint64_t classes)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

    st->classes = classes;
    g_assert(revirt_kvm_call(t->vcpu, REVIRT_GET_STATE, st) == 0);
    return st;
}

static void set(RkTestVm *t, struct revirt_vcpu_state *st, uint64_t classes)
{
    st->classes = classes;
    g_assert(revirt_kvm_call(t->vcpu, REVIRT_SET_STATE, st) == 0);
}

static void test_round_trip(void)
{
    const uint32_t msr_sysenter_cs = 0x174, msr_sysenter_esp = 0x175;
    struct revirt_vcpu_state *st, *back;
    RkTestVm t;

    rk_test_vm_init(&t);
    st = get(&t, t.caps.state_classes);

    for (int i = 0; i < 16; i++) {
        (&st->regs.rax)[i] = 0x1111111111111111ull * (i + 1);
    }
    st->regs.rip = 0x1234;
    st->regs.rflags = 0x202;
    st->segments.ds.selector = 0x1234;
    st->segments.ds.base = 0x12340;
    st->segments.fs.selector = 0x4321;
    st->segments.fs.base = 0x43210;
    st->control.cr2 = 0xdeadb000;
    st->control.cr3 = 0x5000;
    st->dtables.gdt.base = 0x500;
    st->dtables.gdt.limit = 0x27;
    st->dtables.idt.base = 0x800;
    st->dtables.idt.limit = 0x3ff;
    st->fpu.fxsave[0] = 0x7f;   /* FCW 0x037f */
    st->fpu.fxsave[1] = 0x03;
    st->fpu.fxsave[24] = 0x80;  /* MXCSR 0x1f80 | FZ */
    st->fpu.fxsave[25] = 0x9f;
    for (int i = 0; i < 16; i++) {
        st->fpu.fxsave[160 + i] = 0xa0 + i;     /* XMM0 */
        st->fpu.fxsave[160 + 15 * 16 + i] = i;  /* XMM15 */
    }
    st->msrs.count = 2;
    st->msrs.entries[0].index = msr_sysenter_cs;
    st->msrs.entries[0].value = 0x10;
    st->msrs.entries[1].index = msr_sysenter_esp;
    st->msrs.entries[1].value = 0xfeedf00d;
    st->debugregs.dr[0] = 0x1000;
    st->debugregs.dr[3] = 0x4000;
    st->debugregs.dr7 = 0x401;
    st->events.nmi_masked = 1;
    st->events.interrupt_shadow = 1;
    st->tsc = 1000000000000ull;
    set(&t, st, t.caps.state_classes);

    back = get(&t, t.caps.state_classes & ~REVIRT_STATE_MSRS);
    back->classes = REVIRT_STATE_MSRS;
    back->msrs.count = 2;
    back->msrs.entries[0].index = msr_sysenter_cs;
    back->msrs.entries[1].index = msr_sysenter_esp;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, back) == 0);

    g_assert(!memcmp(&back->regs, &st->regs, sizeof(st->regs)));
    g_assert(!memcmp(&back->segments, &st->segments, sizeof(st->segments)));
    g_assert(back->control.cr2 == st->control.cr2);
    g_assert(back->control.cr3 == st->control.cr3);
    g_assert(back->control.cr0 == st->control.cr0);
    g_assert(!memcmp(&back->dtables, &st->dtables, sizeof(st->dtables)));
    g_assert(!memcmp(back->fpu.fxsave, st->fpu.fxsave, 32));
    g_assert(!memcmp(back->fpu.fxsave + 160, st->fpu.fxsave + 160, 256));
    g_assert(back->msrs.entries[0].value == 0x10);
    g_assert(back->msrs.entries[1].value == 0xfeedf00d);
    g_assert(!memcmp(back->debugregs.dr, st->debugregs.dr,
                     sizeof(st->debugregs.dr)));
    g_assert(back->debugregs.dr7 == 0x401);
    g_assert(back->events.nmi_masked == 1);
    g_assert(back->events.interrupt_shadow == 1);

    g_free(st);
    g_free(back);
    rk_test_vm_destroy(&t);
}

/*
 * The TSC runs, and a set lands where it was set.  PVM hosts accept guest
 * TSC writes but ignore them; the test says so and skips that check there.
 */
static void test_tsc(void)
{
    const uint64_t target = 1ull << 50, minute = 60ull * 10000000000ull;
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    uint64_t before;
    RkTestVm t;

    rk_test_vm_init(&t);
    st->classes = REVIRT_STATE_TSC;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    before = st->tsc;
    g_usleep(10 * 1000);
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    g_assert(st->tsc > before);
    before = st->tsc;

    st->tsc = target;
    set(&t, st, REVIRT_STATE_TSC);
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    if (st->tsc >= before && st->tsc - before < minute) {
        g_test_skip("this host ignores guest TSC writes (PVM)");
    } else {
        g_assert(st->tsc >= target);
        g_assert((st->tsc - target) < minute);
    }
    g_free(st);
    rk_test_vm_destroy(&t);
}

static void test_bad_requests(void)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    RkTestVm t;

    rk_test_vm_init(&t);
    st->classes = 1ull << 40;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == -ENOTSUP);
    st->classes = REVIRT_STATE_REGS;
    st->flags = 1;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_SET_STATE, st) == -EINVAL);
    st->flags = 0;
    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    st->msrs.entries[0].index = 0xdeadbeef;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == -EINVAL);
    st->msrs.count = REVIRT_MAX_STATE_MSRS + 1;
    g_assert(revirt_kvm_call(t.vcpu, REVIRT_GET_STATE, st) == -EINVAL);
    g_free(st);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/revirt-kvm/state/round-trip", test_round_trip);
    g_test_add_func("/revirt-kvm/state/tsc", test_tsc);
    g_test_add_func("/revirt-kvm/state/bad-requests", test_bad_requests);
    return g_test_run();
}
