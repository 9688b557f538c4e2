// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the AMD SVM backend: SVM on and off per CPU, one VMCB per
 * vCPU, the guest entry, event injection and the exits handled here.
 *
 * Copyright (c) 2026 The revirt developers
 */

#define pr_fmt(fmt) "revirt: " fmt

#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <asm/cpufeature.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/svm.h>
#include <asm/traps.h>

#include "revirt-arch.h"
#include "revirt-svm.h"
#include "revirt-svm-state.h"

struct revirt_svm_cpu {
	struct page *hsave;	/* MSR_VM_HSAVE_PA: VMRUN's host save area */
	struct page *host_save;	/* VMSAVE/VMLOAD of the host's FS, GS, TR... */
	u64 host_tsc_aux;	/* the kernel's (the CPU number), for RDTSCP */
	bool on;
};

static DEFINE_PER_CPU(struct revirt_svm_cpu, revirt_svm_cpus);
static struct page *revirt_iopm, *revirt_msrpm;	/* all ones: intercept all */
static DEFINE_IDA(revirt_asids);
static u32 revirt_nasid;
static u8 revirt_tlb_flush;	/* TLB_CONTROL_FLUSH_ASID if the CPU has it */

static bool trace_exits;
module_param(trace_exits, bool, 0644);
MODULE_PARM_DESC(trace_exits, "log every guest exit (debugging)");

/* Nested page fault error code bits (EXITINFO1), as a #PF's. */
#define NPF_WRITE	(1ull << 1)
#define NPF_FETCH	(1ull << 4)

#define IOPM_ORDER	2	/* 12 KiB used */
#define MSRPM_ORDER	1	/* 8 KiB */

static int svm_probe(void)
{
	u64 vm_cr;

	if (!boot_cpu_has(X86_FEATURE_SVM)) {
		pr_err("not loaded: this CPU has no AMD SVM\n");
		return -ENODEV;
	}
	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVM_DIS_MASK) {
		pr_err("not loaded: SVM is disabled by the firmware (VM_CR.SVMDIS)\n");
		return -ENODEV;
	}
	if (!boot_cpu_has(X86_FEATURE_NPT)) {
		pr_err("not loaded: SVM has no nested paging\n");
		return -ENODEV;
	}
	revirt_nasid = cpuid_ebx(SVM_CPUID_FUNC);
	if (revirt_nasid < 2) {
		pr_err("not loaded: SVM offers no guest ASID\n");
		return -ENODEV;
	}
	revirt_tlb_flush = boot_cpu_has(X86_FEATURE_FLUSHBYASID) ?
			   TLB_CONTROL_FLUSH_ASID : TLB_CONTROL_FLUSH_ALL_ASID;
	return 0;
}

static int svm_init(void)
{
	revirt_iopm = alloc_pages(GFP_KERNEL, IOPM_ORDER);
	revirt_msrpm = alloc_pages(GFP_KERNEL, MSRPM_ORDER);
	if (!revirt_iopm || !revirt_msrpm) {
		if (revirt_iopm)
			__free_pages(revirt_iopm, IOPM_ORDER);
		if (revirt_msrpm)
			__free_pages(revirt_msrpm, MSRPM_ORDER);
		return -ENOMEM;
	}
	memset(page_address(revirt_iopm), 0xff, PAGE_SIZE << IOPM_ORDER);
	memset(page_address(revirt_msrpm), 0xff, PAGE_SIZE << MSRPM_ORDER);
	return 0;
}

static void svm_exit(void)
{
	__free_pages(revirt_iopm, IOPM_ORDER);
	__free_pages(revirt_msrpm, MSRPM_ORDER);
	ida_destroy(&revirt_asids);
}

static void svm_cpu_free(struct revirt_svm_cpu *c)
{
	if (c->hsave)
		__free_page(c->hsave);
	if (c->host_save)
		__free_page(c->host_save);
	c->hsave = NULL;
	c->host_save = NULL;
}

