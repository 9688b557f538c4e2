/*
 * QEMU revirt accelerator, x86: register state between QEMU and the driver.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/memalign.h"
#include "cpu.h"
#include "hw/i386/apic.h"
#include "sysemu/revirt.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

/*
 * The MSRs QEMU keeps in CPUX86State, one table walked both ways: the ones
 * QEMU's KVM code syncs, at the same levels (reset_only: put at reset and
 * full state, read always), where the driver supports them.
 */
enum {
    REVIRT_MSR_ALWAYS,
    REVIRT_MSR_MTRR,            /* the CPU model has MTRRs */
    REVIRT_MSR_MTRR_MASK,       /* the same, masked to the physical bits */
    REVIRT_MSR_MCE,             /* bank or MCG register below MCG_CAP */
    REVIRT_MSR_MCG_CTL,         /* MCG_CAP has MCG_CTL_P */
    REVIRT_MSR_MCG_EXT_CTL,     /* MCG_CAP has MCG_LMCE_P */
};

typedef struct RevirtMsr {
    uint32_t index;
    uint32_t offset;            /* of the field in CPUX86State */
    uint8_t size;               /* of the field: 4 or 8 bytes */
    uint8_t need;               /* REVIRT_MSR_* */
    bool reset_only;
    uint8_t count;              /* MSRs index.. on consecutive uint64_t */
} RevirtMsr;

#define MSR_AT(i, field, n, r) \
    { (i), offsetof(CPUX86State, field), sizeof_field(CPUX86State, field), \
      (n), (r), 1 }
#define MSR_ARRAY(i, field, n, r, c) \
    { (i), offsetof(CPUX86State, field), 8, (n), (r), (c) }
#define MSR_RUNTIME(i, field) MSR_AT(i, field, REVIRT_MSR_ALWAYS, false)
#define MSR_MTRR(i, field) MSR_AT(i, field, REVIRT_MSR_MTRR, true)

static const RevirtMsr revirt_msr_table[] = {
    MSR_RUNTIME(MSR_IA32_SYSENTER_CS, sysenter_cs),
    MSR_RUNTIME(MSR_IA32_SYSENTER_ESP, sysenter_esp),
    MSR_RUNTIME(MSR_IA32_SYSENTER_EIP, sysenter_eip),
    MSR_RUNTIME(MSR_PAT, pat),
    MSR_RUNTIME(MSR_STAR, star),
    MSR_RUNTIME(MSR_TSC_AUX, tsc_aux),
    MSR_RUNTIME(MSR_TSC_ADJUST, tsc_adjust),
    MSR_RUNTIME(MSR_IA32_MISC_ENABLE, msr_ia32_misc_enable),
    MSR_RUNTIME(MSR_IA32_PKRS, pkrs),
    MSR_RUNTIME(MSR_IA32_BNDCFGS, msr_bndcfgs),
    MSR_RUNTIME(MSR_IA32_XSS, xss),
    MSR_RUNTIME(MSR_IA32_UMWAIT_CONTROL, umwait),
    MSR_RUNTIME(MSR_IA32_SPEC_CTRL, spec_ctrl),
    MSR_RUNTIME(MSR_IA32_TSX_CTRL, tsx_ctrl),
    MSR_RUNTIME(MSR_VIRT_SSBD, virt_ssbd),
#ifdef TARGET_X86_64
    MSR_RUNTIME(MSR_CSTAR, cstar),
    MSR_RUNTIME(MSR_KERNELGSBASE, kernelgsbase),
    MSR_RUNTIME(MSR_FMASK, fmask),
    MSR_RUNTIME(MSR_LSTAR, lstar),
#endif
    MSR_MTRR(MSR_MTRRdefType, mtrr_deftype),
    MSR_MTRR(MSR_MTRRfix64K_00000, mtrr_fixed[0]),
    MSR_MTRR(MSR_MTRRfix16K_80000, mtrr_fixed[1]),
    MSR_MTRR(MSR_MTRRfix16K_A0000, mtrr_fixed[2]),
    MSR_ARRAY(MSR_MTRRfix4K_C0000, mtrr_fixed[3], REVIRT_MSR_MTRR, true, 8),
    /* physBase(n), physMask(n) alternate, as MTRRVar's fields do */
    MSR_ARRAY(MSR_MTRRphysBase(0), mtrr_var, REVIRT_MSR_MTRR, true,
              2 * MSR_MTRRcap_VCNT),
    MSR_AT(MSR_MCG_STATUS, mcg_status, REVIRT_MSR_MCE, false),
    MSR_AT(MSR_MCG_CTL, mcg_ctl, REVIRT_MSR_MCG_CTL, false),
    MSR_AT(MSR_MCG_EXT_CTL, mcg_ext_ctl, REVIRT_MSR_MCG_EXT_CTL, false),
    MSR_ARRAY(MSR_MC0_CTL, mce_banks, REVIRT_MSR_MCE, false,
              4 * MCE_BANKS_DEF),
};

