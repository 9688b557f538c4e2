/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt.ko: SVM vCPU state: reset, the state classes, MSRs.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_SVM_STATE_H
#define REVIRT_SVM_STATE_H

#include "revirt-int.h"

#define REVIRT_SVM_STATE_CLASSES \
	(REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS | REVIRT_STATE_CONTROL | \
	 REVIRT_STATE_DTABLES | REVIRT_STATE_EVENTS | \
	 REVIRT_STATE_DEBUGREGS | REVIRT_STATE_TSC | REVIRT_STATE_MSRS)

void revirt_svm_reset(struct revirt_vcpu *v);
int revirt_svm_get_state(struct revirt_vcpu *v, struct revirt_vcpu_state *st);
int revirt_svm_set_state(struct revirt_vcpu *v,
			 const struct revirt_vcpu_state *st);
void revirt_svm_msr_indices(struct revirt_msr_index_list *l);
/* 0, or -EINVAL for an MSR the guest gets #GP for. */
int revirt_svm_msr_get(struct revirt_vcpu *v, u32 index, u64 *value,
		       bool guest);
int revirt_svm_msr_set(struct revirt_vcpu *v, u32 index, u64 value,
		       bool guest);

#endif /* REVIRT_SVM_STATE_H */