/* cpuhp callback, on the CPU itself. */
static int svm_cpu_on(unsigned int cpu)
{
	struct revirt_svm_cpu *c = per_cpu_ptr(&revirt_svm_cpus, cpu);
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		pr_err("not loaded: another hypervisor owns SVM (EFER.SVME is set on CPU %u: kvm_amd with a VM?)\n",
		       cpu);
		return -EBUSY;
	}
	c->hsave = alloc_pages_node(cpu_to_node(cpu), GFP_KERNEL | __GFP_ZERO,
				    0);
	c->host_save = alloc_pages_node(cpu_to_node(cpu),
					GFP_KERNEL | __GFP_ZERO, 0);
	if (!c->hsave || !c->host_save) {
		svm_cpu_free(c);
		return -ENOMEM;
	}
	if (revirt_has_tsc_aux())
		rdmsrl(MSR_TSC_AUX, c->host_tsc_aux);
	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(c->hsave));
	c->on = true;
	return 0;
}

static int svm_cpu_off(unsigned int cpu)
{
	struct revirt_svm_cpu *c = per_cpu_ptr(&revirt_svm_cpus, cpu);
	u64 efer;

	if (!c->on)
		return 0;
	wrmsrl(MSR_VM_HSAVE_PA, 0);
	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	svm_cpu_free(c);
	c->on = false;
	return 0;
}

/* The intercepts every vCPU has: whatever would reach the host. */
static const int svm_intercepts[] = {
	INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_CPUID, INTERCEPT_HLT,
	INTERCEPT_INVLPGA, INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT,
	INTERCEPT_SHUTDOWN, INTERCEPT_VMRUN, INTERCEPT_VMMCALL,
	INTERCEPT_VMLOAD, INTERCEPT_VMSAVE, INTERCEPT_STGI, INTERCEPT_CLGI,
	INTERCEPT_SKINIT, INTERCEPT_MONITOR, INTERCEPT_MWAIT,
	INTERCEPT_XSETBV,
};

static void svm_vmcb_init(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb_control_area *c = &s->vmcb->control;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(svm_intercepts); i++)
		svm_intercept(s->vmcb, svm_intercepts[i], true);
	/* RDTSCP runs in the guest with its TSC_AUX, else it is #UD. */
	svm_intercept(s->vmcb, INTERCEPT_RDTSCP, !revirt_has_tsc_aux());
	c->iopm_base_pa = page_to_phys(revirt_iopm);
	c->msrpm_base_pa = page_to_phys(revirt_msrpm);
	c->asid = s->asid;
	/* The guest's IF masks only virtual interrupts, never the host's. */
	c->int_ctl = V_INTR_MASKING_MASK;
	c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	c->nested_cr3 = __pa(to_svm_vm(v->vm)->npt_root);
	c->tsc_offset = to_svm_vm(v->vm)->tsc_offset[v->id];
}

static int svm_vcpu_init(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s;
	int asid;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	s->vmcb = (struct vmcb *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!s->vmcb) {
		kfree(s);
		return -ENOMEM;
	}
	s->vmcb_pa = __pa(s->vmcb);
	/* The last ASID is shared by those that find none free. */
	asid = ida_alloc_range(&revirt_asids, 1, revirt_nasid - 2, GFP_KERNEL);
	s->own_asid = asid > 0;
	s->asid = asid > 0 ? asid : revirt_nasid - 1;
	s->last_cpu = -1;
	v->arch = s;
	svm_vmcb_init(v);
	revirt_svm_reset(v);
	return 0;
}

static void svm_vcpu_free(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);

	to_svm_vm(v->vm)->tsc_offset[v->id] = s->vmcb->control.tsc_offset;
	if (s->own_asid)
		ida_free(&revirt_asids, s->asid);
	free_page((unsigned long)s->vmcb);
	kfree(s);
	v->arch = NULL;
}

static bool svm_shadow(struct vmcb *vmcb)
{
	return vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK;
}

static bool svm_if(struct vmcb *vmcb)
{
	return vmcb->save.rflags & X86_EFLAGS_IF;
}

/*
 * Put the most urgent pending event in EVENTINJ, and ask for the exits
 * that let the others in later: a virtual interrupt (VINTR) for an
 * interrupt the guest's IF holds back, IRET for a masked NMI.
 */
