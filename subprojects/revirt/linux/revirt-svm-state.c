// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: SVM vCPU state: the reset state, the state classes the VMCB
 * holds, and the MSRs (every guest RDMSR/WRMSR exits and comes here).
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/kernel.h>
#include <asm/apicdef.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/svm.h>

#include "revirt-svm.h"
#include "revirt-svm-state.h"

#define SEG_ATTR_P	SVM_SELECTOR_P_MASK
#define SEG_ATTR_S	SVM_SELECTOR_S_MASK
#define RESET_CR0	(X86_CR0_CD | X86_CR0_NW | X86_CR0_ET)
#define RESET_PAT	0x0007040600070406ull
#define EFER_GUEST	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX | EFER_FFXSR)

static void seg_set(struct vmcb_seg *s, u16 sel, u64 base, u32 limit,
		    u16 attrib)
{
	*s = (struct vmcb_seg){ .selector = sel, .base = base, .limit = limit,
				.attrib = attrib };
}

/* The x86 RESET state (CS:IP f000:fff0, CS base 0xffff0000). */
void revirt_svm_reset(struct revirt_vcpu *v)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	u16 data = SEG_ATTR_P | SEG_ATTR_S | 3;		/* RW data, accessed */

	memset(sa, 0, sizeof(*sa));
	seg_set(&sa->cs, 0xf000, 0xffff0000, 0xffff,
		SEG_ATTR_P | SEG_ATTR_S | 0xb);		/* RX code, accessed */
	seg_set(&sa->ds, 0, 0, 0xffff, data);
	seg_set(&sa->es, 0, 0, 0xffff, data);
	seg_set(&sa->fs, 0, 0, 0xffff, data);
	seg_set(&sa->gs, 0, 0, 0xffff, data);
	seg_set(&sa->ss, 0, 0, 0xffff, data);
	seg_set(&sa->gdtr, 0, 0, 0xffff, 0);
	seg_set(&sa->idtr, 0, 0, 0xffff, 0);
	seg_set(&sa->ldtr, 0, 0, 0xffff, SEG_ATTR_P | 2);	/* LDT */
	seg_set(&sa->tr, 0, 0, 0xffff, SEG_ATTR_P | 3);	/* busy TSS16 */
	sa->rip = 0xfff0;
	sa->rflags = X86_EFLAGS_FIXED;
	sa->cr0 = RESET_CR0;
	sa->efer = EFER_SVME;		/* VMRUN wants it in the guest's EFER */
	sa->dr6 = REVIRT_DR6_FIXED;
	sa->dr7 = REVIRT_DR7_FIXED;
	to_svm(v)->dr6 = REVIRT_DR6_FIXED;
	to_svm(v)->dr7 = REVIRT_DR7_FIXED;
	sa->g_pat = RESET_PAT;
	memset(v->gpr, 0, sizeof(v->gpr));
	v->gpr[2] = 0x600;		/* EDX: the processor signature */
	v->apic_base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
		       (v->id == 0 ? MSR_IA32_APICBASE_BSP : 0);
}

static void seg_get(const struct vmcb_seg *s, struct revirt_segment *r)
{
	u16 a = s->attrib;

	*r = (struct revirt_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector,
		.type = a & SVM_SELECTOR_TYPE_MASK,
		.s = !!(a & SVM_SELECTOR_S_MASK),
		.dpl = (a & SVM_SELECTOR_DPL_MASK) >> SVM_SELECTOR_DPL_SHIFT,
		.present = !!(a & SVM_SELECTOR_P_MASK),
		.avl = !!(a & SVM_SELECTOR_AVL_MASK),
		.l = !!(a & SVM_SELECTOR_L_MASK),
		.db = !!(a & SVM_SELECTOR_DB_MASK),
		.g = !!(a & SVM_SELECTOR_G_MASK),
		.unusable = !(a & SVM_SELECTOR_P_MASK),
	};
}

static bool seg_valid(const struct revirt_segment *r)
{
	return r->type <= 15 && r->dpl <= 3 && r->present <= 1 && r->s <= 1 &&
	       r->avl <= 1 && r->l <= 1 && r->db <= 1 && r->g <= 1 &&
	       r->unusable <= 1;
}

