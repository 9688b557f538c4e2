/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt.ko: what a CPU virtualization backend provides.
 *
 * The common code (handles, memory maps and pinning, the run loop, I/O and
 * fault handling) knows nothing of SVM.  A backend owns the hardware: it
 * turns virtualization on per CPU, keeps the second-level page tables and
 * each vCPU's control block, enters the guest once per enter() and reports
 * the exits it does not handle itself as a struct revirt_exit.  AMD SVM is
 * revirt-svm.c; VMX would be one more file of these ops.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_ARCH_H
#define REVIRT_ARCH_H

#include "revirt-int.h"

struct revirt_arch_ops {
	const char *name;

	/* Can this machine run it?  0, or one pr_err line and an error. */
	int (*probe)(void);
	/* Set up and tear down the shared pages (I/O and MSR maps). */
	int (*init)(void);
	void (*exit)(void);
	/* Virtualization on/off on one CPU (cpuhp callbacks). */
	int (*cpu_on)(unsigned int cpu);
	int (*cpu_off)(unsigned int cpu);

	/* Second-level page tables: one 4 KiB page at a time. */
	int (*vm_init)(struct revirt_vm *vm);
	void (*vm_free)(struct revirt_vm *vm);
	int (*npt_set)(struct revirt_vm *vm, u64 gpa, u64 pfn, u32 prot);
	/* Clear [gpa, gpa + size); the caller flushes before unpinning. */
	void (*npt_clear)(struct revirt_vm *vm, u64 gpa, u64 size);
	/* Make [gpa, gpa + size) read-only (dirty logging); flush after. */
	void (*npt_protect)(struct revirt_vm *vm, u64 gpa, u64 size);
	/* Make every vCPU drop its cached translations before it enters. */
	void (*npt_flush)(struct revirt_vm *vm);

	int (*vcpu_init)(struct revirt_vcpu *v);
	void (*vcpu_free)(struct revirt_vcpu *v);

	/*
	 * One guest entry.  Called with preemption and interrupts disabled,
	 * returns so after the exit.
	 */
	void (*enter)(struct revirt_vcpu *v);
	/*
	 * Decode the last exit (preemptible), handling what needs no one
	 * else (CPUID, MSRs, ...) and leaving the rest in *x.
	 */
	void (*handle_exit)(struct revirt_vcpu *v, struct revirt_exit *x);

	/* The parts of run the backend knows (IF, interrupt readiness). */
	void (*fill_run)(struct revirt_vcpu *v, struct revirt_run *run);
	/* Ask for an IRQ_WINDOW exit at the next chance (or stop asking). */
	void (*set_irq_window)(struct revirt_vcpu *v, bool on);

	u64 (*rip)(struct revirt_vcpu *v);
	void (*set_rip)(struct revirt_vcpu *v, u64 rip);
	u64 (*rflags)(struct revirt_vcpu *v);
	void (*set_rflags)(struct revirt_vcpu *v, u64 rflags);
	u64 (*seg_base)(struct revirt_vcpu *v, int seg);	/* ES CS SS DS FS GS */
	void (*cpu_mode)(struct revirt_vcpu *v, struct revirt_cpu_mode *m);

	/* v->debug changed: intercept what it needs, at the next entry. */
	void (*set_guest_debug)(struct revirt_vcpu *v);
	/* The DR7 in effect in the guest (the debugger's with HW_BP). */
	u64 (*dr7)(struct revirt_vcpu *v);

	u64 state_classes;	/* REVIRT_STATE_* get_state/set_state do */
	/* The MSRs REVIRT_STATE_MSRS gets and sets. */
	void (*msr_indices)(struct revirt_msr_index_list *l);
	int (*get_state)(struct revirt_vcpu *v, struct revirt_vcpu_state *st);
	int (*set_state)(struct revirt_vcpu *v,
			 const struct revirt_vcpu_state *st);
};

extern const struct revirt_arch_ops revirt_svm_ops;

#endif /* REVIRT_ARCH_H */
