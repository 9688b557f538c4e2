/*
 * revirt-kvm: every state class reads back what was set.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "rk-test.h"

static struct revirt_vcpu_state *get(RkTestVm *t, uint64_t classes)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

    st->classes = classes;
    g_assert(rk_call(t->vcpu, REVIRT_GET_STATE, st) == 0);
    return st;
}

static void set(RkTestVm *t, struct revirt_vcpu_state *st, uint64_t classes)
{
    st->classes = classes;
    g_assert(rk_call(t->vcpu, REVIRT_SET_STATE, st) == 0);
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
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, back) == 0);

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

/* How far the vCPU's TSC runs on in @ms milliseconds; leaves it in @st. */
static uint64_t tsc_ticks(RkTestVm *t, struct revirt_vcpu_state *st,
                          unsigned ms)
{
    uint64_t before;

    st->classes = REVIRT_STATE_TSC;
    g_assert(rk_call(t->vcpu, REVIRT_GET_STATE, st) == 0);
    before = st->tsc;
    g_usleep(ms * 1000);
    g_assert(rk_call(t->vcpu, REVIRT_GET_STATE, st) == 0);
    g_assert(st->tsc > before);
    return st->tsc - before;
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
    tsc_ticks(&t, st, 10);
    before = st->tsc;

    st->tsc = target;
    set(&t, st, REVIRT_STATE_TSC);
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    if (st->tsc >= before && st->tsc - before < minute) {
        g_test_skip("this host ignores guest TSC writes (PVM)");
    } else {
        g_assert(st->tsc >= target);
        g_assert((st->tsc - target) < minute);
    }
    g_free(st);
    rk_test_vm_destroy(&t);
}

/*
 * A TSC set soon after the vCPU's creation, to a value near what it reads,
 * still lands where it was set (a guest migrated into a VM created just
 * after its source): KVM before Linux 6.8 takes such a value as a try to
 * keep vCPUs in step and keeps the old offset.
 */
static void test_tsc_soon_after_create(void)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    uint64_t per_100ms, target;
    RkTestVm t;

    rk_test_vm_init(&t);
    per_100ms = tsc_ticks(&t, st, 100);

    /* 400 ms ahead: well inside KVM's one-second window */
    target = st->tsc + 4 * per_100ms;
    st->tsc = target;
    set(&t, st, REVIRT_STATE_TSC);
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == 0);
    g_test_message("set %" PRIu64 ", read %" PRIu64, target, st->tsc);
    g_assert(st->tsc >= target);
    g_assert(st->tsc - target < 10 * per_100ms);
    g_free(st);
    rk_test_vm_destroy(&t);
}

static void test_bad_requests(void)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);
    RkTestVm t;

    rk_test_vm_init(&t);
    st->classes = 1ull << 40;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == -ENOTSUP);
    st->classes = REVIRT_STATE_REGS;
    st->flags = 1;
    g_assert(rk_call(t.vcpu, REVIRT_SET_STATE, st) == -EINVAL);
    st->flags = 0;
    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    st->msrs.entries[0].index = 0xdeadbeef;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == -EINVAL);
    st->msrs.count = REVIRT_MAX_STATE_MSRS + 1;
    g_assert(rk_call(t.vcpu, REVIRT_GET_STATE, st) == -EINVAL);
    g_free(st);
    rk_test_vm_destroy(&t);
}

static bool msr_listed(RkTestVm *t, uint32_t index)
{
    g_autofree struct revirt_msr_index_list *list =
        g_new0(struct revirt_msr_index_list, 1);

    g_assert(rk_call(t->sys, REVIRT_GET_SUPPORTED_MSRS, list) == 0);
    for (uint32_t i = 0; i < list->count; i++) {
        if (list->indices[i] == index) {
            return true;
        }
    }
    return false;
}

static int msr_get(RkTestVm *t, uint32_t index, uint64_t *value)
{
    g_autofree struct revirt_vcpu_state *st =
        g_new0(struct revirt_vcpu_state, 1);
    int ret;

    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    st->msrs.entries[0].index = index;
    ret = rk_call(t->vcpu, REVIRT_GET_STATE, st);
    *value = st->msrs.entries[0].value;
    return ret;
}

static int msr_set(RkTestVm *t, uint32_t index, uint64_t value)
{
    g_autofree struct revirt_vcpu_state *st =
        g_new0(struct revirt_vcpu_state, 1);

    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    st->msrs.entries[0].index = index;
    st->msrs.entries[0].value = value;
    return rk_call(t->vcpu, REVIRT_SET_STATE, st);
}