static void svm_inject(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct revirt_pending *p = &v->pending;
	struct vmcb *vmcb = s->vmcb;
	u32 inj = 0;
	bool window;

	s->injected = REVIRT_SVM_INJ_NONE;
	if (p->exception) {
		/* Past the INT3, as its own #BP would have pushed. */
		if (p->exception_int3)
			vmcb->save.rip++;
		p->exception_int3 = false;
		inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT |
		      p->exception_vector |
		      (p->exception_has_error ? SVM_EVTINJ_VALID_ERR : 0);
		vmcb->control.event_inj_err = p->exception_error;
		s->injected = REVIRT_SVM_INJ_EXCEPTION;
	} else if (p->nmi && !s->nmi_masked && !svm_shadow(vmcb)) {
		inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI | X86_TRAP_NMI;
		s->injected = REVIRT_SVM_INJ_NMI;
	} else if (p->extint && svm_if(vmcb) && !svm_shadow(vmcb)) {
		inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | p->extint_vector;
		s->injected = REVIRT_SVM_INJ_EXTINT;
	}
	vmcb->control.event_inj = inj;

	window = s->want_window ||
		 (p->extint && s->injected != REVIRT_SVM_INJ_EXTINT);
	if (window)
		vmcb->control.int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK;
	else
		vmcb->control.int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK);
	svm_intercept(vmcb, INTERCEPT_VINTR, window);
	svm_intercept(vmcb, INTERCEPT_IRET, s->nmi_masked ||
		      s->injected == REVIRT_SVM_INJ_NMI);
}

/* Flush this vCPU's ASID when its translations may be stale here. */
static void svm_prepare_tlb(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	s64 gen = atomic64_read(&to_svm_vm(v->vm)->npt_gen);
	int cpu = smp_processor_id();

	s->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	if (!s->own_asid || s->last_cpu != cpu || s->npt_gen != gen)
		s->vmcb->control.tlb_ctl = revirt_tlb_flush;
	s->last_cpu = cpu;
	s->npt_gen = gen;
}

static inline void svm_clgi(void)
{
	asm volatile("clgi" ::: "memory");
}

static inline void svm_stgi(void)
{
	asm volatile("stgi" ::: "memory");
}

static inline void svm_vmsave(u64 pa)
{
	asm volatile("vmsave %%rax" :: "a" (pa) : "memory");
}

/*
 * One VMRUN.  GIF is clear from before the host's state is saved until it
 * is back, so no interrupt or NMI runs on a half-switched CPU; IF is set
 * across VMRUN because with V_INTR_MASKING the host's IF at VMRUN decides
 * whether a physical interrupt ends guest mode (kicks need it to).
 */
static void svm_enter(struct revirt_vcpu *v)
{
	struct revirt_svm_cpu *c = this_cpu_ptr(&revirt_svm_cpus);
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb *vmcb = s->vmcb;
	struct revirt_svm_host_dr hdr;
	bool xcr0_moved, tsc_aux;
	u64 xcr0;

	svm_prepare_tlb(v);
	svm_inject(v);
	vmcb->save.rax = v->gpr[0];
	vmcb->save.rsp = v->gpr[4];
	vmcb->control.clean = 0;	/* no clean-bit tracking: reload all */
	revirt_svm_debug_enter(v, &hdr);

	svm_clgi();
	xcr0 = revirt_xcr0_guest(v, vmcb->save.cr4 & X86_CR4_OSXSAVE);
	/*
	 * TSC_AUX is the guest's for RDTSCP, the host's again before
	 * anything on this CPU can read it (getcpu in user space).
	 */
	tsc_aux = revirt_has_tsc_aux() && v->msr.tsc_aux != c->host_tsc_aux;
	if (tsc_aux)
		wrmsrl(MSR_TSC_AUX, v->msr.tsc_aux);
	svm_vmsave(page_to_phys(c->host_save));
	raw_local_irq_enable();
	revirt_svm_vmrun(v->gpr, s->vmcb_pa, page_to_phys(c->host_save));
	raw_local_irq_disable();
	if (tsc_aux)
		wrmsrl(MSR_TSC_AUX, c->host_tsc_aux);
	xcr0_moved = revirt_xcr0_host(v, xcr0);
	svm_stgi();

	if (xcr0_moved)
		pr_info_once("XCR0 changed in guest mode without an XSETBV intercept (an emulated SVM?): taken as the guest's\n");

	revirt_svm_debug_leave(v, &hdr);
	v->gpr[0] = vmcb->save.rax;
	v->gpr[4] = vmcb->save.rsp;
}

void revirt_svm_queue_exception(struct revirt_vcpu *v, u8 vector,
				bool has_error, u32 error)
{
	v->pending.exception = true;
	v->pending.exception_vector = vector;
	v->pending.exception_has_error = has_error;
	v->pending.exception_error = error;
}

