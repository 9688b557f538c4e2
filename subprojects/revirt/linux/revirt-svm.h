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
	u64 dr[4];
};

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