static void set_supported_cpuid(RkTestVm *t)
{
    g_autofree struct revirt_cpuid_table *cpuid =
        g_new0(struct revirt_cpuid_table, 1);

    g_assert(rk_call(t->sys, REVIRT_GET_SUPPORTED_CPUID, cpuid) == 0);
    g_assert(rk_call(t->vcpu, REVIRT_SET_CPUID, cpuid) == 0);
}

/* EDX of the driver's supported CPUID leaf (index 0), 0 if absent. */
static uint32_t supported_cpuid_edx(RkTestVm *t, uint32_t function)
{
    struct revirt_cpuid_table *cpuid = g_new0(struct revirt_cpuid_table, 1);
    uint32_t edx = 0;

    g_assert(rk_call(t->sys, REVIRT_GET_SUPPORTED_CPUID, cpuid) == 0);
    for (uint32_t i = 0; i < cpuid->count; i++) {
        if (cpuid->entries[i].function == function &&
            cpuid->entries[i].index == 0) {
            edx = cpuid->entries[i].edx;
        }
    }
    g_free(cpuid);
    return edx;
}

/* The MSRs QEMU migrates: every one the driver lists reads back as set. */
static void test_msrs(void)
{
    static const struct {
        uint32_t index;
        uint64_t value;
    } msrs[] = {
        { 0x277, 0x0007040600070406ull },   /* PAT */
        { 0x2ff, 0xc06 },                   /* MTRRdefType: E, FE, WB */
        { 0x250, 0x0606060606060606ull },   /* MTRRfix64K_00000 */
        { 0x26f, 0x0505050505050505ull },   /* MTRRfix4K_F8000 */
        { 0x20e, 0x80000006 },              /* MTRRphysBase7 */
        { 0x20f, 0xff80000800ull },         /* MTRRphysMask7 */
        { 0xc0000103, 0x12345678 },         /* TSC_AUX */
        { 0x1a0, 0x1 },                     /* MISC_ENABLE: fast strings */
        { 0x3b, 0x10000 },                  /* TSC_ADJUST */
        { 0x17a, 0x5 },                     /* MCG_STATUS: RIPV, MCIP */
    };
    RkTestVm t;
    unsigned tested = 0;
    bool mtrr;

    rk_test_vm_init(&t);
    set_supported_cpuid(&t);
    mtrr = supported_cpuid_edx(&t, 1) & (1u << 12);
    /* QEMU migrates MTRRs: listed whenever CPUID has them. */
    if (mtrr) {
        g_assert(msr_listed(&t, 0x2ff));
        g_assert(msr_listed(&t, 0x20f));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(msrs); i++) {
        uint64_t value;

        if (!msr_listed(&t, msrs[i].index)) {
            g_test_message("MSR 0x%x not listed by this driver", msrs[i].index);
            continue;
        }
        g_assert(msr_set(&t, msrs[i].index, msrs[i].value) == 0);
        g_assert(msr_get(&t, msrs[i].index, &value) == 0);
        g_assert(value == msrs[i].value);
        tested++;
    }
    /* PAT at least; with MTRRs, those too. */
    g_assert(tested >= (mtrr ? 7 : 1));
    rk_test_vm_destroy(&t);
}

/* MCG_CAP configures the banks; a bank then holds a machine-check record. */
static void test_mce(void)
{
    const uint32_t mcg_cap = 0x179, mc0_ctl = 0x400;
    const uint64_t status = 0xb200000000000000ull;
    uint64_t offered, value;
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!msr_listed(&t, mcg_cap)) {
        g_assert(msr_get(&t, mcg_cap, &value) == -EINVAL);
        g_test_skip("the driver does not list MCG_CAP: no machine check");
        rk_test_vm_destroy(&t);
        return;
    }
    g_assert(msr_get(&t, mcg_cap, &offered) == 0);
    g_assert((offered & 0xff) >= 10);

    /* More banks, or bits, than offered: refused. */
    g_assert(msr_set(&t, mcg_cap, (offered & 0xff) + 1) == -EINVAL);
    g_assert(msr_set(&t, mcg_cap, 0) == -EINVAL);
    g_assert(msr_set(&t, mcg_cap, (offered & ~0xffull) | 10) == 0);
    g_assert(msr_get(&t, mcg_cap, &value) == 0);
    g_assert(value == ((offered & ~0xffull) | 10));

    g_assert(msr_get(&t, mc0_ctl + 4 * 9, &value) == 0);
    g_assert(value == ~0ull);
    g_assert(msr_get(&t, mc0_ctl + 4 * 1 + 1, &value) == 0);
    g_assert(value == 0);
    g_assert(msr_set(&t, mc0_ctl + 4 * 1 + 1, status) == 0);
    g_assert(msr_get(&t, mc0_ctl + 4 * 1 + 1, &value) == 0);
    g_assert(value == status);
    g_assert(msr_set(&t, mc0_ctl + 4 * 1 + 2, 0x1000) == 0);
    g_assert(msr_get(&t, mc0_ctl + 4 * 1 + 2, &value) == 0);
    g_assert(value == 0x1000);
    /* No bank 10. */
    g_assert(msr_get(&t, mc0_ctl + 4 * 10 + 1, &value) == -EINVAL);

    /* Setting it again starts the banks afresh. */
    g_assert(msr_set(&t, mcg_cap, (offered & ~0xffull) | 10) == 0);
    g_assert(msr_get(&t, mc0_ctl + 4 * 1 + 1, &value) == 0);
    g_assert(value == 0);
    rk_test_vm_destroy(&t);
}