static void seg_put(struct vmcb_seg *s, const struct revirt_segment *r)
{
	s->base = r->base;
	s->limit = r->limit;
	s->selector = r->selector;
	s->attrib = r->unusable ? 0 :
		    r->type | r->s << SVM_SELECTOR_S_SHIFT |
		    r->dpl << SVM_SELECTOR_DPL_SHIFT |
		    r->present << SVM_SELECTOR_P_SHIFT |
		    r->avl << SVM_SELECTOR_AVL_SHIFT |
		    r->l << SVM_SELECTOR_L_SHIFT |
		    r->db << SVM_SELECTOR_DB_SHIFT |
		    r->g << SVM_SELECTOR_G_SHIFT;
}

/* The VMCB's segments in struct revirt_segments' order. */
static struct vmcb_seg *svm_segs(struct vmcb_save_area *sa, int i)
{
	struct vmcb_seg *segs[] = { &sa->cs, &sa->ds, &sa->es, &sa->fs,
				    &sa->gs, &sa->ss, &sa->tr, &sa->ldtr };

	return segs[i];
}

static struct revirt_segment *abi_segs(struct revirt_segments *s, int i)
{
	struct revirt_segment *segs[] = { &s->cs, &s->ds, &s->es, &s->fs,
					  &s->gs, &s->ss, &s->tr, &s->ldt };

	return segs[i];
}

static void get_regs(struct revirt_vcpu *v, struct revirt_regs *r)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;

	/* struct revirt_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 */
	*r = (struct revirt_regs){
		.rax = v->gpr[0], .rbx = v->gpr[3], .rcx = v->gpr[1],
		.rdx = v->gpr[2], .rsi = v->gpr[6], .rdi = v->gpr[7],
		.rsp = v->gpr[4], .rbp = v->gpr[5],
		.r8 = v->gpr[8], .r9 = v->gpr[9], .r10 = v->gpr[10],
		.r11 = v->gpr[11], .r12 = v->gpr[12], .r13 = v->gpr[13],
		.r14 = v->gpr[14], .r15 = v->gpr[15],
		.rip = sa->rip, .rflags = sa->rflags,
	};
}

static void set_regs(struct revirt_vcpu *v, const struct revirt_regs *r)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	u64 gpr[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp,
			r->rsi, r->rdi, r->r8, r->r9, r->r10, r->r11,
			r->r12, r->r13, r->r14, r->r15 };

	memcpy(v->gpr, gpr, sizeof(gpr));
	sa->rip = r->rip;
	sa->rflags = r->rflags | X86_EFLAGS_FIXED;
}

static void get_control(struct revirt_vcpu *v, struct revirt_control *c)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	*c = (struct revirt_control){
		.cr0 = vmcb->save.cr0, .cr2 = vmcb->save.cr2,
		.cr3 = vmcb->save.cr3, .cr4 = vmcb->save.cr4,
		.cr8 = vmcb->control.int_ctl & V_TPR_MASK,
		.efer = vmcb->save.efer & ~EFER_SVME,
		.apic_base = v->apic_base,
	};
}

/*
 * The CR4 bits a guest may set: those of the features it is offered
 * (and OSXSAVE with XSAVE).
 */
#define CR4_GUEST (X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | \
		   X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | \
		   X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | \
		   X86_CR4_FSGSBASE | X86_CR4_SMEP | X86_CR4_SMAP)

static int set_control(struct revirt_vcpu *v, const struct revirt_control *c)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb *vmcb = s->vmcb;
	u64 cr4_ok = CR4_GUEST | (revirt_xcr0_supported ? X86_CR4_OSXSAVE : 0);

	if (c->cr0 >> 32 || (c->cr4 & ~cr4_ok) || c->cr8 > 15 ||
	    (c->efer & ~EFER_GUEST))
		return -EINVAL;
	vmcb->save.cr0 = c->cr0;
	vmcb->save.cr2 = c->cr2;
	vmcb->save.cr3 = c->cr3;
	vmcb->save.cr4 = c->cr4;
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) | c->cr8;
	vmcb->save.efer = c->efer | EFER_SVME;
	v->apic_base = c->apic_base;
	s->last_cpu = -1;	/* new page tables: flush before entering */
	return 0;
}