QEMU_BUILD_BUG_ON(sizeof(MTRRVar) != 16);
QEMU_BUILD_BUG_ON(MSR_MTRRfix4K_F8000 != MSR_MTRRfix4K_C0000 + 7);

/* The table, one entry per MSR the driver supports: computed once. */
static RevirtMsr *revirt_msrs;
static size_t revirt_nr_msrs;
static bool revirt_has_mcg_cap;

static void revirt_msrs_init(void)
{
    const struct revirt_msr_index_list *list = revirt_state->supported_msrs;
    g_autoptr(GHashTable) listed = g_hash_table_new(NULL, NULL);
    g_autoptr(GArray) msrs = g_array_new(false, false, sizeof(RevirtMsr));

    if (revirt_msrs) {
        return;
    }
    for (uint32_t i = 0; i < list->count; i++) {
        g_hash_table_add(listed, GUINT_TO_POINTER(list->indices[i]));
    }
    revirt_has_mcg_cap = g_hash_table_contains(listed,
                                               GUINT_TO_POINTER(MSR_MCG_CAP));
    for (size_t i = 0; i < ARRAY_SIZE(revirt_msr_table); i++) {
        for (uint32_t j = 0; j < revirt_msr_table[i].count; j++) {
            RevirtMsr m = revirt_msr_table[i];

            assert(m.size == 4 || m.size == 8);
            m.index += j;
            m.offset += 8 * j;
            m.count = 1;
            if (m.index >= MSR_MTRRphysBase(0) &&
                m.index <= MSR_MTRRphysMask(MSR_MTRRcap_VCNT - 1) &&
                (m.index & 1)) {
                m.need = REVIRT_MSR_MTRR_MASK;
            }
            /* The ABI implies the bank MSRs from MCG_CAP. */
            if (g_hash_table_contains(listed, GUINT_TO_POINTER(m.index)) ||
                (revirt_has_mcg_cap && m.index >= MSR_MC0_CTL &&
                 m.index < MSR_MC0_CTL + 4 * MCE_BANKS_DEF)) {
                g_array_append_val(msrs, m);
            }
        }
    }
    revirt_nr_msrs = msrs->len;
    revirt_msrs = (RevirtMsr *)g_array_free(g_steal_pointer(&msrs), false);
}

static bool revirt_msr_wanted(X86CPU *cpu, const RevirtMsr *m, bool put,
                              bool full)
{
    CPUX86State *env = &cpu->env;

    if (put && m->reset_only && !full) {
        return false;
    }
    switch (m->need) {
    case REVIRT_MSR_MTRR:
    case REVIRT_MSR_MTRR_MASK:
        return env->features[FEAT_1_EDX] & CPUID_MTRR;
    case REVIRT_MSR_MCE:
        return m->index < MSR_MC0_CTL ?
               env->mcg_cap :
               m->index < MSR_MC0_CTL + 4 * (env->mcg_cap & MCG_CAP_BANKS_MASK);
    case REVIRT_MSR_MCG_CTL:
        return env->mcg_cap & MCG_CTL_P;
    case REVIRT_MSR_MCG_EXT_CTL:
        return env->mcg_cap & MCG_LMCE_P;
    default:
        return true;
    }
}

static uint64_t revirt_msr_read(X86CPU *cpu, const RevirtMsr *m)
{
    void *field = (uint8_t *)&cpu->env + m->offset;
    uint64_t value = m->size == 4 ? *(uint32_t *)field : *(uint64_t *)field;

    /* The CPU refuses mask bits above its physical address width. */
    if (m->need == REVIRT_MSR_MTRR_MASK) {
        value &= MAKE_64BIT_MASK(0, cpu->phys_bits);
    }
    return value;
}