GUEST_PROGRAM(hlt_prog, "hlt");

static void test_mce_after_run(void)
{
    const uint32_t mcg_cap = 0x179;
    uint64_t value;
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!msr_listed(&t, mcg_cap)) {
        g_test_skip("the driver does not list MCG_CAP: no machine check");
        rk_test_vm_destroy(&t);
        return;
    }
    g_assert(msr_set(&t, mcg_cap, 10) == 0);
    rk_test_load(&t, hlt_prog_start, hlt_prog_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(msr_get(&t, mcg_cap, &value) == 0);
    g_assert(value == 10);
    g_assert(msr_set(&t, mcg_cap, 10) == 0);
    g_assert(msr_set(&t, mcg_cap, 9) == -EINVAL);
    rk_test_vm_destroy(&t);
}

/* Standard-format XSAVE offsets, from the driver's CPUID leaf 0xD. */
static bool xsave_component(RkTestVm *t, uint32_t i, uint32_t *offset,
                            uint32_t *size)
{
    g_autofree struct revirt_cpuid_table *cpuid =
        g_new0(struct revirt_cpuid_table, 1);

    g_assert(rk_call(t->sys, REVIRT_GET_SUPPORTED_CPUID, cpuid) == 0);
    for (uint32_t j = 0; j < cpuid->count; j++) {
        const struct revirt_cpuid_entry *e = &cpuid->entries[j];

        if (e->function == 0xd && e->index == i && e->eax) {
            *size = e->eax;
            *offset = e->ebx;
            return true;
        }
    }
    return false;
}

static void test_xsave(void)
{
    struct revirt_xsave x = { 0 };
    uint32_t avx_offset, avx_size;
    uint64_t xstate_bv, xcr0 = 3;
    g_autofree uint8_t *area = NULL, *back = NULL;
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!(t.caps.features & REVIRT_FEATURE_XSAVE)) {
        g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == -ENOTSUP);
        g_test_skip("the driver reports no REVIRT_FEATURE_XSAVE "
                    "(the host offers no XSAVE in CPUID leaf 1)");
        rk_test_vm_destroy(&t);
        return;
    }
    g_assert(t.caps.xsave_size >= 576);
    set_supported_cpuid(&t);
    area = g_malloc0(t.caps.xsave_size);
    back = g_malloc0(t.caps.xsave_size);
    x.area = (uintptr_t)area;
    x.size = t.caps.xsave_size - 1;
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == -EINVAL);
    x.size = t.caps.xsave_size;

    /* A new vCPU: XCR0 1, FCW 0x037f, MXCSR 0x1f80. */
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == 0);
    g_assert(x.xcr0 == 1);
    g_assert((area[0] | area[1] << 8) == 0x037f);
    g_assert((area[24] | area[25] << 8) == 0x1f80);

    memset(area, 0, t.caps.xsave_size);
    area[0] = 0x7f;
    area[1] = 0x03;
    area[24] = 0x80;
    area[25] = 0x1f;
    for (int i = 0; i < 16; i++) {
        area[160 + i] = 0xa0 + i;               /* XMM0 */
    }
    xstate_bv = 3;
    if (xsave_component(&t, 2, &avx_offset, &avx_size)) {
        for (int i = 0; i < 16; i++) {
            area[avx_offset + i] = 0xb0 + i;    /* YMM0 upper half */
        }
        xstate_bv |= 4;
        xcr0 |= 4;
    }
    memcpy(area + 512, &xstate_bv, sizeof(xstate_bv));
    x.xcr0 = xcr0;
    g_assert(rk_call(t.vcpu, REVIRT_SET_XSAVE, &x) == 0);

    x.area = (uintptr_t)back;
    x.xcr0 = 0;
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == 0);
    g_assert(x.xcr0 == xcr0);
    g_assert(!memcmp(back + 160, area + 160, 16));
    if (xcr0 & 4) {
        g_assert(!memcmp(back + avx_offset, area + avx_offset, 16));
    }

    /* An invalid XCR0 (AVX without SSE) changes nothing. */
    x.area = (uintptr_t)area;
    x.xcr0 = 5;
    g_assert(rk_call(t.vcpu, REVIRT_SET_XSAVE, &x) == -EINVAL);
    x.area = (uintptr_t)back;
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == 0);
    g_assert(x.xcr0 == xcr0);

    /* XSTATE_BV without SSE: XMM0 goes back to its initial state. */
    xstate_bv = 1;
    memcpy(area + 512, &xstate_bv, sizeof(xstate_bv));
    x.area = (uintptr_t)area;
    x.xcr0 = xcr0;
    g_assert(rk_call(t.vcpu, REVIRT_SET_XSAVE, &x) == 0);
    x.area = (uintptr_t)back;
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == 0);
    for (int i = 0; i < 16; i++) {
        g_assert(back[160 + i] == 0);
    }
    rk_test_vm_destroy(&t);
}