static void get_events(struct revirt_vcpu *v, struct revirt_events *e)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct revirt_pending *p = &v->pending;

	*e = (struct revirt_events){
		.exception_pending = p->exception,
		.exception_vector = p->exception_vector,
		.exception_has_error_code = p->exception_has_error,
		.exception_error_code = p->exception_error,
		.interrupt_pending = p->extint,
		.interrupt_vector = p->extint_vector,
		.interrupt_shadow = !!(s->vmcb->control.int_state &
				       SVM_INTERRUPT_SHADOW_MASK),
		.nmi_pending = p->nmi,
		.nmi_masked = s->nmi_masked,
	};
}

static int set_events(struct revirt_vcpu *v, const struct revirt_events *e)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct revirt_pending *p = &v->pending;

	/* A vector counts only with its event pending (QEMU sends 255). */
	if (e->exception_pending > 1 ||
	    (e->exception_pending && e->exception_vector > 31) ||
	    e->exception_has_error_code > 1 || e->interrupt_pending > 1 ||
	    e->interrupt_shadow > 1 || e->nmi_pending > 1 ||
	    e->nmi_masked > 1)
		return -EINVAL;
	*p = (struct revirt_pending){
		.exception = e->exception_pending,
		.exception_vector = e->exception_vector,
		.exception_has_error = e->exception_has_error_code,
		.exception_error = e->exception_error_code,
		.extint = e->interrupt_pending,
		.extint_vector = e->interrupt_vector,
		.nmi = e->nmi_pending,
		/* The INT3's #BP stays one as long as it is pending. */
		.exception_int3 = p->exception_int3 && e->exception_pending &&
				  e->exception_vector == 3,
	};
	s->nmi_masked = e->nmi_masked;
	if (e->interrupt_shadow)
		s->vmcb->control.int_state |= SVM_INTERRUPT_SHADOW_MASK;
	else
		s->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	return 0;
}

static u64 svm_tsc(struct revirt_vcpu *v)
{
	return rdtsc() + to_svm(v)->vmcb->control.tsc_offset;
}

static const u32 svm_msrs[] = {
	MSR_IA32_TSC, MSR_IA32_APICBASE, MSR_IA32_SYSENTER_CS,
	MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_CR_PAT,
	MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
	MSR_IA32_TSC_ADJUST,
};

/*
 * TSC_ADJUST (kept in v->msr) counts the guest's own moves of its TSC: a
 * guest write of either moves the other, as on hardware; the VMM's writes
 * (state) set each alone.
 */
static void svm_set_tsc(struct revirt_vcpu *v, u64 value, bool guest)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	if (guest)
		v->msr.tsc_adjust += value - svm_tsc(v);
	vmcb->control.tsc_offset = value - rdtsc();
}

static int svm_set_tsc_adjust(struct revirt_vcpu *v, u64 value, bool guest)
{
	if (guest) {
		if (!revirt_guest_has_tsc_adjust(v))
			return -EINVAL;
		to_svm(v)->vmcb->control.tsc_offset += value - v->msr.tsc_adjust;
	}
	v->msr.tsc_adjust = value;
	return 0;
}

void revirt_svm_msr_indices(struct revirt_msr_index_list *l)
{
	l->count = ARRAY_SIZE(svm_msrs);
	memcpy(l->indices, svm_msrs, sizeof(svm_msrs));
	revirt_msr_indices(l);
}

/* Where the VMCB keeps an MSR, NULL if it does not. */
static u64 *svm_msr_slot(struct vmcb_save_area *sa, u32 index)
{
	switch (index) {
	case MSR_IA32_SYSENTER_CS: return &sa->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP: return &sa->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP: return &sa->sysenter_eip;
	case MSR_IA32_CR_PAT: return &sa->g_pat;
	case MSR_STAR: return &sa->star;
	case MSR_LSTAR: return &sa->lstar;
	case MSR_CSTAR: return &sa->cstar;
	case MSR_SYSCALL_MASK: return &sa->sfmask;
	case MSR_KERNEL_GS_BASE: return &sa->kernel_gs_base;
	case MSR_FS_BASE: return &sa->fs.base;
	case MSR_GS_BASE: return &sa->gs.base;
	default: return NULL;
	}
}