static void revirt_msr_write(X86CPU *cpu, const RevirtMsr *m, uint64_t value)
{
    void *field = (uint8_t *)&cpu->env + m->offset;

    if (m->size == 4) {
        *(uint32_t *)field = value;
    } else {
        *(uint64_t *)field = value;
    }
}

/* The MSRs to transfer now, in batches of REVIRT_MAX_STATE_MSRS. */
static size_t revirt_msrs_select(X86CPU *cpu, bool put, bool full,
                                 const RevirtMsr **out)
{
    size_t n = 0;

    for (size_t i = 0; i < revirt_nr_msrs; i++) {
        if (revirt_msr_wanted(cpu, &revirt_msrs[i], put, full)) {
            out[n++] = &revirt_msrs[i];
        }
    }
    return n;
}

static void revirt_msrs_fill(X86CPU *cpu, struct revirt_msrs *msrs,
                             const RevirtMsr **sel, size_t n, bool put)
{
    msrs->count = MIN(n, REVIRT_MAX_STATE_MSRS);
    for (uint32_t i = 0; i < msrs->count; i++) {
        msrs->entries[i].index = sel[i]->index;
        msrs->entries[i].value = put ? revirt_msr_read(cpu, sel[i]) : 0;
    }
}

static void revirt_msrs_store(X86CPU *cpu, const struct revirt_msrs *msrs,
                              const RevirtMsr **sel)
{
    for (uint32_t i = 0; i < msrs->count; i++) {
        revirt_msr_write(cpu, sel[i], msrs->entries[i].value);
    }
}

/* The MSRs beyond the first batch, which travels with the other classes. */
static int revirt_msrs_rest(CPUState *cpu, const RevirtMsr **sel, size_t n,
                            bool put)
{
    g_autofree struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state,
                                                     1);
    X86CPU *x86_cpu = X86_CPU(cpu);

    st->classes = REVIRT_STATE_MSRS;
    for (size_t i = REVIRT_MAX_STATE_MSRS; i < n; i += REVIRT_MAX_STATE_MSRS) {
        int ret;

        revirt_msrs_fill(x86_cpu, &st->msrs, sel + i, n - i, put);
        ret = revirt_call(revirt_vcpu(cpu)->handle,
                          put ? REVIRT_SET_STATE : REVIRT_GET_STATE, st);
        if (ret < 0) {
            return ret;
        }
        if (!put) {
            revirt_msrs_store(x86_cpu, &st->msrs, sel + i);
        }
    }
    return 0;
}

static bool revirt_has_xsave(void)
{
    return revirt_state->caps.features & REVIRT_FEATURE_XSAVE;
}

/* XCR0 and the whole XSAVE area, through QEMU's XSAVE image helpers. */
static int revirt_xsave_transfer(CPUState *cpu, bool put)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    struct revirt_xsave xsave = {
        .xcr0 = env->xcr0,
        .area = (uintptr_t)env->xsave_buf,
        .size = revirt_state->caps.xsave_size,
    };
    int ret;

    if (put) {
        x86_cpu_xsave_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
        return revirt_call(revirt_vcpu(cpu)->handle, REVIRT_SET_XSAVE, &xsave);
    }
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_GET_XSAVE, &xsave);
    if (ret == 0) {
        env->xcr0 = xsave.xcr0;
        x86_cpu_xrstor_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
    }
    return ret;
}

/*
 * Per-vCPU setup: the XSAVE buffer, sized as the driver says, and MCG_CAP
 * filtered by what the driver offers, as KVM_X86_SETUP_MCE does for KVM.
 */
