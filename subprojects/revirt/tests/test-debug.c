/*
 * revirt-kvm driver tests: guest debugging (REVIRT_SET_GUEST_DEBUG,
 * REVIRT_EXIT_DEBUG).
 *
 * Software breakpoints are tested in the lab (tests/lab/gdb-check.py):
 * on a PVM host an INT3 under KVM's guest debugging fails as an emulation
 * error, also for QEMU's own KVM accelerator.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include "rk-test.h"

#define DR6_BS (1u << 14)
#define X86_TF (1u << 8)

/* Three one-byte instructions, a two-byte one, an OUT, a HLT. */
GUEST_PROGRAM(step_prog,
              "nop\n nop\n inc %bx\n mov $0x42, %al\n out %al, $0x10\n"
              "hlt\n");

static gboolean has_guest_debug(RkTestVm *t)
{
    if (!(t->caps.features & REVIRT_FEATURE_GUEST_DEBUG)) {
        g_test_skip("the driver has no guest debugging");
        return FALSE;
    }
    g_assert(t->caps.exits & (1ull << REVIRT_EXIT_DEBUG));
    return TRUE;
}

static int set_debug(RkTestVm *t, uint32_t flags, uint64_t dr0, uint64_t dr7)
{
    struct revirt_guest_debug dbg = {
        .flags = flags, .dr = { dr0 }, .dr7 = dr7,
    };

    return rk_call(t->vcpu, REVIRT_SET_GUEST_DEBUG, &dbg);
}

static void test_reserved(void)
{
    struct revirt_guest_debug dbg = { 0 };
    RkTestVm t;

    rk_test_vm_init(&t);
    if (has_guest_debug(&t)) {
        dbg.flags = 1u << 3;
        g_assert(rk_call(t.vcpu, REVIRT_SET_GUEST_DEBUG,
                                 &dbg) == -EINVAL);
        dbg.flags = REVIRT_DEBUG_SINGLESTEP;
        dbg.reserved = 1;
        g_assert(rk_call(t.vcpu, REVIRT_SET_GUEST_DEBUG,
                                 &dbg) == -EINVAL);
        /* Debug registers only with HW_BP. */
        g_assert(set_debug(&t, REVIRT_DEBUG_SINGLESTEP, 0x1000, 0) == -EINVAL);
        g_assert(set_debug(&t, 0, 0, 0x401) == -EINVAL);
        g_assert(set_debug(&t, 0, 0, 0) == 0);
    }
    rk_test_vm_destroy(&t);
}

/*
 * Each run is one instruction, also when the VMM puts the registers back
 * between steps (as QEMU does after gdb read them).
 */
static void test_single_step(void)
{
    static const uint64_t pcs[] = { 0x1001, 0x1002, 0x1003, 0x1005 };
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!has_guest_debug(&t)) {
        g_free(st);
        rk_test_vm_destroy(&t);
        return;
    }
    rk_test_load(&t, step_prog_start, step_prog_end);
    g_assert(set_debug(&t, REVIRT_DEBUG_SINGLESTEP, 0, 0) == 0);
    for (size_t i = 0; i < G_N_ELEMENTS(pcs); i++) {
        g_assert(rk_test_run(&t) == REVIRT_EXIT_DEBUG);
        g_assert(t.run->debug.exception == 1);
        g_assert(t.run->debug.dr6 & DR6_BS);
        g_assert(t.run->debug.pc == pcs[i]);
        st->classes = REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS;
        g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
        g_assert(!(st->regs.rflags & X86_TF));
        g_assert(rk_call(t.vcpu, REVIRT_SET_STATE, st) == 0);
    }
    g_free(st);

    /*
     * Off again: the guest runs on to its OUT and HLT.  (Not stepped: the
     * step that completes an OUT ends after the next instruction on a PVM
     * host, a host quirk this test cannot tell from a driver bug.)
     */
    g_assert(set_debug(&t, 0, 0, 0) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

/* An instruction breakpoint in DR0: the exit comes before the instruction. */
static void test_hw_breakpoint(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!has_guest_debug(&t)) {
        rk_test_vm_destroy(&t);
        return;
    }
    rk_test_load(&t, step_prog_start, step_prog_end);
    /* DR0 enabled (L0, G0), execute, one byte; GE and bit 10. */
    g_assert(set_debug(&t, REVIRT_DEBUG_HW_BP, 0x1003, 0x603) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_DEBUG);
    g_assert(t.run->debug.exception == 1);
    g_assert((t.run->debug.dr6 & 0xf) == 1);
    g_assert(t.run->debug.pc == 0x1003);
    /* Each run hits it again; without it, the guest goes on. */
    g_assert(rk_test_run(&t) == REVIRT_EXIT_DEBUG);
    g_assert(t.run->debug.pc == 0x1003);
    g_assert(set_debug(&t, 0, 0, 0) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/debug/reserved", test_reserved);
    g_test_add_func("/revirt-kvm/debug/single-step", test_single_step);
    g_test_add_func("/revirt-kvm/debug/hw-breakpoint", test_hw_breakpoint);
    return g_test_run();
}
