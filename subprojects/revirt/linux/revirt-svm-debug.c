// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: SVM guest debugging and debug registers.  Around each entry
 * the guest's DR0-3 (not in the VMCB) or, with HW_BP, the debugger's go
 * into the CPU; the VMCB's DR6/DR7 are the guest's or the debugger's.
 * While the debugger owns #DB (SINGLESTEP, HW_BP) every MOV DR of the
 * guest exits and is emulated here on the guest's own copies, so the
 * guest sees what it set and cannot move the debugger's breakpoints.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>
#include <asm/debugreg.h>
#include <asm/processor-flags.h>
#include <asm/svm.h>
#include <asm/traps.h>

#include "revirt-arch.h"
#include "revirt-svm.h"

/* DR7's enable bits L0-L3, G0-G3. */
#define DR7_ENABLES	0xffull
/* What the guest can write: DR7 as KVM (DR7_VOLATILE), DR6's status bits. */
#define DR7_BITS	0xffff2bffull
#define DR6_BITS	0xe00full

static bool svm_debug_owns_db(struct revirt_vcpu *v)
{
	return v->debug.flags & (REVIRT_DEBUG_SINGLESTEP | REVIRT_DEBUG_HW_BP);
}

void revirt_svm_set_guest_debug(struct revirt_vcpu *v)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;
	bool db = svm_debug_owns_db(v);
	int i;

	svm_intercept(vmcb, INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_DB, db);
	svm_intercept(vmcb, INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_BP,
		      v->debug.flags & REVIRT_DEBUG_SW_BP);
	for (i = 0; i < 8; i++) {
		svm_intercept(vmcb, INTERCEPT_DR0_READ + i, db);
		svm_intercept(vmcb, INTERCEPT_DR0_WRITE + i, db);
	}
}

u64 revirt_svm_dr7(struct revirt_vcpu *v)
{
	return v->debug.flags & REVIRT_DEBUG_HW_BP ? v->debug.dr7 :
	       to_svm(v)->dr7;
}

/*
 * Before VMRUN, interrupts off: the host's DR7 off while DR0-3 change,
 * the effective DR0-3, DR6 and DR7 in, and the trap flag of a step.
 */
void revirt_svm_debug_enter(struct revirt_vcpu *v,
			    struct revirt_svm_host_dr *h)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb *vmcb = s->vmcb;
	const u64 *dr = v->debug.flags & REVIRT_DEBUG_HW_BP ? v->debug.dr :
			s->dr;

	get_debugreg(h->dr7, 7);
	if (h->dr7 & DR7_ENABLES)
		set_debugreg(0, 7);
	get_debugreg(h->dr6, 6);
	get_debugreg(h->dr[0], 0);
	get_debugreg(h->dr[1], 1);
	get_debugreg(h->dr[2], 2);
	get_debugreg(h->dr[3], 3);
	set_debugreg(dr[0], 0);
	set_debugreg(dr[1], 1);
	set_debugreg(dr[2], 2);
	set_debugreg(dr[3], 3);
	vmcb->save.dr7 = revirt_svm_dr7(v);
	/* DR6 is sticky: a #DB the debugger sees says only what it was. */
	vmcb->save.dr6 = svm_debug_owns_db(v) ? REVIRT_DR6_FIXED : s->dr6;

	s->tf_added = (v->debug.flags & REVIRT_DEBUG_SINGLESTEP) &&
		      !(vmcb->save.rflags & X86_EFLAGS_TF);
	if (s->tf_added)
		vmcb->save.rflags |= X86_EFLAGS_TF;
}

/* After the exit: the guest's registers kept, the host's back. */
void revirt_svm_debug_leave(struct revirt_vcpu *v,
			    const struct revirt_svm_host_dr *h)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb *vmcb = s->vmcb;

	if (s->tf_added)
		vmcb->save.rflags &= ~X86_EFLAGS_TF;
	s->tf_added = false;
	/* Without DR intercepts the guest may have written them. */
	if (!svm_debug_owns_db(v)) {
		get_debugreg(s->dr[0], 0);
		get_debugreg(s->dr[1], 1);
		get_debugreg(s->dr[2], 2);
		get_debugreg(s->dr[3], 3);
		s->dr6 = vmcb->save.dr6;
		s->dr7 = vmcb->save.dr7;
	}
	set_debugreg(h->dr[0], 0);
	set_debugreg(h->dr[1], 1);
	set_debugreg(h->dr[2], 2);
	set_debugreg(h->dr[3], 3);
	set_debugreg(h->dr6, 6);
	set_debugreg(h->dr7, 7);
}