int revirt_arch_init_vcpu_state(CPUState *cpu, Error **errp)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    g_autofree struct revirt_vcpu_state *st = NULL;
    int ret;

    revirt_msrs_init();
    /* QEMU's XSAVE image helpers want at least the legacy 4 KiB layout. */
    env->xsave_buf_len = MAX(revirt_state->caps.xsave_size, 4096);
    env->xsave_buf = qemu_memalign(4096, env->xsave_buf_len);
    memset(env->xsave_buf, 0, env->xsave_buf_len);

    if (!env->mcg_cap) {
        return 0;
    }
    if (!revirt_has_mcg_cap) {
        /* No machine check in the driver: the monitor says so on "mce". */
        env->mcg_cap = 0;
        return 0;
    }
    st = g_new0(struct revirt_vcpu_state, 1);
    st->classes = REVIRT_STATE_MSRS;
    st->msrs.count = 1;
    st->msrs.entries[0].index = MSR_MCG_CAP;
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_GET_STATE, st);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot read MCG_CAP");
        return ret;
    }
    if ((st->msrs.entries[0].value & MCG_CAP_BANKS_MASK) <
        (env->mcg_cap & MCG_CAP_BANKS_MASK)) {
        error_setg(errp, "the driver offers %u MCE banks, the CPU model %u",
                   (unsigned)(st->msrs.entries[0].value & MCG_CAP_BANKS_MASK),
                   (unsigned)(env->mcg_cap & MCG_CAP_BANKS_MASK));
        return -ENOTSUP;
    }
    env->mcg_cap &= st->msrs.entries[0].value | MCG_CAP_BANKS_MASK;
    st->msrs.entries[0].value = env->mcg_cap;
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_SET_STATE, st);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot set MCG_CAP 0x%" PRIx64,
                         env->mcg_cap);
    }
    return ret;
}

void revirt_arch_destroy_vcpu_state(CPUState *cpu)
{
    CPUX86State *env = &X86_CPU(cpu)->env;

    qemu_vfree(env->xsave_buf);
    env->xsave_buf = NULL;
    env->xsave_buf_len = 0;
}

static void revirt_segment_to_state(struct revirt_segment *rs,
                                    const SegmentCache *qs, bool v8086)
{
    unsigned flags = qs->flags;

    rs->selector = qs->selector;
    rs->base = qs->base;
    rs->limit = qs->limit;
    if (v8086) {
        /* What VMX requires of virtual-8086 segments. */
        rs->type = 3;
        rs->present = 1;
        rs->dpl = 3;
        rs->db = rs->l = rs->g = rs->avl = rs->unusable = 0;
        rs->s = 1;
        return;
    }
    rs->type = (flags >> DESC_TYPE_SHIFT) & 15;
    rs->present = (flags & DESC_P_MASK) != 0;
    rs->dpl = (flags >> DESC_DPL_SHIFT) & 3;
    rs->db = (flags >> DESC_B_SHIFT) & 1;
    rs->s = (flags & DESC_S_MASK) != 0;
    rs->l = (flags >> DESC_L_SHIFT) & 1;
    rs->g = (flags & DESC_G_MASK) != 0;
    rs->avl = (flags & DESC_AVL_MASK) != 0;
    rs->unusable = !rs->present;
    rs->reserved = 0;
}

static void revirt_segment_from_state(SegmentCache *qs,
                                      const struct revirt_segment *rs)
{
    qs->selector = rs->selector;
    qs->base = rs->base;
    qs->limit = rs->limit;
    qs->flags = (rs->type << DESC_TYPE_SHIFT) |
                ((rs->present && !rs->unusable) * DESC_P_MASK) |
                (rs->dpl << DESC_DPL_SHIFT) |
                (rs->db << DESC_B_SHIFT) |
                (rs->s * DESC_S_MASK) |
                (rs->l << DESC_L_SHIFT) |
                (rs->g * DESC_G_MASK) |
                (rs->avl * DESC_AVL_MASK);
}

#define REVIRT_RUNTIME_CLASSES \
    (REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS | REVIRT_STATE_CONTROL | \
     REVIRT_STATE_DTABLES | REVIRT_STATE_FPU | REVIRT_STATE_MSRS | \
     REVIRT_STATE_EVENTS | REVIRT_STATE_DEBUGREGS)