int revirt_svm_msr_get(struct revirt_vcpu *v, u32 index, u64 *value,
		       bool guest)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	u64 *slot = svm_msr_slot(sa, index);
	int r = revirt_msr_get(v, index, value, guest);

	if (r != -ENOENT)
		return r;
	if (slot) {
		*value = *slot;
		return 0;
	}
	switch (index) {
	case MSR_IA32_TSC:
		*value = svm_tsc(v);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*value = v->msr.tsc_adjust;
		return 0;
	case MSR_IA32_APICBASE:
		*value = v->apic_base;
		return 0;
	case MSR_EFER:
		*value = sa->efer & ~EFER_SVME;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The guest's EFER writes: LMA is the CPU's to set, SVME ours. */
static int svm_set_efer(struct vmcb_save_area *sa, u64 value)
{
	if (value & ~EFER_GUEST)
		return -EINVAL;
	sa->efer = (value & ~EFER_LMA) | (sa->efer & EFER_LMA) | EFER_SVME;
	return 0;
}

int revirt_svm_msr_set(struct revirt_vcpu *v, u32 index, u64 value,
		       bool guest)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;
	u64 *slot = svm_msr_slot(&vmcb->save, index);
	int r = revirt_msr_set(v, index, value, guest);

	if (r != -ENOENT)
		return r;
	if (slot) {
		*slot = value;
		return 0;
	}
	switch (index) {
	case MSR_IA32_TSC:
		svm_set_tsc(v, value, guest);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		return svm_set_tsc_adjust(v, value, guest);
	case MSR_IA32_APICBASE:
		v->apic_base = value;
		return 0;
	case MSR_EFER:
		return guest ? svm_set_efer(&vmcb->save, value) : -EINVAL;
	default:
		return -EINVAL;
	}
}

static bool svm_msr_listed(u32 index)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(svm_msrs); i++)
		if (svm_msrs[i] == index)
			return true;
	return false;
}

/* Listed, or a machine-check bank of this vCPU (the ABI implies them). */
static int msrs_check(struct revirt_vcpu *v, const struct revirt_msrs *m)
{
	u32 i, index;

	if (m->count > REVIRT_MAX_STATE_MSRS)
		return -EINVAL;
	for (i = 0; i < m->count; i++) {
		index = m->entries[i].index;
		if (!svm_msr_listed(index) && !revirt_msr_kept(v, index))
			return -EINVAL;
	}
	return 0;
}

static void get_dtables(struct vmcb_save_area *sa, struct revirt_dtables *d)
{
	memset(d, 0, sizeof(*d));
	d->gdt.base = sa->gdtr.base;
	d->gdt.limit = sa->gdtr.limit;
	d->idt.base = sa->idtr.base;
	d->idt.limit = sa->idtr.limit;
}

int revirt_svm_get_state(struct revirt_vcpu *v, struct revirt_vcpu_state *st)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb_save_area *sa = &s->vmcb->save;
	u32 i;

	if ((st->classes & REVIRT_STATE_MSRS) && msrs_check(v, &st->msrs))
		return -EINVAL;
	if (st->classes & REVIRT_STATE_REGS)
		get_regs(v, &st->regs);
	if (st->classes & REVIRT_STATE_SEGMENTS)
		for (i = 0; i < 8; i++)
			seg_get(svm_segs(sa, i), abi_segs(&st->segments, i));
	if (st->classes & REVIRT_STATE_CONTROL)
		get_control(v, &st->control);
	if (st->classes & REVIRT_STATE_DTABLES)
		get_dtables(sa, &st->dtables);
	if (st->classes & REVIRT_STATE_EVENTS)
		get_events(v, &st->events);
	if (st->classes & REVIRT_STATE_DEBUGREGS) {
		memcpy(st->debugregs.dr, s->dr, sizeof(s->dr));
		st->debugregs.dr6 = s->dr6;
		st->debugregs.dr7 = s->dr7;
	}
	if (st->classes & REVIRT_STATE_TSC)
		st->tsc = svm_tsc(v);
	if (st->classes & REVIRT_STATE_MSRS)
		for (i = 0; i < st->msrs.count; i++)
			revirt_svm_msr_get(v, st->msrs.entries[i].index,
					   &st->msrs.entries[i].value, false);
	return 0;
}