/* An intercepted #DB or #BP: the debugger's, RUN returns it. */
void revirt_svm_debug_exit(struct revirt_vcpu *v, u32 vector,
			   struct revirt_exit *x)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	x->kind = REVIRT_X_DEBUG;
	x->debug.exception = vector;
	/* #BP: RIP is still at the INT3 (the intercept comes first). */
	x->debug.pc = vmcb->save.cs.base + vmcb->save.rip;
	x->debug.dr6 = vector == X86_TRAP_DB ? vmcb->save.dr6 : 0;
	x->debug.dr7 = vmcb->save.dr7;
}

/*
 * The register operand and length of the MOV to or from DR at RIP
 * (0f 21 /r, 0f 23 /r): SVM without decode assists (QEMU's emulated
 * SVM among them) gives neither.  Returns the length, or -errno.
 */
static int svm_mov_dr_decode(struct revirt_vcpu *v, bool long64, int *gpr)
{
	u8 b, rex = 0;
	int i, r, opcode = 0;

	for (i = 0; i < 15; i++) {
		r = revirt_guest_linear_rw(v, revirt_rip_linear(v, i), &b, 1,
					   false);
		if (r)
			return r;
		if (opcode == 2) {
			if (rex & 4)		/* REX.R: DR8 and up */
				return -EINVAL;
			*gpr = (b & 7) | (rex & 1 ? 8 : 0);
			return i + 1;
		}
		if (opcode == 1) {
			if (b != 0x21 && b != 0x23)
				return -EINVAL;
			opcode = 2;
		} else if (b == 0x0f) {
			opcode = 1;
		} else if (long64 && (b & 0xf0) == 0x40) {
			rex = b;
		} else if (b != 0x26 && b != 0x2e && b != 0x36 && b != 0x3e &&
			   b != 0x64 && b != 0x65 && b != 0x66 && b != 0x67 &&
			   b != 0xf0 && b != 0xf2 && b != 0xf3) {
			return -EINVAL;
		} else {
			rex = 0;	/* REX counts only last */
		}
	}
	return -EINVAL;
}

/* A MOV to or from DR0-7, on the guest's copies, checked as the CPU does. */
void revirt_svm_mov_dr(struct revirt_vcpu *v, u32 code)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb_save_area *sa = &s->vmcb->save;
	bool write = code >= SVM_EXIT_WRITE_DR0;
	bool long64 = (sa->efer & EFER_LMA) &&
		      (sa->cs.attrib & SVM_SELECTOR_L_MASK);
	int dr = code & 7, gpr, len;
	u64 val;

	if ((dr == 4 || dr == 5) && (sa->cr4 & X86_CR4_DE)) {
		revirt_svm_queue_exception(v, X86_TRAP_UD, false, 0);
		return;
	}
	if (dr == 4 || dr == 5)
		dr += 2;
	if (sa->cpl) {
		revirt_svm_queue_exception(v, X86_TRAP_GP, true, 0);
		return;
	}
	len = svm_mov_dr_decode(v, long64, &gpr);
	if (len < 0) {
		revirt_svm_queue_exception(v, X86_TRAP_UD, false, 0);
		return;
	}
	if (!write) {
		val = dr < 4 ? s->dr[dr] : dr == 6 ? s->dr6 : s->dr7;
		v->gpr[gpr] = long64 ? val : (u32)val;
		revirt_svm_skip(v, len);
		return;
	}
	val = long64 ? v->gpr[gpr] : (u32)v->gpr[gpr];
	if (dr >= 6 && val >> 32) {
		revirt_svm_queue_exception(v, X86_TRAP_GP, true, 0);
		return;
	}
	if (dr < 4)
		s->dr[dr] = val;
	else if (dr == 6)
		s->dr6 = (val & DR6_BITS) | REVIRT_DR6_FIXED;
	else
		s->dr7 = (val & DR7_BITS) | REVIRT_DR7_FIXED;
	revirt_svm_skip(v, len);
}