int revirt_arch_put_registers(CPUState *cpu, bool full)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    g_autofree struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state,
                                                     1);
    struct revirt_regs *r = &st->regs;
    bool v8086 = env->eflags & VM_MASK;
    g_autofree const RevirtMsr **sel = g_new(const RevirtMsr *,
                                            revirt_nr_msrs);
    size_t nr_msrs = revirt_msrs_select(x86_cpu, true, full, sel);
    int ret;


    /* The TSC is written only at reset and init: writes make it drift. */
    st->classes = REVIRT_RUNTIME_CLASSES | (full ? REVIRT_STATE_TSC : 0);
    if (revirt_has_xsave()) {
        st->classes &= ~REVIRT_STATE_FPU;
    }

    r->rax = env->regs[R_EAX];
    r->rbx = env->regs[R_EBX];
    r->rcx = env->regs[R_ECX];
    r->rdx = env->regs[R_EDX];
    r->rsi = env->regs[R_ESI];
    r->rdi = env->regs[R_EDI];
    r->rsp = env->regs[R_ESP];
    r->rbp = env->regs[R_EBP];
#ifdef TARGET_X86_64
    r->r8 = env->regs[8];
    r->r9 = env->regs[9];
    r->r10 = env->regs[10];
    r->r11 = env->regs[11];
    r->r12 = env->regs[12];
    r->r13 = env->regs[13];
    r->r14 = env->regs[14];
    r->r15 = env->regs[15];
#endif
    r->rip = env->eip;
    r->rflags = env->eflags;

    revirt_segment_to_state(&st->segments.cs, &env->segs[R_CS], v8086);
    revirt_segment_to_state(&st->segments.ds, &env->segs[R_DS], v8086);
    revirt_segment_to_state(&st->segments.es, &env->segs[R_ES], v8086);
    revirt_segment_to_state(&st->segments.fs, &env->segs[R_FS], v8086);
    revirt_segment_to_state(&st->segments.gs, &env->segs[R_GS], v8086);
    revirt_segment_to_state(&st->segments.ss, &env->segs[R_SS], v8086);
    revirt_segment_to_state(&st->segments.tr, &env->tr, false);
    revirt_segment_to_state(&st->segments.ldt, &env->ldt, false);

    st->dtables.gdt.base = env->gdt.base;
    st->dtables.gdt.limit = env->gdt.limit;
    st->dtables.idt.base = env->idt.base;
    st->dtables.idt.limit = env->idt.limit;

    st->control.cr0 = env->cr[0];
    st->control.cr2 = env->cr[2];
    st->control.cr3 = env->cr[3];
    st->control.cr4 = env->cr[4];
    st->control.cr8 = cpu_get_apic_tpr(x86_cpu->apic_state);
    st->control.efer = env->efer;
    st->control.apic_base = cpu_get_apic_base(x86_cpu->apic_state);

    if (!revirt_has_xsave()) {
        x86_cpu_xsave_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
        memcpy(st->fpu.fxsave, env->xsave_buf, sizeof(st->fpu.fxsave));
    }

    revirt_msrs_fill(x86_cpu, &st->msrs, sel, nr_msrs, true);

    st->events.exception_pending = env->exception_injected ||
                                   env->exception_pending;
    st->events.exception_vector = env->exception_nr;
    st->events.exception_has_error_code = env->has_error_code;
    st->events.exception_error_code = env->error_code;
    st->events.interrupt_pending = env->interrupt_injected >= 0;
    st->events.interrupt_vector = env->interrupt_injected;
    st->events.interrupt_shadow = !!(env->hflags & HF_INHIBIT_IRQ_MASK);
    st->events.nmi_pending = env->nmi_pending;
    st->events.nmi_masked = !!(env->hflags2 & HF2_NMI_MASK);

    for (int i = 0; i < 4; i++) {
        st->debugregs.dr[i] = env->dr[i];
    }
    st->debugregs.dr6 = env->dr[6];
    st->debugregs.dr7 = env->dr[7];

    st->tsc = env->tsc;

    trace_revirt_put_registers(cpu->cpu_index, env->eip, full);
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_SET_STATE, st);
    if (ret == 0) {
        ret = revirt_msrs_rest(cpu, sel, nr_msrs, true);
    }
    if (ret == 0 && revirt_has_xsave()) {
        ret = revirt_xsave_transfer(cpu, true);
    }
    return ret;
}

