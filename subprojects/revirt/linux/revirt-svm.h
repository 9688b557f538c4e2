/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt.ko: the AMD SVM backend's own objects.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_SVM_H
#define REVIRT_SVM_H

#include <linux/atomic.h>
#include <asm/svm.h>

#include "revirt-int.h"

struct revirt_svm_vm {
	u64 *npt_root;		/* four-level nested page table, 4 KiB pages */
	/* Bumped when NPT entries go away: vCPUs flush their ASID. */
	atomic64_t npt_gen;
	/* Each vCPU id's TSC offset, kept across hot-unplug and plug. */
	u64 tsc_offset[REVIRT_MAX_VCPUS];
};

/* What enter() put in EVENTINJ, to tell at the exit if it was taken. */
enum revirt_svm_injected {
	REVIRT_SVM_INJ_NONE,
	REVIRT_SVM_INJ_EXCEPTION,
	REVIRT_SVM_INJ_NMI,
	REVIRT_SVM_INJ_EXTINT,
};

struct revirt_svm_vcpu {
	struct vmcb *vmcb;
	u64 vmcb_pa;
	u32 asid;
	bool own_asid;		/* else the shared one: flush at every entry */
	int last_cpu;
	s64 npt_gen;
	enum revirt_svm_injected injected;
	bool nmi_masked;	/* in the guest's NMI handler, until its IRET */
	bool want_window;	/* the VMM asked for IRQ_WINDOW */
	/* The guest's debug registers (the VMCB's DR6/DR7 may be ours). */
	u64 dr[4], dr6, dr7;
	bool tf_added;		/* single-step: RFLAGS.TF is the driver's */
};

/* The host's debug registers, kept across one guest entry. */
struct revirt_svm_host_dr {
	unsigned long dr[4], dr6, dr7;
};

static inline void svm_intercept(struct vmcb *vmcb, int bit, bool on)
{
	if (on)
		vmcb->control.intercepts[bit / 32] |= 1u << (bit % 32);
	else
		vmcb->control.intercepts[bit / 32] &= ~(1u << (bit % 32));
}

/* revirt-svm.c */
void revirt_svm_queue_exception(struct revirt_vcpu *v, u8 vector,
				bool has_error, u32 error);
void revirt_svm_skip(struct revirt_vcpu *v, unsigned int len);

/* revirt-svm-debug.c */
void revirt_svm_set_guest_debug(struct revirt_vcpu *v);
u64 revirt_svm_dr7(struct revirt_vcpu *v);
void revirt_svm_debug_enter(struct revirt_vcpu *v,
			    struct revirt_svm_host_dr *h);
void revirt_svm_debug_leave(struct revirt_vcpu *v,
			    const struct revirt_svm_host_dr *h);
void revirt_svm_debug_exit(struct revirt_vcpu *v, u32 vector,
			   struct revirt_exit *x);
void revirt_svm_mov_dr(struct revirt_vcpu *v, u32 code);

/* revirt-svm-npt.c */
int revirt_svm_vm_init(struct revirt_vm *vm);
void revirt_svm_vm_free(struct revirt_vm *vm);
int revirt_svm_npt_set(struct revirt_vm *vm, u64 gpa, u64 pfn, u32 prot);
void revirt_svm_npt_clear(struct revirt_vm *vm, u64 gpa, u64 size);
void revirt_svm_npt_protect(struct revirt_vm *vm, u64 gpa, u64 size);
void revirt_svm_npt_flush(struct revirt_vm *vm);

/* revirt-svm-entry.S: VMLOAD, VMRUN, VMSAVE of the guest, VMLOAD host. */
void revirt_svm_vmrun(u64 *gpr, u64 vmcb_pa, u64 host_save_pa);

static inline struct revirt_svm_vm *to_svm_vm(struct revirt_vm *vm)
{
	return vm->arch;
}

static inline struct revirt_svm_vcpu *to_svm(struct revirt_vcpu *v)
{
	return v->arch;
}

#endif /* REVIRT_SVM_H */