/* What the last EVENTINJ and the exit's interrupt info say was taken. */
static void svm_events_after_exit(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct revirt_pending *p = &v->pending;
	u32 ii = s->vmcb->control.exit_int_info;
	u32 type = ii & SVM_EXITINTINFO_TYPE_MASK;
	bool again = false;

	s->vmcb->control.event_inj = 0;
	if (ii & SVM_EXITINTINFO_VALID)
		again = (s->injected == REVIRT_SVM_INJ_EXCEPTION &&
			 type == SVM_EXITINTINFO_TYPE_EXEPT) ||
			(s->injected == REVIRT_SVM_INJ_NMI &&
			 type == SVM_EXITINTINFO_TYPE_NMI) ||
			(s->injected == REVIRT_SVM_INJ_EXTINT &&
			 type == SVM_EXITINTINFO_TYPE_INTR);
	if (!again) {
		/* Delivered: no longer pending. */
		if (s->injected == REVIRT_SVM_INJ_EXCEPTION)
			p->exception = false;
		else if (s->injected == REVIRT_SVM_INJ_EXTINT)
			p->extint = false;
		else if (s->injected == REVIRT_SVM_INJ_NMI) {
			p->nmi = false;
			s->nmi_masked = true;
		}
	}
	s->injected = REVIRT_SVM_INJ_NONE;
	if (!(ii & SVM_EXITINTINFO_VALID) || again)
		return;
	/*
	 * The guest's own event whose delivery the exit interrupted: it is
	 * pending again.  A software interrupt (INTn, INT3, INTO) is not: its
	 * instruction has not retired and runs again.
	 */
	if (type == SVM_EXITINTINFO_TYPE_INTR) {
		p->extint = true;
		p->extint_vector = ii & SVM_EXITINTINFO_VEC_MASK;
	} else if (type == SVM_EXITINTINFO_TYPE_NMI) {
		p->nmi = true;
	} else if (type == SVM_EXITINTINFO_TYPE_EXEPT &&
		   (ii & SVM_EXITINTINFO_VEC_MASK) != X86_TRAP_BP &&
		   (ii & SVM_EXITINTINFO_VEC_MASK) != X86_TRAP_OF) {
		revirt_svm_queue_exception(v, ii & SVM_EXITINTINFO_VEC_MASK,
					   ii & SVM_EXITINTINFO_VALID_ERR,
					   s->vmcb->control.exit_int_info_err);
	}
}

/* Past an instruction the CPU did not run: its interrupt shadow ends too. */
static void svm_set_rip(struct revirt_vcpu *v, u64 rip)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	vmcb->save.rip = rip;
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	revirt_debug_insn_done(v);
}

void revirt_svm_skip(struct revirt_vcpu *v, unsigned int len)
{
	svm_set_rip(v, to_svm(v)->vmcb->save.rip + len);
}

static void svm_cpuid(struct revirt_vcpu *v)
{
	u32 fn = v->gpr[0], idx = v->gpr[1];
	struct revirt_cpuid_entry out;

	fn = revirt_cpuid_guest(v, fn, idx, &out);
	revirt_xsave_cpuid_fixup(v, fn, idx, to_svm(v)->vmcb->save.cr4, &out);
	v->gpr[0] = out.eax;
	v->gpr[3] = out.ebx;
	v->gpr[1] = out.ecx;
	v->gpr[2] = out.edx;
	revirt_svm_skip(v, 2);
}

static void svm_msr(struct revirt_vcpu *v, bool write)
{
	u32 index = v->gpr[1];
	u64 value = (v->gpr[2] << 32) | (u32)v->gpr[0];
	int r;

	if (write) {
		r = revirt_svm_msr_set(v, index, value, true);
	} else {
		r = revirt_svm_msr_get(v, index, &value, true);
		if (!r) {
			v->gpr[0] = (u32)value;
			v->gpr[2] = value >> 32;
		}
	}
	if (r)
		revirt_svm_queue_exception(v, X86_TRAP_GP, true, 0);
	else
		revirt_svm_skip(v, 2);
}

/*
 * XSETBV, checked as the CPU checks it for the guest's CPUID: #UD without
 * CR4.OSXSAVE, #GP at CPL > 0, for an XCR other than 0 or a value XCR0
 * cannot take.
 */