int revirt_arch_get_registers(CPUState *cpu)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    g_autofree struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state,
                                                     1);
    const struct revirt_regs *r = &st->regs;
    g_autofree const RevirtMsr **sel = g_new(const RevirtMsr *,
                                            revirt_nr_msrs);
    size_t nr_msrs = revirt_msrs_select(x86_cpu, false, true, sel);
    int ret;

    st->classes = REVIRT_RUNTIME_CLASSES | REVIRT_STATE_TSC;
    if (revirt_has_xsave()) {
        st->classes &= ~REVIRT_STATE_FPU;
    }
    revirt_msrs_fill(x86_cpu, &st->msrs, sel, nr_msrs, false);
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_GET_STATE, st);
    if (ret == 0) {
        ret = revirt_msrs_rest(cpu, sel, nr_msrs, false);
    }
    if (ret == 0 && revirt_has_xsave()) {
        ret = revirt_xsave_transfer(cpu, false);
    }
    if (ret < 0) {
        return ret;
    }

    env->regs[R_EAX] = r->rax;
    env->regs[R_EBX] = r->rbx;
    env->regs[R_ECX] = r->rcx;
    env->regs[R_EDX] = r->rdx;
    env->regs[R_ESI] = r->rsi;
    env->regs[R_EDI] = r->rdi;
    env->regs[R_ESP] = r->rsp;
    env->regs[R_EBP] = r->rbp;
#ifdef TARGET_X86_64
    env->regs[8] = r->r8;
    env->regs[9] = r->r9;
    env->regs[10] = r->r10;
    env->regs[11] = r->r11;
    env->regs[12] = r->r12;
    env->regs[13] = r->r13;
    env->regs[14] = r->r14;
    env->regs[15] = r->r15;
#endif
    env->eip = r->rip;
    env->eflags = r->rflags;

    revirt_segment_from_state(&env->segs[R_CS], &st->segments.cs);
    revirt_segment_from_state(&env->segs[R_DS], &st->segments.ds);
    revirt_segment_from_state(&env->segs[R_ES], &st->segments.es);
    revirt_segment_from_state(&env->segs[R_FS], &st->segments.fs);
    revirt_segment_from_state(&env->segs[R_GS], &st->segments.gs);
    revirt_segment_from_state(&env->segs[R_SS], &st->segments.ss);
    revirt_segment_from_state(&env->tr, &st->segments.tr);
    revirt_segment_from_state(&env->ldt, &st->segments.ldt);

    env->gdt.base = st->dtables.gdt.base;
    env->gdt.limit = st->dtables.gdt.limit;
    env->idt.base = st->dtables.idt.base;
    env->idt.limit = st->dtables.idt.limit;

    env->cr[0] = st->control.cr0;
    env->cr[2] = st->control.cr2;
    env->cr[3] = st->control.cr3;
    env->cr[4] = st->control.cr4;
    env->efer = st->control.efer;
    /* CR8 and the APIC base reach QEMU's APIC after every exit. */

    if (!revirt_has_xsave()) {
        x86_cpu_xsave_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
        memcpy(env->xsave_buf, st->fpu.fxsave, sizeof(st->fpu.fxsave));
        x86_cpu_xrstor_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
    }

    revirt_msrs_store(x86_cpu, &st->msrs, sel);

    env->exception_injected = st->events.exception_pending;
    env->exception_pending = 0;
    env->exception_nr = st->events.exception_pending ?
                        st->events.exception_vector : -1;
    env->has_error_code = st->events.exception_has_error_code;
    env->error_code = st->events.exception_error_code;
    env->interrupt_injected = st->events.interrupt_pending ?
                              st->events.interrupt_vector : -1;
    env->nmi_injected = 0;
    env->nmi_pending = st->events.nmi_pending;
    if (st->events.interrupt_shadow) {
        env->hflags |= HF_INHIBIT_IRQ_MASK;
    } else {
        env->hflags &= ~HF_INHIBIT_IRQ_MASK;
    }
    if (st->events.nmi_masked) {
        env->hflags2 |= HF2_NMI_MASK;
    } else {
        env->hflags2 &= ~HF2_NMI_MASK;
    }

    for (int i = 0; i < 4; i++) {
        env->dr[i] = st->debugregs.dr[i];
    }
    env->dr[6] = st->debugregs.dr6;
    env->dr[7] = st->debugregs.dr7;

    env->tsc = st->tsc;

    x86_update_hflags(env);
    trace_revirt_get_registers(cpu->cpu_index, env->eip);
    return 0;
}
