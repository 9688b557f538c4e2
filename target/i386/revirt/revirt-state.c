/*
 * QEMU revirt accelerator, x86: register state between QEMU and the driver.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "hw/i386/apic.h"
#include "sysemu/revirt.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

/* The MSRs QEMU keeps in CPUX86State that the driver syncs with it. */
static const uint32_t revirt_synced_msrs[] = {
    MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
    MSR_PAT, MSR_STAR,
#ifdef TARGET_X86_64
    MSR_CSTAR, MSR_KERNELGSBASE, MSR_FMASK, MSR_LSTAR,
#endif
};

static uint64_t *revirt_msr_field(CPUX86State *env, uint32_t index,
                                  uint64_t *scratch)
{
    switch (index) {
    case MSR_PAT:
        return &env->pat;
    case MSR_STAR:
        return &env->star;
#ifdef TARGET_X86_64
    case MSR_CSTAR:
        return &env->cstar;
    case MSR_KERNELGSBASE:
        return &env->kernelgsbase;
    case MSR_FMASK:
        return &env->fmask;
    case MSR_LSTAR:
        return &env->lstar;
#endif
    default:
        return scratch;
    }
}

static bool revirt_msr_supported(uint32_t index)
{
    const struct revirt_msr_index_list *list = revirt_state->supported_msrs;

    for (uint32_t i = 0; i < list->count; i++) {
        if (list->indices[i] == index) {
            return true;
        }
    }
    return false;
}

/* Fill in the indices, and for a put the values, of the synced MSRs. */
static void revirt_msrs_to_state(CPUX86State *env, struct revirt_msrs *msrs)
{
    msrs->count = 0;
    for (size_t i = 0; i < ARRAY_SIZE(revirt_synced_msrs); i++) {
        uint32_t index = revirt_synced_msrs[i];
        struct revirt_msr *m = &msrs->entries[msrs->count];
        uint64_t scratch;

        if (!revirt_msr_supported(index)) {
            continue;
        }
        m->index = index;
        switch (index) {
        case MSR_IA32_SYSENTER_CS:
            m->value = env->sysenter_cs;
            break;
        case MSR_IA32_SYSENTER_ESP:
            m->value = env->sysenter_esp;
            break;
        case MSR_IA32_SYSENTER_EIP:
            m->value = env->sysenter_eip;
            break;
        default:
            m->value = *revirt_msr_field(env, index, &scratch);
            break;
        }
        msrs->count++;
    }
}

static void revirt_msrs_from_state(CPUX86State *env,
                                   const struct revirt_msrs *msrs)
{
    for (uint32_t i = 0; i < msrs->count; i++) {
        const struct revirt_msr *m = &msrs->entries[i];
        uint64_t scratch;

        switch (m->index) {
        case MSR_IA32_SYSENTER_CS:
            env->sysenter_cs = m->value;
            break;
        case MSR_IA32_SYSENTER_ESP:
            env->sysenter_esp = m->value;
            break;
        case MSR_IA32_SYSENTER_EIP:
            env->sysenter_eip = m->value;
            break;
        default:
            *revirt_msr_field(env, m->index, &scratch) = m->value;
            break;
        }
    }
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

    /* The TSC is written only at reset and init: writes make it drift. */
    st->classes = REVIRT_RUNTIME_CLASSES | (full ? REVIRT_STATE_TSC : 0);

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

    x86_cpu_xsave_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
    memcpy(st->fpu.fxsave, env->xsave_buf, sizeof(st->fpu.fxsave));

    revirt_msrs_to_state(env, &st->msrs);

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
    return revirt_call(revirt_vcpu(cpu)->handle, REVIRT_SET_STATE, st);
}

int revirt_arch_get_registers(CPUState *cpu)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    g_autofree struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state,
                                                     1);
    const struct revirt_regs *r = &st->regs;
    int ret;

    st->classes = REVIRT_RUNTIME_CLASSES | REVIRT_STATE_TSC;
    revirt_msrs_to_state(env, &st->msrs);
    ret = revirt_call(revirt_vcpu(cpu)->handle, REVIRT_GET_STATE, st);
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

    x86_cpu_xsave_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);
    memcpy(env->xsave_buf, st->fpu.fxsave, sizeof(st->fpu.fxsave));
    x86_cpu_xrstor_all_areas(x86_cpu, env->xsave_buf, env->xsave_buf_len);

    revirt_msrs_from_state(env, &st->msrs);

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