static void svm_xsetbv(struct revirt_vcpu *v)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;
	u64 value = (v->gpr[2] << 32) | (u32)v->gpr[0];

	if (!revirt_xcr0_supported || !(vmcb->save.cr4 & X86_CR4_OSXSAVE)) {
		revirt_svm_queue_exception(v, X86_TRAP_UD, false, 0);
		return;
	}
	if (vmcb->save.cpl || (u32)v->gpr[1] != XCR_XFEATURE_ENABLED_MASK ||
	    !revirt_xcr0_valid(value, v->xcr0_mask)) {
		revirt_svm_queue_exception(v, X86_TRAP_GP, true, 0);
		return;
	}
	v->xcr0 = value;
	if (boot_cpu_has(X86_FEATURE_NRIPS) && vmcb->control.next_rip)
		svm_set_rip(v, vmcb->control.next_rip);
	else
		revirt_svm_skip(v, 3);		/* 0f 01 d1 */
}

/* HLT: the guest sleeps only if no event can wake it right away. */
static enum revirt_exit_kind svm_hlt(struct revirt_vcpu *v)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct revirt_pending *p = &v->pending;

	revirt_svm_skip(v, 1);
	if (p->exception || (p->nmi && !s->nmi_masked) ||
	    (p->extint && svm_if(s->vmcb)))
		return REVIRT_X_RESUME;
	return REVIRT_X_HLT;
}

static void svm_io(struct vmcb *vmcb, struct revirt_exit *x)
{
	u64 info = vmcb->control.exit_info_1;

	x->kind = REVIRT_X_IO;
	x->io.port = info >> 16;
	x->io.in = info & SVM_IOIO_TYPE_MASK;
	x->io.string = info & SVM_IOIO_STR_MASK;
	x->io.rep = info & SVM_IOIO_REP_MASK;
	x->io.size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;
	/* 0 from QEMU's emulated SVM: revirt-vcpu.c reads the prefixes */
	x->io.addr_size = 2 * ((info & SVM_IOIO_ASIZE_MASK) >>
			       SVM_IOIO_ASIZE_SHIFT);
	x->io.next_rip = vmcb->control.exit_info_2;
}

static void svm_handle_exit(struct revirt_vcpu *v, struct revirt_exit *x)
{
	struct revirt_svm_vcpu *s = to_svm(v);
	struct vmcb *vmcb = s->vmcb;
	u32 code = vmcb->control.exit_code;

	if (trace_exits)
		pr_info("exit %#x info1 %#llx info2 %#llx rip %#llx ii %#x\n",
			code, vmcb->control.exit_info_1,
			vmcb->control.exit_info_2, vmcb->save.rip,
			vmcb->control.exit_int_info);
	svm_events_after_exit(v);
	memset(x, 0, sizeof(*x));
	x->kind = REVIRT_X_RESUME;
	switch (code) {
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
		break;	/* the host took it when interrupts came back on */
	case SVM_EXIT_VINTR:
		vmcb->control.int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK);
		svm_intercept(vmcb, INTERCEPT_VINTR, false);
		x->kind = REVIRT_X_IRQ_WINDOW;
		break;
	case SVM_EXIT_IRET:
		s->nmi_masked = false;
		svm_intercept(vmcb, INTERCEPT_IRET, false);
		break;
	case SVM_EXIT_CPUID:
		svm_cpuid(v);
		break;
	case SVM_EXIT_MSR:
		svm_msr(v, vmcb->control.exit_info_1);
		break;
	case SVM_EXIT_HLT:
		x->kind = svm_hlt(v);
		break;
	case SVM_EXIT_XSETBV:
		svm_xsetbv(v);
		break;
	case SVM_EXIT_IOIO:
		svm_io(vmcb, x);
		break;
	case SVM_EXIT_NPF:
		x->kind = REVIRT_X_NPF;
		x->npf.gpa = vmcb->control.exit_info_2;
		x->npf.write = vmcb->control.exit_info_1 & NPF_WRITE;
		x->npf.fetch = vmcb->control.exit_info_1 & NPF_FETCH;
		break;
	case SVM_EXIT_SHUTDOWN:
		x->kind = REVIRT_X_SHUTDOWN;
		break;
	case SVM_EXIT_EXCP_BASE + X86_TRAP_DB:
	case SVM_EXIT_EXCP_BASE + X86_TRAP_BP:
		revirt_svm_debug_exit(v, code - SVM_EXIT_EXCP_BASE, x);
		break;
	case SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR7:
	case SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR7:
		revirt_svm_mov_dr(v, code);
		break;
	case SVM_EXIT_VMRUN: case SVM_EXIT_VMMCALL: case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE: case SVM_EXIT_STGI: case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT: case SVM_EXIT_RDTSCP: case SVM_EXIT_INVLPGA:
	case SVM_EXIT_MONITOR: case SVM_EXIT_MWAIT:
		/* Nothing the guest was offered: #UD, as without SVM. */
		revirt_svm_queue_exception(v, X86_TRAP_UD, false, 0);
		break;
	case SVM_EXIT_ERR:
		x->kind = REVIRT_X_ENTRY_FAILED;
		x->data[0] = vmcb->control.exit_code;
		break;
	default:
		x->kind = REVIRT_X_UNHANDLED;
		x->data[0] = code;
		x->data[1] = vmcb->control.exit_info_1;
	}
}