static int set_segments(struct revirt_vcpu *v,
			const struct revirt_segments *segs)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	struct revirt_segments copy = *segs;
	int i;

	for (i = 0; i < 8; i++)
		if (!seg_valid(abi_segs(&copy, i)))
			return -EINVAL;
	for (i = 0; i < 8; i++)
		seg_put(svm_segs(sa, i), abi_segs(&copy, i));
	/* SVM keeps the CPL apart: it is SS's DPL. */
	sa->cpl = segs->ss.dpl;
	return 0;
}

static int set_debugregs(struct revirt_vcpu *v,
			 const struct revirt_debugregs *d)
{
	struct revirt_svm_vcpu *s = to_svm(v);

	if (d->dr6 >> 32 || d->dr7 >> 32)
		return -EINVAL;
	memcpy(s->dr, d->dr, sizeof(s->dr));
	s->dr6 = d->dr6;
	s->dr7 = d->dr7;
	return 0;
}

static int set_msrs(struct revirt_vcpu *v, const struct revirt_msrs *m)
{
	u32 i;
	int r = msrs_check(v, m);

	for (i = 0; !r && i < m->count; i++)
		r = revirt_svm_msr_set(v, m->entries[i].index,
				       m->entries[i].value, false);
	return r;
}

/*
 * The CPU mode a SET_STATE leaves, from its classes and the VMCB: one a
 * CPU refuses to enter (as KVM_SET_SREGS refuses it) fails before any
 * class is written.  NW needs CD and PG needs PE; EFER.LMA is set exactly
 * when LME and PG are, and then CR4.PAE is; CS.L only in long mode.
 */
static bool mode_valid(const struct vmcb_save_area *sa,
		       const struct revirt_vcpu_state *st)
{
	bool control = st->classes & REVIRT_STATE_CONTROL;
	u64 cr0 = control ? st->control.cr0 : sa->cr0;
	u64 cr4 = control ? st->control.cr4 : sa->cr4;
	u64 efer = control ? st->control.efer : sa->efer;
	const struct revirt_segment *cs = &st->segments.cs;
	bool cs_l = st->classes & REVIRT_STATE_SEGMENTS ?
		    cs->l && !cs->unusable :
		    sa->cs.attrib & SVM_SELECTOR_L_MASK;

	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return false;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return false;
	if ((efer & EFER_LME) && (cr0 & X86_CR0_PG))
		return (cr4 & X86_CR4_PAE) && (efer & EFER_LMA);
	return !(efer & EFER_LMA) && !cs_l;
}

int revirt_svm_set_state(struct revirt_vcpu *v,
			 const struct revirt_vcpu_state *st)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	int r = 0;

	if ((st->classes & (REVIRT_STATE_CONTROL | REVIRT_STATE_SEGMENTS)) &&
	    !mode_valid(sa, st))
		return -EINVAL;
	if (st->classes & REVIRT_STATE_REGS)
		set_regs(v, &st->regs);
	if (!r && (st->classes & REVIRT_STATE_SEGMENTS))
		r = set_segments(v, &st->segments);
	if (!r && (st->classes & REVIRT_STATE_CONTROL))
		r = set_control(v, &st->control);
	if (!r && (st->classes & REVIRT_STATE_DTABLES)) {
		sa->gdtr.base = st->dtables.gdt.base;
		sa->gdtr.limit = st->dtables.gdt.limit;
		sa->idtr.base = st->dtables.idt.base;
		sa->idtr.limit = st->dtables.idt.limit;
	}
	if (!r && (st->classes & REVIRT_STATE_EVENTS))
		r = set_events(v, &st->events);
	if (!r && (st->classes & REVIRT_STATE_DEBUGREGS))
		r = set_debugregs(v, &st->debugregs);
	if (!r && (st->classes & REVIRT_STATE_TSC))
		svm_set_tsc(v, st->tsc, false);
	if (!r && (st->classes & REVIRT_STATE_MSRS))
		r = set_msrs(v, &st->msrs);
	return r;
}