/*
 * A CPU model without XSAVE still has SSE: the area carries MXCSR and the
 * XMM registers both ways (QEMU's savevm of a qemu64 guest goes through it).
 */
static void test_xsave_without_cpuid_xsave(void)
{
    g_autofree struct revirt_cpuid_table *cpuid =
        g_new0(struct revirt_cpuid_table, 1);
    g_autofree struct revirt_vcpu_state *st = NULL;
    struct revirt_xsave x = { 0 };
    g_autofree uint8_t *area = NULL;
    const uint32_t mxcsr = 0x9fc0;
    uint64_t xstate_bv;
    RkTestVm t;

    rk_test_vm_init(&t);
    if (!(t.caps.features & REVIRT_FEATURE_XSAVE)) {
        g_test_skip("the driver reports no REVIRT_FEATURE_XSAVE");
        rk_test_vm_destroy(&t);
        return;
    }
    /* Leaf 1 with FXSR, SSE and SSE2 only: no XSAVE, no leaf 0xD. */
    cpuid->count = 1;
    cpuid->entries[0].function = 1;
    cpuid->entries[0].edx = (1u << 24) | (1u << 25) | (1u << 26);
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, cpuid) == 0);

    st = get(&t, REVIRT_STATE_FPU);
    memcpy(st->fpu.fxsave + 24, &mxcsr, sizeof(mxcsr));
    for (int i = 0; i < 16; i++) {
        st->fpu.fxsave[160 + i] = 0xc0 + i;     /* XMM0 */
    }
    set(&t, st, REVIRT_STATE_FPU);

    area = g_malloc0(t.caps.xsave_size);
    x.area = (uintptr_t)area;
    x.size = t.caps.xsave_size;
    g_assert(rk_call(t.vcpu, REVIRT_GET_XSAVE, &x) == 0);
    memcpy(&xstate_bv, area + 512, sizeof(xstate_bv));
    g_assert(xstate_bv & 2);
    g_assert(!memcmp(area + 24, &mxcsr, sizeof(mxcsr)));
    g_assert(!memcmp(area + 160, st->fpu.fxsave + 160, 16));

    /* Back through SET_XSAVE after a change: the FPU class sees it. */
    memset(st->fpu.fxsave, 0, sizeof(st->fpu.fxsave));
    set(&t, st, REVIRT_STATE_FPU);
    g_assert(rk_call(t.vcpu, REVIRT_SET_XSAVE, &x) == 0);
    g_free(st);
    st = get(&t, REVIRT_STATE_FPU);
    g_assert(!memcmp(st->fpu.fxsave + 24, &mxcsr, sizeof(mxcsr)));
    g_assert(!memcmp(st->fpu.fxsave + 160, area + 160, 16));
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/state/round-trip", test_round_trip);
    g_test_add_func("/revirt-kvm/state/tsc", test_tsc);
    g_test_add_func("/revirt-kvm/state/tsc-soon-after-create",
                    test_tsc_soon_after_create);
    g_test_add_func("/revirt-kvm/state/bad-requests", test_bad_requests);
    g_test_add_func("/revirt-kvm/state/msrs", test_msrs);
    g_test_add_func("/revirt-kvm/state/mce", test_mce);
    g_test_add_func("/revirt-kvm/state/mce-after-run", test_mce_after_run);
    g_test_add_func("/revirt-kvm/state/xsave", test_xsave);
    g_test_add_func("/revirt-kvm/state/xsave-without-cpuid-xsave",
                    test_xsave_without_cpuid_xsave);
    return g_test_run();
}