static void svm_fill_run(struct revirt_vcpu *v, struct revirt_run *run)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	run->if_flag = svm_if(vmcb);
	run->ready_for_interrupt = svm_if(vmcb) && !svm_shadow(vmcb) &&
				   !v->pending.extint;
	run->cr8 = vmcb->control.int_ctl & V_TPR_MASK;
}

static void svm_set_irq_window(struct revirt_vcpu *v, bool on)
{
	struct vmcb *vmcb = to_svm(v)->vmcb;

	to_svm(v)->want_window = on;
	/* The VMM's local APIC TPR, for the guest's CR8. */
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) |
				(READ_ONCE(v->run->cr8) & V_TPR_MASK);
}

static u64 svm_rip(struct revirt_vcpu *v)
{
	return to_svm(v)->vmcb->save.rip;
}

static u64 svm_rflags(struct revirt_vcpu *v)
{
	return to_svm(v)->vmcb->save.rflags;
}

static void svm_set_rflags(struct revirt_vcpu *v, u64 rflags)
{
	to_svm(v)->vmcb->save.rflags = rflags | X86_EFLAGS_FIXED;
}

static void svm_cpu_mode(struct revirt_vcpu *v, struct revirt_cpu_mode *m)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;

	*m = (struct revirt_cpu_mode){
		.cr0 = sa->cr0, .cr3 = sa->cr3, .cr4 = sa->cr4,
		.efer = sa->efer, .cpl = sa->cpl,
		.cs_db = sa->cs.attrib & SVM_SELECTOR_DB_MASK,
		.cs_l = sa->cs.attrib & SVM_SELECTOR_L_MASK,
	};
}

static u64 svm_seg_base(struct revirt_vcpu *v, int seg)
{
	struct vmcb_save_area *sa = &to_svm(v)->vmcb->save;
	const struct vmcb_seg *segs[] = { &sa->es, &sa->cs, &sa->ss, &sa->ds,
					  &sa->fs, &sa->gs };

	return segs[seg]->base;
}

const struct revirt_arch_ops revirt_svm_ops = {
	.name = "AMD SVM with nested paging",
	.probe = svm_probe,
	.init = svm_init,
	.exit = svm_exit,
	.cpu_on = svm_cpu_on,
	.cpu_off = svm_cpu_off,
	.vm_init = revirt_svm_vm_init,
	.vm_free = revirt_svm_vm_free,
	.npt_set = revirt_svm_npt_set,
	.npt_clear = revirt_svm_npt_clear,
	.npt_protect = revirt_svm_npt_protect,
	.npt_flush = revirt_svm_npt_flush,
	.vcpu_init = svm_vcpu_init,
	.vcpu_free = svm_vcpu_free,
	.enter = svm_enter,
	.handle_exit = svm_handle_exit,
	.fill_run = svm_fill_run,
	.set_irq_window = svm_set_irq_window,
	.rip = svm_rip,
	.set_rip = svm_set_rip,
	.rflags = svm_rflags,
	.set_rflags = svm_set_rflags,
	.cpu_mode = svm_cpu_mode,
	.seg_base = svm_seg_base,
	.set_guest_debug = revirt_svm_set_guest_debug,
	.dr7 = revirt_svm_dr7,
	.state_classes = REVIRT_SVM_STATE_CLASSES,
	.msr_indices = revirt_svm_msr_indices,
	.get_state = revirt_svm_get_state,
	.set_state = revirt_svm_set_state,
};
